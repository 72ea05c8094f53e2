/**
 * `npm run fuzz [-- --long] [-- --seed N] [-- --target NAME] [-- --path P] [-- --minutes M]`:
 * runs every `fuzz/*.fuzz.ts` target. CI runs the bounded default budget; `--long` runs each
 * target for its long budget (or `--minutes`). A target throws (and the runner exits 1) when its
 * oracle fails; it prints the seed and path to replay.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FuzzContext } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const long = argv.includes('--long');
const seedArg = arg('--seed');
const minutes = arg('--minutes');
const ctx: FuzzContext = {
  long,
  seed: seedArg !== undefined ? Number(seedArg) : long ? (Date.now() ^ (process.pid << 8)) >>> 0 : 20261121,
  path: arg('--path'),
  budgetMs: minutes !== undefined ? Number(minutes) * 60_000 : undefined,
};
const only = arg('--target');

const files = readdirSync(here)
  .filter((f) => f.endsWith('.fuzz.ts'))
  .filter((f) => only === undefined || f.startsWith(only))
  .sort();
let failed = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as {
    run: (c: FuzzContext) => Promise<string>;
  };
  const t0 = Date.now();
  try {
    const summary = await mod.run(ctx);
    console.log(`fuzz ${f}: ok in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${summary}`);
  } catch (err) {
    failed++;
    console.error(`fuzz ${f}: FAILED (replay: npm run fuzz -- --target ${f.replace('.fuzz.ts', '')} --seed ${ctx.seed})`);
    console.error(err);
  }
}
if (failed > 0) process.exit(1);
