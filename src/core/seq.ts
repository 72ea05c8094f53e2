/**
 * Serial-number arithmetic (RFC 1982) for 32-bit sequence numbers.
 *
 * Sequence numbers wrap at 2^32. Two numbers are compared by the sign of their difference
 * taken modulo 2^32: `a` precedes `b` when `(b - a) mod 2^32` lies in (0, 2^31). The pair at
 * distance exactly 2^31 is undefined by RFC 1982 §3.2; here it compares as "not less" in both
 * directions (`seqLt(a, b) === seqLt(b, a) === false`) and `seqDiff` returns -2^31, so that no
 * caller can be led to believe a hostile jump of 2^31 is "newer".
 *
 * Never compare raw sequence numbers with `<`: use these helpers (STYLE.md habit 3).
 *
 * All functions take and return plain numbers; inputs are expected to be integers in
 * [0, 2^32). They are branch-light and allocation-free.
 */

/** 2^32: the size of the 32-bit sequence space. */
export const SEQ_MODULUS = 0x1_0000_0000;
/** Largest 32-bit sequence number. */
export const SEQ_MAX = 0xffff_ffff;
/** Half of the sequence space: the largest distance that still orders two numbers (exclusive). */
export const SEQ_HALF = 0x8000_0000;

/**
 * Signed distance from `a` to `b` in the 32-bit space: `b - a` reduced to [-2^31, 2^31).
 * Positive when `b` is after `a`.
 * @example seqDiff(0xffff_ffff, 1) === 2
 */
export function seqDiff(a: number, b: number): number {
  // `| 0` reduces modulo 2^32 into the signed 32-bit range, exactly RFC 1982 arithmetic.
  return (b - a) | 0;
}

/** `a + n` modulo 2^32 (n may be negative). @example seqAdd(0xffff_ffff, 2) === 1 */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Next sequence number after `a`. */
export function seqNext(a: number): number {
  return (a + 1) >>> 0;
}

/** True when `a` comes strictly before `b` (RFC 1982 `s1 < s2`). */
export function seqLt(a: number, b: number): boolean {
  const d = (b - a) | 0;
  return d > 0;
}

/** True when `a` comes before or equals `b`. */
export function seqLte(a: number, b: number): boolean {
  const d = (b - a) | 0;
  return d >= 0 && d !== -0x8000_0000;
}

/** True when `a` comes strictly after `b`. */
export function seqGt(a: number, b: number): boolean {
  return seqLt(b, a);
}

/** True when `a` comes after or equals `b`. */
export function seqGte(a: number, b: number): boolean {
  return seqLte(b, a);
}

/** The later of two sequence numbers (the first one when they are 2^31 apart). */
export function seqMax(a: number, b: number): number {
  return seqLt(a, b) ? b : a;
}

/** The earlier of two sequence numbers (the first one when they are 2^31 apart). */
export function seqMin(a: number, b: number): number {
  return seqLt(b, a) ? b : a;
}

/**
 * True when `x` lies in the half-open range [start, start + count) of the sequence space.
 * `count` must be in [0, 2^31].
 */
export function seqInRange(x: number, start: number, count: number): boolean {
  return ((x - start) >>> 0) < count;
}

/**
 * Extends a 32-bit wrapped value to the unwrapped number line closest to a reference.
 * Used for timestamps: given the last unwrapped value `ref` (any safe integer) and a new
 * 32-bit wire value `wrapped`, returns the unwrapped value within 2^31 of `ref`.
 * @example unwrap32(0x1_0000_0005, 0xffff_fff0) === 0xffff_fff0
 */
export function unwrap32(ref: number, wrapped: number): number {
  const refLow = ref % SEQ_MODULUS;
  const low = refLow < 0 ? refLow + SEQ_MODULUS : refLow;
  return ref + ((wrapped - low) | 0);
}
