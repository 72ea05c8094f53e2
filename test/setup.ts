/**
 * Global test setup: fast-check runs with a fixed seed in CI (override with FC_SEED=N to
 * explore), so every run is reproducible; fast-check prints the seed and the shrunk
 * counterexample path on failure.
 */
import fc from 'fast-check';

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 0x5eed_2026;
fc.configureGlobal({ seed, numRuns: 1000, endOnFailure: false });
