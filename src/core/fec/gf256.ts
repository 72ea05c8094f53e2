/**
 * GF(2^8) arithmetic with the primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D), the field
 * used by most Reed-Solomon erasure codes (Rizzo's fec.c, klauspost/reedsolomon, Jerasure).
 * The element 2 (the polynomial x) generates the multiplicative group.
 *
 * Tables are flat typed arrays built once at module load (no per-call allocation):
 * - {@link GF_EXP}: 512 entries, `GF_EXP[i] = 2^i`, doubled so `EXP[log a + log b]` needs no mod.
 * - {@link GF_LOG}: 256 entries, `GF_LOG[a]` for a != 0 (`GF_LOG[0]` is unused and set to 0).
 * - {@link GF_MUL}: 64 KiB, `GF_MUL[(a << 8) | b] = a * b`; the plain reference kernel uses it.
 * - {@link GF_INV}: 256 entries, `GF_INV[a] = a^-1` (`GF_INV[0] = 0`, undefined mathematically).
 *
 * Addition and subtraction are XOR.
 */

/** The primitive polynomial, including the x^8 term. */
export const GF_POLY = 0x11d;

/** `GF_EXP[i] = 2^i` for i in [0, 510] (the second half repeats the first). */
export const GF_EXP: Uint8Array = new Uint8Array(512);
/** `GF_LOG[a]` = discrete log base 2 of a, for a in [1, 255]. */
export const GF_LOG: Uint8Array = new Uint8Array(256);
/** Full multiplication table, 64 KiB: `GF_MUL[(a << 8) | b] = a * b`. */
export const GF_MUL: Uint8Array = new Uint8Array(65536);
/** Multiplicative inverses: `GF_INV[a] * a = 1` for a != 0; `GF_INV[0] = 0`. */
export const GF_INV: Uint8Array = new Uint8Array(256);

function _buildTables(): void {
  let x = 1;
  for (let i = 0; i < 255; i++) {
    GF_EXP[i] = x;
    GF_EXP[i + 255] = x;
    GF_LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLY;
  }
  GF_EXP[510] = GF_EXP[0]!;
  GF_EXP[511] = GF_EXP[1]!;
  for (let a = 1; a < 256; a++) {
    const la = GF_LOG[a]!;
    for (let b = 1; b < 256; b++) GF_MUL[(a << 8) | b] = GF_EXP[la + GF_LOG[b]!]!;
    GF_INV[a] = GF_EXP[255 - la]!;
  }
}
_buildTables();

/** a * b in GF(2^8). Inputs are bytes (0..255). @example gfMul(2, 0x80) === 0x1d */
export function gfMul(a: number, b: number): number {
  return GF_MUL[((a & 0xff) << 8) | (b & 0xff)]!;
}

/**
 * a / b in GF(2^8). Division by zero is undefined and returns 0 (no throw: this is a hot-path
 * primitive and its callers, the Cauchy construction and the elimination, never divide by 0).
 * @example gfDiv(gfMul(7, 9), 9) === 7
 */
export function gfDiv(a: number, b: number): number {
  return GF_MUL[((a & 0xff) << 8) | GF_INV[b & 0xff]!]!;
}

/** a^-1 in GF(2^8) (0 for 0). @example gfMul(gfInv(3), 3) === 1 */
export function gfInv(a: number): number {
  return GF_INV[a & 0xff]!;
}

/** a^n for n >= 0 (0^0 = 1). @example gfPow(2, 8) === 0x1d */
export function gfPow(a: number, n: number): number {
  if (n === 0) return 1;
  if ((a & 0xff) === 0) return 0;
  return GF_EXP[(GF_LOG[a & 0xff]! * n) % 255]!;
}
