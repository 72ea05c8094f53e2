/**
 * Multiply-accumulate kernels over sluice's bit-plane symbol layout (spec/fec.md, "Symbol
 * layout"): a symbol is a run of 32-byte blocks; the 4-byte word q of a block (q in 0..7) is
 * bit-plane q. Multiplying a symbol by a field element c applies c's 8x8 bit matrix
 * ({@link GF_BITMATRIX}) to the 8 words of every block.
 *
 * Two implementations compute the same thing:
 * - {@link FAST_KERNELS}: one generated, unrolled function per c (the hot path).
 * - {@link mulAddRef}: the plain reference, a generic loop over the matrix's rows and columns
 *   with no unrolling. Tests compare the two; the benchmark reports fast/reference so CI notices
 *   a slowed kernel.
 * {@link mulAddElementwise} is the definition itself (gather 8 bits, multiply with the 64 KiB
 * table, scatter), used only as a test oracle.
 */
import { GF_BITMATRIX } from './bitmatrix.js';
import { GF_MUL } from './gf256.js';
import { FAST_KERNELS } from './kernels-generated.js';
import type { Kernel } from './kernel-type.js';

export type { Kernel } from './kernel-type.js';
export { FAST_KERNELS } from './kernels-generated.js';

/** Bytes per block of the symbol layout: 8 planes of one 32-bit word. */
export const FEC_BLOCK_BYTES = 32;

/**
 * `dst[d..] ^= c * src[s..]` over `blocks` 32-byte blocks with the unrolled kernel of c.
 * Offsets are in 32-bit words, below 2^30 (the generated kernels mask them to that range so V8
 * can drop its overflow checks). `dst` is modified in place; `src` is only read.
 * @example mulAdd(3, src32, 0, dst32, 0, 2) // dst's first 64 bytes += 3 * src's first 64 bytes
 */
export function mulAdd(c: number, src: Uint32Array, s: number, dst: Uint32Array, d: number, blocks: number): void {
  (FAST_KERNELS[c & 0xff] as Kernel)(src, s, dst, d, blocks);
}

/**
 * Reference kernel, same contract as {@link mulAdd}: a plain loop over the bit matrix, one
 * word XOR per one-bit per block. Kept simple on purpose (it is the yardstick, not the hot path).
 */
export function mulAddRef(c: number, src: Uint32Array, s: number, dst: Uint32Array, d: number, blocks: number): void {
  const base = (c & 0xff) * 8;
  for (let b = 0; b < blocks; b++) {
    const so = s + b * 8;
    const dof = d + b * 8;
    for (let p = 0; p < 8; p++) {
      const row = GF_BITMATRIX[base + p]!;
      let acc = 0;
      for (let q = 0; q < 8; q++) if ((row >> q) & 1) acc ^= src[so + q]!;
      dst[dof + p] = dst[dof + p]! ^ acc;
    }
  }
}

/**
 * The definition, element by element (test oracle; slow): for every block and every bit
 * position t (0..31) of a plane word, the element is the byte whose bit q is bit t of word q
 * (words read little-endian from the bytes, but any fixed byte order gives the same result
 * since only whole words are XORed); it is multiplied by c with the 64 KiB table and its bits
 * are XORed back into the 8 words of `dst`. Offsets are in bytes here; lengths are `blocks * 32`.
 */
export function mulAddElementwise(c: number, src: Uint8Array, s: number, dst: Uint8Array, d: number, blocks: number): void {
  const row = (c & 0xff) << 8;
  for (let b = 0; b < blocks; b++) {
    for (let t = 0; t < 32; t++) {
      const byteInWord = t >> 3;
      const bit = t & 7;
      let e = 0;
      for (let q = 0; q < 8; q++) e |= ((src[s + b * 32 + q * 4 + byteInWord]! >> bit) & 1) << q;
      const f = GF_MUL[row | e]!;
      for (let p = 0; p < 8; p++) {
        const i = d + b * 32 + p * 4 + byteInWord;
        dst[i] = dst[i]! ^ (((f >> p) & 1) << bit);
      }
    }
  }
}

/**
 * Runs every one of the 256 kernels `rounds` times on a small scratch symbol so that V8
 * optimises them now rather than while packets are being recovered.
 *
 * Why: the encoder only uses the Cauchy coefficients, which get hot at once, but the decoder
 * multiplies by whatever elements Gaussian elimination produces, so each of the 255 kernels is
 * individually rare and stays in V8's baseline tiers for a while: the first few thousand
 * recovered blocks of a process were measured ~10x slower than the steady state. Optional; costs
 * a few milliseconds; allocates two small arrays once per call.
 * @example warmUpKernels(); // at startup, before the first connection
 */
export function warmUpKernels(rounds = 200): void {
  const src = new Uint32Array(64);
  const dst = new Uint32Array(64);
  for (let i = 0; i < 64; i++) src[i] = (i * 0x9e3779b9) >>> 0;
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < 256; c++) (FAST_KERNELS[c] as Kernel)(src, 0, dst, 0, 8);
  }
}
