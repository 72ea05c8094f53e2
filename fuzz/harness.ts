/** Context passed by `fuzz/run.ts` to every `fuzz/*.fuzz.ts` target's `run(ctx)`. */
export interface FuzzContext {
  /** Long mode: `npm run fuzz -- --long` (at least 1,000,000 cases for the codec target). */
  readonly long: boolean;
  /** Seed for fast-check / the PRNG; fixed in CI, printed on failure. */
  readonly seed: number;
  /** fast-check replay path (`--path`), when replaying a reported failure. */
  readonly path: string | undefined;
  /** Time budget from `--minutes`, if given. */
  readonly budgetMs: number | undefined;
}
