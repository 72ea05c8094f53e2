/**
 * The whole pipeline under arbitrary link behaviour (loss, bursts, delay, jitter, reordering,
 * duplication), FEC and ARQ configurations, frame sizes: a core pair under virtual time.
 * Oracle: every delivered frame is bit-exact, frames come in order and never twice, a frame not
 * delivered is reported lost before the next delivered one, nothing is delivered after its
 * deadline, and every memory account returns to zero.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { runScenario, scenarioArbitrary } from '../../support/pipeline-scenario.js';

describe('pipeline property (core pair, virtual time)', () => {
  it('never delivers a wrong, duplicated, out-of-order or late frame; reports every loss; leaks nothing', () => {
    fc.assert(fc.property(scenarioArbitrary, runScenario), { numRuns: 100 });
  }, 300_000);
});
