/**
 * Whole-pipeline scenarios that once failed (found by the property test or the fuzzer), kept so
 * they keep passing. Each comment says what was wrong.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { runScenario, type Scenario } from '../../support/pipeline-scenario.js';

const cases: Array<[string, Scenario]> = [
  [
    'lost tail of the last frame with no later packet (needed KEEPALIVE nextSeq + fence)',
    { seed: 32152, loss: 0, burst: { p: 0.012842751444898328, r: 0.05 }, delayMs: 0, jitterMs: 0, reorder: 0, duplicate: 0, latencyMs: 40, fec: { window: 1, step: 1, repairs: 1 }, arq: false, sizes: [0, 0, 0, 6661], intervalMs: 5 },
  ],
  [
    'a retransmission arriving after its own deadline was delivered late (now dropped as late)',
    { seed: 0, loss: 0.20158978692032484, burst: undefined, delayMs: 20, jitterMs: 19, reorder: 0, duplicate: 0, latencyMs: 130, fec: false, arq: true, sizes: [0, 0, 4081, 14961, 16321, 17681, 21761, 0, 0, 1361], intervalMs: 42 },
  ],
  [
    'a FEC recovery completed after its deadline was delivered late (now dropped as late)',
    { seed: 0, loss: 0, burst: { p: 0.004961466293250672, r: 0.05 }, delayMs: 0, jitterMs: 0, reorder: 0, duplicate: 0, latencyMs: 40, fec: { window: 3, step: 2, repairs: 3 }, arq: false, sizes: [21313, 7993, 0, 0, 0, 0], intervalMs: 28 },
  ],
];

// Failures the fuzzer found (fuzz/pipeline.fuzz.ts writes them there) run here too.
const failuresDir = join(import.meta.dirname, '..', '..', '..', 'fuzz', 'failures');
for (const f of readdirSync(failuresDir).filter((n) => n.startsWith('pipeline-') && n.endsWith('.json')).sort()) {
  const kept = JSON.parse(readFileSync(join(failuresDir, f), 'utf8')) as { scenario: Scenario };
  cases.push([`fuzz/failures/${f}`, kept.scenario]);
}

describe('pipeline regressions', () => {
  it.each(cases)('%s', (_name, s) => runScenario(s));
});
