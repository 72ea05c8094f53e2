/**
 * `npm run bench [-- --quick] [-- --json PATH] [-- --suite NAME]`: runs every `bench/*.bench.ts`
 * suite, prints a table and writes machine-readable JSON. Exits 1 when a regression check fails,
 * naming the suite and the figures.
 *
 * Run with `--expose-gc` (the npm script does) so heap figures are taken after full GCs.
 */
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmt, type BenchContext, type SuiteResult } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes('--quick') || process.env.CI === 'true';
const full = argv.includes('--full');
const jsonIdx = argv.indexOf('--json');
const jsonPath = jsonIdx >= 0 ? argv[jsonIdx + 1] : join(here, 'results', 'latest.json');
const suiteFilter = argv.flatMap((a, i) => (a === '--suite' ? [argv[i + 1] ?? ''] : []));
const ctx: BenchContext = { quick: quick && !full, taskTimeMs: quick && !full ? 300 : 1500 };

if (!(globalThis as { gc?: unknown }).gc) {
  console.warn('bench: --expose-gc is not set; heap figures will be approximate');
}

const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => suiteFilter.length === 0 || suiteFilter.some((s) => f.startsWith(s)))
  .sort();

const results: SuiteResult[] = [];
let failed = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as {
    run: (c: BenchContext) => Promise<SuiteResult>;
  };
  const t0 = Date.now();
  const res = await mod.run(ctx);
  results.push(res);
  console.log(`\n## ${res.suite}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const w = Math.max(10, ...res.figures.map((x) => x.name.length));
  for (const fig of res.figures) {
    console.log(`  ${fig.name.padEnd(w)}  ${fmt(fig.value).padStart(10)} ${fig.unit}${fig.note ? '  ' + fig.note : ''}`);
  }
  for (const c of res.checks) {
    const ok = (c.min === undefined || c.value >= c.min) && (c.max === undefined || c.value <= c.max);
    if (!ok) failed++;
    const bound = [c.min !== undefined ? `>= ${c.min}` : '', c.max !== undefined ? `<= ${c.max}` : '']
      .filter(Boolean)
      .join(' and ');
    console.log(`  ${ok ? 'PASS' : 'FAIL'} ${res.suite}/${c.name}: ${fmt(c.value)} (needs ${bound}) ${c.detail}`);
  }
}

if (jsonPath) {
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    JSON.stringify({ date: new Date().toISOString(), node: process.version, quick: ctx.quick, results }, null, 2),
  );
  console.log(`\nbench: JSON written to ${jsonPath}`);
}
if (failed > 0) {
  console.error(`bench: ${failed} regression check(s) failed`);
  process.exit(1);
}
