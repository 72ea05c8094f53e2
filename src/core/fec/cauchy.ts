/**
 * The Cauchy coefficients of sluice's sliding-window Reed-Solomon code (spec/fec.md, "Code").
 *
 * A Cauchy matrix `C[j][i] = 1 / (x_j + y_i)` with all x_j distinct, all y_i distinct and no x_j
 * equal to any y_i has every square submatrix non-singular (Cauchy's determinant formula), which
 * makes the systematic code [I | C] maximum-distance-separable: any r erasures among the columns
 * of r rows are solvable.
 *
 * sluice ties the column to the ABSOLUTE sequence number, not to the position in a window:
 * `y(seq) = seq mod 128` and `x(j) = 128 + j` for repair index j in [0, 127]. So x and y come from
 * disjoint halves of GF(2^8), any 128 consecutive sequence numbers have distinct y (also across
 * the 2^32 wrap, since 128 divides 2^32), and two repairs with different windows that both cover
 * a set of lost packets see those packets with the same y: the r x r system they form is a
 * square Cauchy submatrix as long as the r repair indexes are distinct. That is the guarantee:
 *
 *   any r lost packets that all lie in the windows of r received repairs with distinct repair
 *   indexes are recoverable.
 *
 * The encoder cycles repair indexes 0..127 and requires `repairs * ceil(window / step) <= 128`,
 * so repairs whose windows overlap always have distinct indexes.
 */
import { GF_INV } from './gf256.js';

/** Largest window (source packets covered by one repair): the y half of the field. */
export const FEC_MAX_WINDOW = 128;
/** Number of distinct repair indexes (rows), 0..127: the x half of the field. */
export const FEC_REPAIR_INDEXES = 128;

/**
 * Coefficient of source `seq` (u32) in the repair with index `repairIndex` (0..127):
 * `1 / ((128 + repairIndex) XOR (seq mod 128))`, never 0.
 * @example cauchyCoefficient(0, 0) === gfInv(128)
 */
export function cauchyCoefficient(seq: number, repairIndex: number): number {
  return GF_INV[(0x80 | (repairIndex & 0x7f)) ^ (seq & 0x7f)]!;
}
