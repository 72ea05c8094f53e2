/**
 * The FEC source symbol of a DATA packet (COMMON wire format v1; spec/fec.md "Source symbol"):
 *
 * | off | size | field |
 * | 0 | 1 | flags & (FIRST 0x01 | LAST 0x02 | KEYFRAME 0x08) (RETRANSMIT and local bits masked off) |
 * | 1 | 1 | reserved, 0 |
 * | 2 | 2 | payloadLength, u16 BE |
 * | 4 | 4 | timestamp, u32 BE |
 * | 8 | 4 | frameLength, u32 BE |
 * | 12 | n | payload |
 *
 * followed by zeros up to the coded symbol length: `12 + longest payload in the window`, rounded
 * up to a multiple of 32 bytes (the block size of the bit-plane layout).
 */

/** Bytes of the symbol prefix before the payload. */
export const FEC_SYMBOL_PREFIX = 12;
/** Symbol lengths are multiples of this (one block of 8 planes x 4 bytes). */
export const FEC_SYMBOL_ALIGN = 32;
/** DATA flag bits that FEC protects (FIRST | LAST | KEYFRAME). */
export const FEC_PROTECTED_FLAGS = 0x01 | 0x02 | 0x08;
/** Largest payload a symbol can describe (u16 payloadLength). */
export const FEC_MAX_PAYLOAD = 0xffff - 31 - FEC_SYMBOL_PREFIX;

/** Coded symbol length for a payload of `payloadLength` bytes: `ceil((12 + n) / 32) * 32`. */
export function fecSymbolLength(payloadLength: number): number {
  return (FEC_SYMBOL_PREFIX + payloadLength + FEC_SYMBOL_ALIGN - 1) & ~(FEC_SYMBOL_ALIGN - 1);
}

/**
 * Writes the 12-byte prefix and the payload at `dst[off..]` (caller owns both buffers; exactly
 * `12 + length` bytes are written, no padding). Returns `12 + length`.
 */
export function writeSourceSymbol(
  dst: Uint8Array,
  off: number,
  flags: number,
  timestamp: number,
  frameLength: number,
  payload: Uint8Array,
  payloadOffset: number,
  length: number,
): number {
  dst[off] = flags & FEC_PROTECTED_FLAGS;
  dst[off + 1] = 0;
  dst[off + 2] = length >>> 8;
  dst[off + 3] = length & 0xff;
  dst[off + 4] = timestamp >>> 24;
  dst[off + 5] = (timestamp >>> 16) & 0xff;
  dst[off + 6] = (timestamp >>> 8) & 0xff;
  dst[off + 7] = timestamp & 0xff;
  dst[off + 8] = frameLength >>> 24;
  dst[off + 9] = (frameLength >>> 16) & 0xff;
  dst[off + 10] = (frameLength >>> 8) & 0xff;
  dst[off + 11] = frameLength & 0xff;
  copyBytes(dst, off + FEC_SYMBOL_PREFIX, payload, payloadOffset, length);
  return FEC_SYMBOL_PREFIX + length;
}

/** One-entry cache of the last sub-range view made by {@link copyBytes} (see there). */
let _lastSrc: Uint8Array | null = null;
let _lastOffset = -1;
let _lastLength = -1;
let _lastView: Uint8Array = new Uint8Array(0);

/**
 * Copies `src[srcOffset .. srcOffset + length)` to `dst[dstOffset..]` (no bounds checks beyond
 * the typed arrays' own). Why three paths: a JavaScript byte loop costs ~0.5 ns/byte here
 * (~600 ns for a 1200-byte payload) while `TypedArray.prototype.set` is a memcpy (~50 ns), but
 * `set` needs a whole typed array as its source:
 * - whole `src` (offset 0, full length): `dst.set(src, dstOffset)`, no allocation;
 * - short ranges (< 64 bytes): a byte loop, no allocation;
 * - other sub-ranges: `dst.set(view)` with `view = src.subarray(..)`. The last view is cached
 *   (module-level, one entry: same array, offset and length), so a caller that reuses one buffer
 *   at a fixed offset (a transmit buffer, full-size fragments) allocates nothing; otherwise ONE
 *   short-lived view object (~100 bytes of young generation) is allocated per call, still ~10x
 *   cheaper than the loop. The cache keeps a reference to the last `src` until the next call.
 */
export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (srcOffset === 0 && length === src.length) {
    dst.set(src, dstOffset);
  } else if (length < 64) {
    const k = dstOffset - srcOffset;
    for (let i = srcOffset, e = srcOffset + length; i < e; i++) dst[k + i] = src[i]!;
  } else {
    if (src !== _lastSrc || srcOffset !== _lastOffset || length !== _lastLength) {
      _lastSrc = src;
      _lastOffset = srcOffset;
      _lastLength = length;
      _lastView = src.subarray(srcOffset, srcOffset + length);
    }
    dst.set(_lastView, dstOffset);
  }
}
