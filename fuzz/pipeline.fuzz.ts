/**
 * Loss-pattern fuzzing of the whole pipeline (core pair, virtual time): arbitrary loss (random,
 * bursts), reordering, duplication, delay and jitter, frame sizes, FEC and ARQ configurations.
 * Oracle (test/support/pipeline-scenario.ts): every delivered frame bit-exact, in order, never
 * twice; every frame not delivered reported lost; nothing delivered after its deadline; every
 * memory account back to zero.
 *
 * A failure prints the seed and path to replay (`npm run fuzz -- --target pipeline --seed N
 * --path P`) and writes the shrunk scenario to fuzz/failures/, where
 * test/core/connection/pipeline-regressions.test.ts runs it on every `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { runScenario, scenarioArbitrary } from '../test/support/pipeline-scenario.js';
import type { FuzzContext } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

export async function run(ctx: FuzzContext): Promise<string> {
  const budgetMs = ctx.budgetMs ?? (ctx.long ? 30 * 60_000 : 60_000);
  const numRuns = ctx.long ? 1_000_000 : 300;
  const t0 = Date.now();
  let runs = 0;
  const details = fc.check(
    fc.property(scenarioArbitrary, (s) => {
      runs++;
      runScenario(s);
    }),
    {
      seed: ctx.seed,
      numRuns,
      interruptAfterTimeLimit: budgetMs,
      markInterruptAsFailure: false,
      ...(ctx.path !== undefined ? { path: ctx.path } : {}),
    },
  );
  if (details.failed) {
    const ce = details.counterexample?.[0];
    const file = join(here, 'failures', `pipeline-seed${details.seed}-${Date.now()}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ seed: details.seed, path: details.counterexamplePath, scenario: ce }, null, 2) + '\n');
    throw new Error(
      `pipeline fuzz failed (seed ${details.seed}, path ${details.counterexamplePath}); kept in ${file}\n` +
        `replay: npm run fuzz -- --target pipeline --seed ${details.seed} --path ${details.counterexamplePath}\n` +
        String(details.errorInstance),
    );
  }
  return `${runs} scenarios in ${((Date.now() - t0) / 1000).toFixed(1)} s (seed ${ctx.seed}${details.interrupted ? ', stopped at the time budget' : ''})`;
}
