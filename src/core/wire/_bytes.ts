/**
 * Big-endian integer reads and writes on plain `Uint8Array`s (private to the codec).
 *
 * Byte arithmetic instead of a `DataView`: a DataView per datagram would allocate, and V8
 * inlines these small functions into straight-line loads. Callers check bounds first; the
 * non-null assertions (`!`) are sound because of those checks.
 */

/** Reads a big-endian u16 at `o`. */
export function _readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Reads a big-endian u32 at `o` (as an unsigned number). */
export function _readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Writes the low 16 bits of `v` big-endian at `o`. */
export function _writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Writes `v` (u32) big-endian at `o`. */
export function _writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}
