/**
 * GF(2^8) elements as 8x8 matrices over GF(2) (Blömer et al., "An XOR-based erasure-resilient
 * coding scheme", 1995; Plank & Xu, "Optimizing Cauchy Reed-Solomon codes", 2006).
 *
 * Multiplication by a constant c is linear over GF(2): if e has bits e_0..e_7, then
 * `c * e = XOR_q e_q * (c * 2^q)`. So bit p of the product is `XOR_q M[p][q] e_q` where column q
 * of M is the byte `c * 2^q`. {@link GF_BITMATRIX} stores, for each c, the 8 rows of M as bytes:
 * `GF_BITMATRIX[c * 8 + p]` has bit q set when bit p of `c * 2^q` is set.
 *
 * sluice's kernels apply M to 8 "planes" of 32-bit words (see spec/fec.md, "Symbol layout"),
 * so a multiply-accumulate is a handful of word XORs instead of a table lookup per byte.
 */
import { GF_MUL } from './gf256.js';

/** Rows of the 8x8 bit matrix of each field element: `GF_BITMATRIX[c * 8 + p]`, bit q = M_c[p][q]. */
export const GF_BITMATRIX: Uint8Array = new Uint8Array(256 * 8);

function _build(): void {
  for (let c = 0; c < 256; c++) {
    for (let q = 0; q < 8; q++) {
      const col = GF_MUL[(c << 8) | (1 << q)]!;
      for (let p = 0; p < 8; p++) {
        if ((col >> p) & 1) GF_BITMATRIX[c * 8 + p] = GF_BITMATRIX[c * 8 + p]! | (1 << q);
      }
    }
  }
}
_build();

/** Number of ones in the bit matrix of c: the XOR count of one multiply-accumulate per plane word. */
export function bitMatrixWeight(c: number): number {
  let n = 0;
  for (let p = 0; p < 8; p++) {
    let r = GF_BITMATRIX[(c & 0xff) * 8 + p]!;
    while (r !== 0) {
      n += r & 1;
      r >>= 1;
    }
  }
  return n;
}
