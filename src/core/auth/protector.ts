/**
 * The packet-protection interface and the rules every implementation shares.
 *
 * A protected datagram is `[offset, offset + length)` of a caller-owned buffer:
 *
 * ```
 * offset                 payloadOffset                          offset+length-16   offset+length
 * | header (authenticated) | payload (authenticated; encrypted in AEAD mode) | tag (16 bytes) |
 * ```
 *
 * Per-packet nonce (12 bytes), the same in both modes:
 * `direction u32 BE (0 = client to server, 1 = server to client) || packetIndex u64 BE`.
 *
 * `packetNumber` is the packet's full *index*: an integer in [0, 2^53). Its low 32 bits are the
 * header's packet-number field; the high bits count wraps of that field (SRTP's rollover counter,
 * RFC 3711 §3.3.1). A caller that never sends more than 2^32 packets under one key may pass the
 * 32-bit header value as is. Binding the index (not just the 32-bit field) into every tag means
 * that, after the field wraps, a packet recorded 2^32 packets ago neither verifies again (replay)
 * nor, in AEAD mode, reuses a nonce. The receiver recovers the index with
 * {@link ReplayWindow.index}.
 *
 * - HMAC mode: `tag = HMAC-SHA256(key, bytes[offset, offset+length-16) || nonce)[0..16)`
 *   (truncation to 128 bits as in RFC 2104 §5 / RFC 4868 §2.1.1).
 * - AEAD mode: ChaCha20-Poly1305 (RFC 8439) or AES-128-GCM with the header as AAD, the payload
 *   encrypted in place, and the AEAD tag in the tag slot.
 */
import { SluiceRangeError, SluiceTypeError, checkInt } from '../errors.js';

/** Bytes of the authentication tag at the end of every packet. */
export const TAG_LENGTH = 16;
/** Bytes of the per-packet nonce (`direction u32 || packetIndex u64`, big-endian). */
export const PACKET_NONCE_LENGTH = 12;
/** Largest packet index a protector accepts (2^53 - 1, the largest exact JS integer). */
export const MAX_PACKET_INDEX = Number.MAX_SAFE_INTEGER;

/** `'hmac'`: authenticate only. `'aead'`: authenticate and encrypt the payload region. */
export type ProtectionMode = 'hmac' | 'aead';

/**
 * Protects and opens packets in place for ONE key and ONE direction.
 *
 * Buffers are caller-owned and never retained. Implementations preallocate their scratch state
 * in the constructor.
 */
export interface PacketProtector {
  readonly tagLength: 16;
  /**
   * Computes the tag over `buf[offset, offset+length-16)` and writes it to
   * `buf[offset+length-16, offset+length)`. In AEAD mode also encrypts the payload region
   * `[payloadOffset, offset+length-16)` in place (the header `[offset, payloadOffset)` is AAD).
   * @param packetNumber - the packet index, an integer in [0, 2^53) (see the module comment).
   * @throws SluiceRangeError / SluiceTypeError on a bad region or packet number (caller misuse).
   */
  protect(buf: Uint8Array, offset: number, length: number, payloadOffset: number, packetNumber: number): void;
  /**
   * Verifies the tag in constant time (and in AEAD mode decrypts the payload region in place,
   * only once the tag verified: a forged packet leaves `buf` unchanged).
   * Never throws on bad input (region out of bounds, bad packet number): returns false.
   * @returns true when authentic; false = forged, mangled or malformed.
   */
  open(buf: Uint8Array, offset: number, length: number, payloadOffset: number, packetNumber: number): boolean;
}

/**
 * Builds a protector for one key. `direction` selects the nonce's direction word; it defaults
 * to 0 (client to server). Session keys are already per direction, but the handshake key is
 * shared by both sides, so pass the direction of the packets this protector handles.
 */
export interface ProtectorFactory {
  (key: Uint8Array, mode: ProtectionMode, direction?: 0 | 1): PacketProtector;
}

/**
 * True when `(offset, length, payloadOffset, packetNumber)` describe a protectable region of
 * `buf`: integers, `offset >= 0`, `length >= 16`, `offset + length <= buf.length`,
 * `offset <= payloadOffset <= offset + length - 16`, `0 <= packetNumber <= 2^53 - 1`.
 * Allocation-free; used by `open` (returns false) and `protect` (throws).
 * @example validRegion(datagram, 0, datagram.length, 24, idx) // false for a 10-byte datagram
 */
export function validRegion(
  buf: Uint8Array,
  offset: number,
  length: number,
  payloadOffset: number,
  packetNumber: number,
): boolean {
  if (!(buf instanceof Uint8Array)) return false;
  if (!Number.isInteger(offset) || !Number.isInteger(length) || !Number.isInteger(payloadOffset)) return false;
  if (!Number.isSafeInteger(packetNumber) || packetNumber < 0) return false;
  if (offset < 0 || length < TAG_LENGTH || offset + length > buf.length) return false;
  return payloadOffset >= offset && payloadOffset <= offset + length - TAG_LENGTH;
}

/**
 * Throws the precise misuse error for a region {@link validRegion} rejected.
 * @throws SluiceTypeError / SluiceRangeError, always.
 * @example if (!validRegion(b, o, n, p, i)) throwBadRegion(b, o, n, p, i);
 */
export function throwBadRegion(
  buf: unknown,
  offset: number,
  length: number,
  payloadOffset: number,
  packetNumber: number,
): never {
  // Only runs on caller misuse, never per packet: allocation and string building are fine here.
  if (!(buf instanceof Uint8Array)) {
    throw new SluiceTypeError(`buf: expected a Uint8Array, got ${buf === null ? 'null' : typeof buf}`);
  }
  const len = buf.length;
  checkInt('offset', offset, 0, len);
  checkInt('length', length, TAG_LENGTH, len - offset);
  checkInt('payloadOffset', payloadOffset, offset, offset + length - TAG_LENGTH);
  checkInt('packetNumber', packetNumber, 0, MAX_PACKET_INDEX);
  throw new SluiceRangeError('protect: invalid region'); // unreachable: one check above throws
}

/**
 * Writes the 12-byte packet nonce `direction u32 || index u64` (big-endian) into `out` at `at`.
 * `index` must be an integer in [0, 2^53) and `direction` 0 or 1. Allocation-free.
 * @example writePacketNonce(n, 0, 1, 2 ** 32 + 5) // n = 00000001 00000001 00000005
 */
export function writePacketNonce(out: Uint8Array, at: number, direction: number, index: number): void {
  // index / 2^32 is exact for safe integers; `>>> 0` takes the low word without BigInt.
  const hi = Math.floor(index / 0x1_0000_0000);
  const lo = index >>> 0;
  out[at] = 0;
  out[at + 1] = 0;
  out[at + 2] = 0;
  out[at + 3] = direction & 1;
  out[at + 4] = hi >>> 24;
  out[at + 5] = (hi >>> 16) & 0xff;
  out[at + 6] = (hi >>> 8) & 0xff;
  out[at + 7] = hi & 0xff;
  out[at + 8] = lo >>> 24;
  out[at + 9] = (lo >>> 16) & 0xff;
  out[at + 10] = (lo >>> 8) & 0xff;
  out[at + 11] = lo & 0xff;
}

/**
 * Compares `a[aOff, aOff+n)` with `b[bOff, bOff+n)` in time independent of where they differ
 * (OR of XORs, no early exit), so a forger learns nothing from timing about how many tag
 * bytes were right. Caller guarantees both ranges are in bounds.
 * @example constantTimeEqual(tag, 0, expected, 0, 16)
 */
export function constantTimeEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, n: number): boolean {
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= (a[aOff + i] as number) ^ (b[bOff + i] as number);
  return diff === 0;
}

