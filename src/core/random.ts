/**
 * A small seeded pseudo-random generator for the pure core and its tests.
 *
 * The core may not touch `Math.random` (STYLE.md habit 1): anything random (loss in the link
 * model, jitter, a test's traffic pattern) draws from a {@link SeededRandom} passed in, so a
 * run is reproduced exactly from its seed.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, PractRand-clean up to
 * at least 2^42 bytes), 128 bits of state in four 32-bit words, period at least 2^32 thanks to
 * the counter word. It is seeded through splitmix32 so that nearby seeds (0, 1, 2 ...) give
 * unrelated streams, then 12 outputs are discarded as the reference implementation recommends.
 *
 * Not cryptographic: never use it for keys, nonces or cookies.
 */
import { checkInt, SluiceTypeError } from './errors.js';

/** 2^32 as a float, to scale uint32 draws. */
const TWO_POW_32 = 0x1_0000_0000;
/** 2^-53: the spacing of doubles in [0.5, 1), the resolution of {@link SeededRandom.nextFloat}. */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;

/** The seed used by {@link SeededRandom} when none is given. */
export const DEFAULT_RANDOM_SEED = 1;

/** splitmix32 step (a 32-bit variant of Vigna's splitmix64 finaliser): spreads a seed. */
function _mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a label: a stable 32-bit hash, enough to name streams. */
function _hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A deterministic uint32 stream (sfc32). Same seed, same sequence, on every platform.
 *
 * - {@link SeededRandom.next}: uint32 in [0, 2^32).
 * - {@link SeededRandom.nextFloat}: double in [0, 1) with 53 random bits.
 * - {@link SeededRandom.nextInt}: unbiased integer in [0, n).
 * - {@link SeededRandom.fork}: a new independent stream, drawn from (and advancing) this one.
 * - {@link SeededRandom.derive}: a named sub-stream that depends only on this generator's seed
 *   and the label, not on how much was drawn: give each concern its own stream so that enabling
 *   one impairment does not shift the draws of another.
 *
 * No method allocates except `fork` and `derive`.
 *
 * @example
 * const rng = new SeededRandom(42);
 * const lossRng = rng.derive('loss');
 * if (lossRng.nextFloat() < 0.05) dropPacket();
 */
export class SeededRandom {
  /** The 32-bit seed this generator was created from (what {@link derive} keys on). */
  readonly seed: number;
  /**
   * sfc32 state words a, b, c, d. A typed array, not four fields: ES2022 class fields start
   * as `undefined`, which makes V8 store every later int32 outside the Smi range as a fresh
   * heap number (an allocation per draw); Int32Array elements are stored unboxed.
   */
  private readonly _s: Int32Array;
  /** Scratch for the last float drawn (see {@link _drawFloat}). */
  private readonly _f: Float64Array;

  /**
   * @param seed integer in [0, 2^32 - 1] (default {@link DEFAULT_RANDOM_SEED}).
   * @throws SluiceTypeError / SluiceRangeError when `seed` is not such an integer.
   */
  constructor(seed: number = DEFAULT_RANDOM_SEED) {
    checkInt('seed', seed, 0, 0xffff_ffff);
    this.seed = seed;
    // Four well-spread state words from the seed (splitmix32 chain); d is the counter word.
    const s0 = _mix32(seed);
    const s1 = _mix32(s0 ^ 0x6a09e667);
    const s2 = _mix32(s1 ^ 0xbb67ae85);
    this._s = new Int32Array(4);
    this._f = new Float64Array(1);
    this._s[0] = s0;
    this._s[1] = s1;
    this._s[2] = s2;
    this._s[3] = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Next uint32 in [0, 2^32). */
  next(): number {
    // sfc32: a += b... with a 32-bit counter in d, as in PractRand's reference.
    const s = this._s;
    const a = s[0] as number;
    const b = s[1] as number;
    const c = s[2] as number;
    const d = s[3] as number;
    const t = (((a + b) | 0) + d) | 0;
    s[3] = d + 1;
    s[0] = b ^ (b >>> 9);
    s[1] = c + (c << 3);
    s[2] = ((c << 21) | (c >>> 11)) + t;
    return t >>> 0;
  }

  /** Next double in [0, 1), uniformly spaced at 2^-53 (two uint32 draws). */
  nextFloat(): number {
    this._drawFloat();
    return this._f[0] as number;
  }

  /**
   * Allocation-free form of {@link nextFloat}: writes the same draw into `out[index]`.
   * A double returned from a call V8 does not inline is boxed (a heap number per call); a
   * hot caller that cannot rely on inlining (the link model's jitter) uses this instead.
   * @example rng.nextFloatInto(scratch, 0); const u = scratch[0];
   */
  nextFloatInto(out: Float64Array, index: number): void {
    this._drawFloat();
    out[index] = this._f[0] as number;
  }

  /**
   * Two sfc32 steps (as two {@link next} calls) combined into a 53-bit double in [0, 1),
   * written to `_f[0]`. Written out rather than calling next(): a uint32 (or a double)
   * returned across a call V8 did not inline is boxed, which made every draw allocate.
   */
  private _drawFloat(): void {
    const s = this._s;
    let a = s[0] as number;
    let b = s[1] as number;
    let c = s[2] as number;
    let d = s[3] as number;
    // Step 1 (hi: top 27 bits).
    let t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (((c << 21) | (c >>> 11)) + t) | 0;
    const hi = t >>> 5;
    // Step 2 (lo: top 26 bits).
    t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (((c << 21) | (c >>> 11)) + t) | 0;
    const lo = t >>> 6;
    s[0] = a;
    s[1] = b;
    s[2] = c;
    s[3] = d;
    this._f[0] = (hi * 67108864 + lo) * TWO_POW_MINUS_53;
  }

  /**
   * Unbiased integer in [0, n) by rejection sampling (at most a handful of draws even for the
   * worst n; on average fewer than 2).
   * @param n integer in [1, 2^32].
   * @throws SluiceRangeError when n is out of range.
   */
  nextInt(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= TWO_POW_32)) checkInt('n', n, 1, TWO_POW_32);
    // Reject the top (2^32 mod n) values so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.next();
    while (x >= limit) x = this.next();
    return x % n;
  }

  /** True with probability `p` (p <= 0 never, p >= 1 always, without drawing in either case). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    this._drawFloat();
    return (this._f[0] as number) < p;
  }

  /** Uniform double in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.nextFloat();
  }

  /**
   * A new generator seeded from this stream's next output; advances this generator by one
   * draw. Forks of forks are independent streams for any practical purpose.
   */
  fork(): SeededRandom {
    return new SeededRandom(_mix32(this.next() ^ 0x5851f42d));
  }

  /**
   * A named sub-stream: a new generator whose seed depends only on {@link seed} and `label`,
   * never on the draws made so far. `derive('loss')` twice gives two identical streams.
   * @throws SluiceTypeError when label is not a string.
   */
  derive(label: string): SeededRandom {
    if (typeof label !== 'string') throw new SluiceTypeError(`label: expected a string, got ${typeof label}`);
    return new SeededRandom(_mix32(_mix32(this.seed ^ 0x243f6a88) ^ _hashLabel(label)));
  }
}
