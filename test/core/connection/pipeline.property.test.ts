/**
 * The whole pipeline under arbitrary link behaviour (loss, bursts, delay, jitter, reordering,
 * duplication), FEC and ARQ configurations, frame sizes: a core pair under virtual time.
 * Oracle: every delivered frame is bit-exact, frames come in order and never twice, a frame not
 * delivered is reported lost before the next delivered one, nothing is delivered after its
 * deadline, and every memory account returns to zero.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { runScenario } from './pipeline-scenario.js';

const scenario = fc.record({
  seed: fc.nat({ max: 0xffff }),
  loss: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.3, noNaN: true })),
  burst: fc.option(fc.record({ p: fc.double({ min: 0.001, max: 0.05, noNaN: true }), r: fc.double({ min: 0.05, max: 0.9, noNaN: true }) }), { nil: undefined }),
  delayMs: fc.integer({ min: 0, max: 50 }),
  jitterMs: fc.integer({ min: 0, max: 20 }),
  reorder: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.1, noNaN: true })),
  duplicate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.05, noNaN: true })),
  latencyMs: fc.integer({ min: 40, max: 300 }),
  fec: fc.oneof(
    fc.constant(false as const),
    fc.record({ window: fc.integer({ min: 1, max: 64 }), step: fc.integer({ min: 1, max: 64 }), repairs: fc.integer({ min: 1, max: 3 }) }).map((f) => {
      const step = Math.min(f.step, f.window);
      // The session limit: repairs x ceil(window / step) <= 128 (spec/fec.md).
      return { window: f.window, step, repairs: Math.min(f.repairs, Math.floor(128 / Math.ceil(f.window / step))) };
    }),
  ),
  arq: fc.boolean(),
  sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 2000, max: 30_000 })), { minLength: 1, maxLength: 30 }),
  intervalMs: fc.integer({ min: 5, max: 50 }),
});

describe('pipeline property (core pair, virtual time)', () => {
  it('never delivers a wrong, duplicated, out-of-order or late frame; reports every loss; leaks nothing', () => {
    fc.assert(fc.property(scenario, runScenario), { numRuns: 100 });
  }, 300_000);
});
