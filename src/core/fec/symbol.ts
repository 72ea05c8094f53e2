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
  // A plain loop rather than dst.set(payload.subarray(..)): subarray allocates a view per packet.
  const o = off + FEC_SYMBOL_PREFIX - payloadOffset;
  for (let i = payloadOffset, e = payloadOffset + length; i < e; i++) dst[o + i] = payload[i]!;
  return FEC_SYMBOL_PREFIX + length;
}
