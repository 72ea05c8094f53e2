/**
 * The wire v1 encoders: one `encodeXxxInto(out, offset, ...)` per packet type.
 *
 * Each writes the complete datagram into the caller's buffer `out` starting at `offset` and
 * returns the number of bytes written, INCLUDING the 16-byte tag slot at the end, which is
 * zero-filled: the auth layer computes the tag over every byte before it and writes it there.
 * Nothing is allocated per call (fields are positional numbers; byte strings are passed as
 * `(array, offset, length)` and copied).
 *
 * Misuse throws at once (h11's LocalProtocolError): {@link SluiceRangeError} when a field is
 * outside its wire range or `out` is too small, {@link SluiceTypeError} for a non-number.
 * Checks are one comparison each on the fast path; the message is built only on failure.
 */
import { SluiceRangeError, SluiceTypeError, checkInt } from '../errors.js';
import {
  ACCEPT_OFF_CLIENT_NONCE,
  ACCEPT_OFF_ECHO_TIMESTAMP,
  ACCEPT_OFF_PARAMS,
  ACCEPT_OFF_SERVER_NONCE,
  ACCEPT_OFF_SOURCE_CONN_ID,
  ACCEPT_OFF_TIMESTAMP,
  ACCEPT_OFF_VERSION,
  ACCEPT_PACKET_LENGTH,
  ACK_LENGTH,
  CLOSE_BASE_LENGTH,
  COOKIE_LENGTH,
  COOKIE_OFF_COOKIE,
  COOKIE_OFF_ECHO_TIMESTAMP,
  COOKIE_OFF_NONCE,
  COOKIE_PACKET_LENGTH,
  DATA_FLAGS_WIRE_MASK,
  DATA_OVERHEAD,
  DATA_PAYLOAD_OFFSET,
  DataFlags,
  FEC_SYMBOL_PREFIX_LENGTH,
  HELLO_MIN_LENGTH,
  HELLO_OFF_COOKIE,
  HELLO_OFF_MAX_VERSION,
  HELLO_OFF_MIN_VERSION,
  HELLO_OFF_NONCE,
  HELLO_OFF_PADDING,
  HELLO_OFF_PARAMS,
  HELLO_OFF_SOURCE_CONN_ID,
  HELLO_OFF_TIMESTAMP,
  HelloFlags,
  KEEPALIVE_LENGTH,
  MAX_FEC_WINDOW,
  MAX_MAX_DATAGRAM,
  MIN_MAX_DATAGRAM,
  NONCE_LENGTH,
  PacketType,
  RANGE_ENTRY_LENGTH,
  RANGES_BASE_LENGTH,
  REJECT_OFF_ECHO_TIMESTAMP,
  REJECT_OFF_MAX_VERSION,
  REJECT_OFF_MIN_VERSION,
  REJECT_OFF_NONCE,
  REJECT_OFF_REASON,
  REJECT_PACKET_LENGTH,
  REPAIR_OVERHEAD,
  REPAIR_SYMBOL_OFFSET,
  SESSION_FLAGS_WIRE_MASK,
  TAG_LENGTH,
  WIRE_VERSION,
} from './constants.js';
import { _writeU16, _writeU32 } from './_bytes.js';
import type { SessionParams } from './view.js';

const FIRST_LAST = DataFlags.FIRST | DataFlags.LAST;

// ---------------------------------------------------------------------------------------------
// Argument checks: one comparison on the fast path, checkInt (which throws) only on failure.

function _u32(name: string, v: number): void {
  if (v >>> 0 !== v) checkInt(name, v, 0, 0xffff_ffff);
}
function _u16(name: string, v: number): void {
  if ((v & 0xffff) !== v) checkInt(name, v, 0, 0xffff);
}
function _u8(name: string, v: number): void {
  if ((v & 0xff) !== v) checkInt(name, v, 0, 0xff);
}
function _range(name: string, v: number, min: number, max: number): void {
  if (!(v >= min && v <= max && Math.floor(v) === v)) checkInt(name, v, min, max);
}

/** Throws unless `out[offset, offset + total)` exists. */
function _room(out: Uint8Array, offset: number, total: number): void {
  if (!(out instanceof Uint8Array)) throw new SluiceTypeError(`out: expected Uint8Array, got ${typeof out}`);
  if (offset >>> 0 !== offset || offset + total > out.length) {
    throw new SluiceRangeError(
      `out: expected ${total} bytes at offset ${String(offset)}, buffer has length=${out.length}`,
    );
  }
}

/** Throws unless `src[srcOffset, srcOffset + length)` exists. */
function _slice(name: string, src: Uint8Array, srcOffset: number, length: number): void {
  if (!(src instanceof Uint8Array)) throw new SluiceTypeError(`${name}: expected Uint8Array, got ${typeof src}`);
  if (srcOffset >>> 0 !== srcOffset || length >>> 0 !== length || srcOffset + length > src.length) {
    throw new SluiceRangeError(
      `${name}: expected ${String(length)} bytes at offset ${String(srcOffset)}, array has length=${src.length}`,
    );
  }
}

/**
 * Int32 aliases of the ArrayBuffers `_copy` has seen, for word-at-a-time copies. A WeakMap so
 * an alias never keeps a caller's buffer (a frame of up to 8 MiB) alive: the entry dies with
 * the buffer. An alias is created once per buffer (per frame or per pool slab), not per packet.
 */
const _aliases32 = new WeakMap<ArrayBufferLike, Int32Array>();
function _alias32(buf: ArrayBufferLike): Int32Array {
  let a = _aliases32.get(buf);
  // Re-alias when a resizable ArrayBuffer has changed size since the alias was made.
  if (a === undefined || a.length !== buf.byteLength >>> 2) {
    a = new Int32Array(buf, 0, buf.byteLength >>> 2);
    _aliases32.set(buf, a);
  }
  return a;
}
/** Whole-buffer byte aliases, for memmove between two views of one ArrayBuffer. */
const _aliases8 = new WeakMap<ArrayBufferLike, Uint8Array>();
function _alias8(buf: ArrayBufferLike): Uint8Array {
  let a = _aliases8.get(buf);
  if (a === undefined || a.length !== buf.byteLength) {
    a = new Uint8Array(buf);
    _aliases8.set(buf, a);
  }
  return a;
}
/** Below this many bytes the word path's set-up costs more than it saves. */
const _WORD_COPY_MIN = 64;

/**
 * Copies `n` bytes without allocating per call.
 *
 * Why not `dst.set(src.subarray(a, b), o)`: `subarray` creates a view object per packet (about
 * 45 bytes of garbage). Whole arrays and same-buffer moves use the native memcpy/memmove paths
 * (`set`, `copyWithin`, the latter through a whole-buffer alias when two views share one
 * ArrayBuffer, so overlapping views behave as memmove). A partial range of another buffer is copied 4 bytes at a time through
 * cached Int32Array aliases when source and destination share their alignment mod 4 (about 8x
 * a byte loop in V8, which neither vectorises nor widens byte loops); Float64 words would be
 * faster still but a JS double round trip is not guaranteed to preserve NaN payload bits.
 * Otherwise a plain byte loop.
 */
function _copy(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, n: number): void {
  if (n === 0 || (src === dst && srcOffset === dstOffset)) return;
  if (src === dst) {
    dst.copyWithin(dstOffset, srcOffset, srcOffset + n);
    return;
  }
  let s = src.byteOffset + srcOffset;
  let d = dst.byteOffset + dstOffset;
  if (src.buffer === dst.buffer) {
    // Two views of one buffer may overlap: memmove through a whole-buffer alias.
    _alias8(src.buffer).copyWithin(d, s, s + n);
    return;
  }
  if (srcOffset === 0 && n === src.length) {
    dst.set(src, dstOffset);
    return;
  }
  let i = 0;
  if (n >= _WORD_COPY_MIN && ((s ^ d) & 3) === 0) {
    // Head bytes up to the next 4-byte boundary, then words, then the tail.
    const head = (4 - (s & 3)) & 3;
    for (; i < head; i++) dst[dstOffset + i] = src[srcOffset + i]!;
    s += head;
    d += head;
    const words = (n - head) >>> 2;
    const s32 = _alias32(src.buffer);
    const d32 = _alias32(dst.buffer);
    const sw = s >>> 2;
    const dw = d >>> 2;
    for (let w = 0; w < words; w++) d32[dw + w] = s32[sw + w]!;
    i = head + words * 4;
  }
  for (; i < n; i++) dst[dstOffset + i] = src[srcOffset + i]!;
}

/** Writes the common header. */
function _header(out: Uint8Array, o: number, type: number, flags: number, connId: number, pn: number): void {
  out[o] = WIRE_VERSION;
  out[o + 1] = type;
  out[o + 2] = flags;
  out[o + 3] = 0;
  _writeU32(out, o + 4, connId);
  _writeU32(out, o + 8, pn);
}

/** Checks the connection id (non-zero on every type but HELLO) and the packet number. */
function _ids(connId: number, pn: number): void {
  _u32('packetNumber', pn);
  if (connId >>> 0 !== connId || connId === 0) checkInt('connId', connId, 1, 0xffff_ffff);
}

/** Zero-fills the tag slot that ends at `end`. */
function _tag(out: Uint8Array, end: number): void {
  out.fill(0, end - TAG_LENGTH, end);
}

// ---------------------------------------------------------------------------------------------
// DATA

function _checkData(flags: number, seq: number, timestamp: number, frameLength: number, payloadLength: number): void {
  if ((flags & DATA_FLAGS_WIRE_MASK) !== flags) {
    checkInt('flags', flags, 0, 0xff);
    throw new SluiceRangeError(
      `flags: expected DataFlags FIRST|LAST|RETRANSMIT|KEYFRAME (mask 0x0f), got 0x${flags.toString(16)}`,
    );
  }
  _u32('seq', seq);
  _u32('timestamp', timestamp);
  _u32('frameLength', frameLength);
  if (payloadLength > frameLength) {
    throw new SluiceRangeError(`payloadLength: expected <= frameLength (${frameLength}), got ${payloadLength}`);
  }
  if ((flags & FIRST_LAST) === FIRST_LAST && payloadLength !== frameLength) {
    throw new SluiceRangeError(
      `payloadLength: a FIRST|LAST fragment carries the whole frame, expected ${frameLength}, got ${payloadLength}`,
    );
  }
}

/**
 * Encodes a DATA packet, copying the payload from `payload[payloadOffset, +payloadLength)`.
 *
 * @param out destination; bytes `[offset, offset + 40 + payloadLength)` are overwritten
 * @param flags {@link DataFlags} bits FIRST/LAST/RETRANSMIT/KEYFRAME only (FEC_RECOVERED is local)
 * @param seq sequence number (u32, wraps)
 * @param timestamp sender media clock, microseconds since the connection epoch, mod 2^32
 * @param frameLength total bytes of the frame (>= payloadLength; == when FIRST|LAST)
 * @returns datagram length: 40 + payloadLength (tag slot zeroed)
 * @throws SluiceRangeError on a field out of range, unknown flag bits, or `out` too small
 * @example
 * const n = encodeDataInto(out, 0, peerId, pn++, DataFlags.FIRST | DataFlags.LAST, seq, ts, 1000, frame, 0, 1000);
 */
export function encodeDataInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  flags: number,
  seq: number,
  timestamp: number,
  frameLength: number,
  payload: Uint8Array,
  payloadOffset: number,
  payloadLength: number,
): number {
  _slice('payload', payload, payloadOffset, payloadLength);
  const total = DATA_OVERHEAD + payloadLength;
  _room(out, offset, total);
  _ids(connId, packetNumber);
  _checkData(flags, seq, timestamp, frameLength, payloadLength);
  // Copy first: when payload and out share memory the header write must not clobber it.
  _copy(payload, payloadOffset, out, offset + DATA_PAYLOAD_OFFSET, payloadLength);
  _writeDataHeader(out, offset, connId, packetNumber, flags, seq, timestamp, frameLength);
  _tag(out, offset + total);
  return total;
}

/**
 * Zero-copy DATA: the caller has already written `payloadLength` payload bytes at
 * `out[offset + 24 ..]` ({@link DATA_PAYLOAD_OFFSET}); this writes the 24 header bytes in front
 * and zeroes the tag slot after them.
 * @returns datagram length: 40 + payloadLength
 * @throws SluiceRangeError as {@link encodeDataInto}
 * @example
 * frame.copyInto(out, DATA_PAYLOAD_OFFSET); const n = encodeDataHeaderInto(out, 0, id, pn, flags, seq, ts, len, len);
 */
export function encodeDataHeaderInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  flags: number,
  seq: number,
  timestamp: number,
  frameLength: number,
  payloadLength: number,
): number {
  if (payloadLength >>> 0 !== payloadLength) checkInt('payloadLength', payloadLength, 0, MAX_MAX_DATAGRAM - DATA_OVERHEAD);
  const total = DATA_OVERHEAD + payloadLength;
  _room(out, offset, total);
  _ids(connId, packetNumber);
  _checkData(flags, seq, timestamp, frameLength, payloadLength);
  _writeDataHeader(out, offset, connId, packetNumber, flags, seq, timestamp, frameLength);
  _tag(out, offset + total);
  return total;
}

function _writeDataHeader(
  out: Uint8Array,
  o: number,
  connId: number,
  pn: number,
  flags: number,
  seq: number,
  timestamp: number,
  frameLength: number,
): void {
  _header(out, o, PacketType.DATA, flags, connId, pn);
  _writeU32(out, o + 12, seq);
  _writeU32(out, o + 16, timestamp);
  _writeU32(out, o + 20, frameLength);
}

// ---------------------------------------------------------------------------------------------
// REPAIR

/**
 * Encodes a REPAIR packet, copying the symbol from `symbol[symbolOffset, +symbolLength)`.
 * @param windowStart first source seq covered (u32)
 * @param windowLength source packets covered, 1..255
 * @param repairIndex Cauchy row selector (u16; meaning in spec/fec.md)
 * @param symbolLength bytes of symbol, >= 12 (the FEC source-symbol prefix) and <= 65535
 * @returns datagram length: 40 + symbolLength
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example const n = encodeRepairInto(out, 0, peerId, pn++, info.windowStart, info.windowLength, info.repairIndex, sym, 0, info.symbolLength);
 */
export function encodeRepairInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  windowStart: number,
  windowLength: number,
  repairIndex: number,
  symbol: Uint8Array,
  symbolOffset: number,
  symbolLength: number,
): number {
  _slice('symbol', symbol, symbolOffset, symbolLength);
  _checkRepair(windowStart, windowLength, repairIndex, symbolLength);
  const total = REPAIR_OVERHEAD + symbolLength;
  _room(out, offset, total);
  _ids(connId, packetNumber);
  _copy(symbol, symbolOffset, out, offset + REPAIR_SYMBOL_OFFSET, symbolLength);
  _writeRepairHeader(out, offset, connId, packetNumber, windowStart, windowLength, repairIndex, symbolLength);
  _tag(out, offset + total);
  return total;
}

/**
 * Zero-copy REPAIR: the symbol is already at `out[offset + 24 ..]` ({@link REPAIR_SYMBOL_OFFSET},
 * e.g. written there by `StreamingFecEncoder.pollRepair(out, offset + 24, info)`); this writes
 * the 24 header bytes and zeroes the tag slot.
 * @returns datagram length: 40 + symbolLength
 * @throws SluiceRangeError as {@link encodeRepairInto}
 * @example const len = fec.pollRepair(out, REPAIR_SYMBOL_OFFSET, info); encodeRepairHeaderInto(out, 0, peerId, pn++, info.windowStart, info.windowLength, info.repairIndex, len);
 */
export function encodeRepairHeaderInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  windowStart: number,
  windowLength: number,
  repairIndex: number,
  symbolLength: number,
): number {
  _checkRepair(windowStart, windowLength, repairIndex, symbolLength);
  const total = REPAIR_OVERHEAD + symbolLength;
  _room(out, offset, total);
  _ids(connId, packetNumber);
  _writeRepairHeader(out, offset, connId, packetNumber, windowStart, windowLength, repairIndex, symbolLength);
  _tag(out, offset + total);
  return total;
}

function _checkRepair(windowStart: number, windowLength: number, repairIndex: number, symbolLength: number): void {
  _u32('windowStart', windowStart);
  _range('windowLength', windowLength, 1, MAX_FEC_WINDOW);
  _u16('repairIndex', repairIndex);
  _range('symbolLength', symbolLength, FEC_SYMBOL_PREFIX_LENGTH, 0xffff);
}

function _writeRepairHeader(
  out: Uint8Array,
  o: number,
  connId: number,
  pn: number,
  windowStart: number,
  windowLength: number,
  repairIndex: number,
  symbolLength: number,
): void {
  _header(out, o, PacketType.REPAIR, 0, connId, pn);
  _writeU32(out, o + 12, windowStart);
  _writeU16(out, o + 16, windowLength);
  _writeU16(out, o + 18, repairIndex);
  _writeU16(out, o + 20, symbolLength);
  _writeU16(out, o + 22, 0);
}

// ---------------------------------------------------------------------------------------------
// ACK, NACK, DROP, KEEPALIVE, CLOSE

/**
 * Encodes an ACK (48 bytes).
 * @param ackSeq next expected seq: everything before it is received or given up
 * @param echoTimestamp timestamp field of the newest DATA received (u32 microseconds)
 * @param ackDelayUs microseconds between receiving that DATA and sending this ACK (u32)
 * @param recvRatePps receive rate, packets per second (u32)
 * @param bufferFreePackets free receive-buffer space, packets (u32)
 * @returns 48
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example const n = encodeAckInto(out, 0, peerId, pn++, next, echo, delayUs, pps, free);
 */
export function encodeAckInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  ackSeq: number,
  echoTimestamp: number,
  ackDelayUs: number,
  recvRatePps: number,
  bufferFreePackets: number,
): number {
  _room(out, offset, ACK_LENGTH);
  _ids(connId, packetNumber);
  _u32('ackSeq', ackSeq);
  _u32('echoTimestamp', echoTimestamp);
  _u32('ackDelayUs', ackDelayUs);
  _u32('recvRatePps', recvRatePps);
  _u32('bufferFreePackets', bufferFreePackets);
  _header(out, offset, PacketType.ACK, 0, connId, packetNumber);
  _writeU32(out, offset + 12, ackSeq);
  _writeU32(out, offset + 16, echoTimestamp);
  _writeU32(out, offset + 20, ackDelayUs);
  _writeU32(out, offset + 24, recvRatePps);
  _writeU32(out, offset + 28, bufferFreePackets);
  _tag(out, offset + ACK_LENGTH);
  return ACK_LENGTH;
}

/**
 * Encodes a NACK (`type` = PacketType.NACK: "please retransmit") or DROP (PacketType.DROP:
 * "given up, stop waiting") carrying `count` ranges taken from `starts[first ..]` and
 * `lengths[first ..]`. Length `34 + 6 * count`. Split longer lists across packets: the
 * receiver's limit is `maxRangesFor(maxDatagram)` (227 at 1400 bytes). `largestPn`: the low 32
 * bits of the highest packet index received from the peer (spec/protocol.md 6.4), which lets
 * the sender tell a NACK written after its last retransmission could have arrived from one
 * written before.
 * @param starts range start seqs (u32)
 * @param lengths range lengths, 1..65535 each
 * @param count ranges to write, 1..65535, and the datagram must fit the peer's maxDatagram
 * @returns datagram length
 * @throws SluiceRangeError on a zero/oversized range, count out of range, or `out` too small
 * @example const n = encodeRangesInto(out, 0, PacketType.NACK, peerId, pn++, starts, lens, 0, k, highestPnSeen);
 */
export function encodeRangesInto(
  out: Uint8Array,
  offset: number,
  type: typeof PacketType.NACK | typeof PacketType.DROP,
  connId: number,
  packetNumber: number,
  starts: ArrayLike<number>,
  lengths: ArrayLike<number>,
  first: number,
  count: number,
  largestPn = 0,
): number {
  if (type !== PacketType.NACK && type !== PacketType.DROP) {
    throw new SluiceRangeError(`type: expected PacketType.NACK (7) or PacketType.DROP (8), got ${String(type)}`);
  }
  _range('count', count, 1, 0xffff);
  if (first >>> 0 !== first || first + count > starts.length || first + count > lengths.length) {
    throw new SluiceRangeError(
      `first: expected ${String(count)} ranges from index ${String(first)}, arrays have ${starts.length}/${lengths.length}`,
    );
  }
  const total = RANGES_BASE_LENGTH + count * RANGE_ENTRY_LENGTH;
  _room(out, offset, total);
  _ids(connId, packetNumber);
  _u32('largestPn', largestPn);
  for (let i = first; i < first + count; i++) {
    _u32('starts[i]', starts[i]!);
    _range('lengths[i]', lengths[i]!, 1, 0xffff);
  }
  _header(out, offset, type, 0, connId, packetNumber);
  _writeU32(out, offset + 12, largestPn);
  _writeU16(out, offset + 16, count);
  let p = offset + 18;
  for (let i = first; i < first + count; i++) {
    _writeU32(out, p, starts[i]!);
    _writeU16(out, p + 4, lengths[i]!);
    p += RANGE_ENTRY_LENGTH;
  }
  _tag(out, offset + total);
  return total;
}

/**
 * Encodes a KEEPALIVE (40 bytes). KEEPALIVE is the liveness signal, the RTT probe and the
 * lost-tail signal (spec/protocol.md 6.5).
 * @param timestamp sender clock, microseconds since the connection epoch, mod 2^32
 * @param echoTimestamp the peer's last KEEPALIVE `timestamp` advanced by the time this side held
 *   it (`peerTs + (now - receivedAt)` in us, mod 2^32), or 0 if no KEEPALIVE was received yet;
 *   the peer computes RTT = its clock - echo
 * @param nextSeq the sender's next DATA seq (u32): one past the highest seq sent, 0 before any
 *   DATA
 * @returns 40
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example const n = encodeKeepaliveInto(out, 0, peerId, pn++, nowUs >>> 0, echoUs, sendBuffer.nextSeq);
 */
export function encodeKeepaliveInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  timestamp: number,
  echoTimestamp: number,
  nextSeq: number,
): number {
  _room(out, offset, KEEPALIVE_LENGTH);
  _ids(connId, packetNumber);
  _u32('timestamp', timestamp);
  _u32('echoTimestamp', echoTimestamp);
  _u32('nextSeq', nextSeq);
  _header(out, offset, PacketType.KEEPALIVE, 0, connId, packetNumber);
  _writeU32(out, offset + 12, timestamp);
  _writeU32(out, offset + 16, echoTimestamp);
  _writeU32(out, offset + 20, nextSeq);
  _tag(out, offset + KEEPALIVE_LENGTH);
  return KEEPALIVE_LENGTH;
}

/**
 * Encodes a CLOSE with a UTF-8 message already encoded by the caller (`TextEncoder.encodeInto`),
 * taken from `message[messageOffset, +messageLength)`. Length `32 + messageLength`.
 * @param reason {@link CloseReason} code (u16)
 * @returns datagram length
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example const m = new TextEncoder().encodeInto('bye', scratch).written; const n = encodeCloseInto(out, 0, peerId, pn++, CloseReason.NORMAL, scratch, 0, m);
 */
export function encodeCloseInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  reason: number,
  message: Uint8Array,
  messageOffset: number,
  messageLength: number,
): number {
  _slice('message', message, messageOffset, messageLength);
  _u16('reason', reason);
  _range('messageLength', messageLength, 0, MAX_MAX_DATAGRAM - CLOSE_BASE_LENGTH);
  const total = CLOSE_BASE_LENGTH + messageLength;
  _room(out, offset, total);
  _ids(connId, packetNumber);
  _copy(message, messageOffset, out, offset + 16, messageLength);
  _header(out, offset, PacketType.CLOSE, 0, connId, packetNumber);
  _writeU16(out, offset + 12, reason);
  _writeU16(out, offset + 14, messageLength);
  _tag(out, offset + total);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Handshake: HELLO, COOKIE, ACCEPT, REJECT (not hot; field records keep the calls readable)

function _checkParams(p: SessionParams): void {
  _u16('params.latencyMs', p.latencyMs);
  _range('params.maxDatagram', p.maxDatagram, MIN_MAX_DATAGRAM, MAX_MAX_DATAGRAM);
  _range('params.maxFrameBytes', p.maxFrameBytes, 1, 0xffff_ffff);
  _range('params.fecWindow', p.fecWindow, 0, MAX_FEC_WINDOW);
  if (p.fecWindow === 0) {
    _range('params.fecStep', p.fecStep, 0, 0);
    _range('params.fecRepairs', p.fecRepairs, 0, 0);
  } else {
    _range('params.fecStep', p.fecStep, 1, p.fecWindow);
    _u8('params.fecRepairs', p.fecRepairs);
  }
  if ((p.sessionFlags & SESSION_FLAGS_WIRE_MASK) !== p.sessionFlags) {
    checkInt('params.sessionFlags', p.sessionFlags, 0, SESSION_FLAGS_WIRE_MASK);
  }
}

function _writeParams(out: Uint8Array, o: number, p: SessionParams): void {
  _writeU16(out, o, p.latencyMs);
  _writeU16(out, o + 2, p.maxDatagram);
  _writeU32(out, o + 4, p.maxFrameBytes);
  _writeU16(out, o + 8, p.fecWindow);
  out[o + 10] = p.fecStep;
  out[o + 11] = p.fecRepairs;
  out[o + 12] = p.sessionFlags;
  out[o + 13] = 0;
  _writeU16(out, o + 14, 0);
}

function _versions(minVersion: number, maxVersion: number): void {
  _range('minVersion', minVersion, 1, 255);
  _range('maxVersion', maxVersion, minVersion, 255);
}

/** Fields of a HELLO (see spec/protocol.md "HELLO"). */
export interface HelloFields {
  /** Lowest wire version the client speaks (1..255). */
  minVersion: number;
  /** Highest wire version the client speaks (minVersion..255). */
  maxVersion: number;
  /** The client's connection id (non-zero): the listener sends to it. */
  sourceConnId: number;
  /** Client clock, microseconds (u32), echoed in COOKIE/ACCEPT/REJECT for an RTT sample. */
  timestamp: number;
  /** Array holding the 16-byte client nonce at `clientNonceOffset` (copied, not retained). */
  clientNonce: Uint8Array;
  /** Index of the nonce in `clientNonce`. */
  clientNonceOffset: number;
  /** The client's proposed session parameters. */
  params: SessionParams;
  /** Array holding the 32-byte cookie at `cookieOffset`, or null for the first HELLO. */
  cookie: Uint8Array | null;
  /** Index of the cookie in `cookie` (ignored when `cookie` is null). */
  cookieOffset: number;
  /** Datagram length to pad to, >= 1200 (anti-amplification). */
  length: number;
}

/**
 * Encodes a HELLO padded with zeros to `h.length` (>= 1200) bytes. Connection id 0; the
 * COOKIE flag is set when `h.cookie` is not null.
 * @returns `h.length`
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example
 * const n = encodeHelloInto(out, 0, pn++, { minVersion: 1, maxVersion: 1, sourceConnId: myId,
 *   timestamp: nowUs >>> 0, clientNonce: nonce, clientNonceOffset: 0, params, cookie: null,
 *   cookieOffset: 0, length: HELLO_MIN_LENGTH });
 */
export function encodeHelloInto(out: Uint8Array, offset: number, packetNumber: number, h: HelloFields): number {
  const total = h.length;
  _range('length', total, HELLO_MIN_LENGTH, MAX_MAX_DATAGRAM);
  _room(out, offset, total);
  _u32('packetNumber', packetNumber);
  _versions(h.minVersion, h.maxVersion);
  _range('sourceConnId', h.sourceConnId, 1, 0xffff_ffff);
  _u32('timestamp', h.timestamp);
  _slice('clientNonce', h.clientNonce, h.clientNonceOffset, NONCE_LENGTH);
  _checkParams(h.params);
  if (h.cookie !== null) _slice('cookie', h.cookie, h.cookieOffset, COOKIE_LENGTH);
  const o = offset;
  _header(out, o, PacketType.HELLO, h.cookie !== null ? HelloFlags.COOKIE : 0, 0, packetNumber);
  out[o + HELLO_OFF_MIN_VERSION] = h.minVersion;
  out[o + HELLO_OFF_MAX_VERSION] = h.maxVersion;
  _writeU16(out, o + 14, 0);
  _writeU32(out, o + HELLO_OFF_SOURCE_CONN_ID, h.sourceConnId);
  _writeU32(out, o + HELLO_OFF_TIMESTAMP, h.timestamp);
  _writeU32(out, o + 24, 0);
  _copy(h.clientNonce, h.clientNonceOffset, out, o + HELLO_OFF_NONCE, NONCE_LENGTH);
  _writeParams(out, o + HELLO_OFF_PARAMS, h.params);
  if (h.cookie !== null) _copy(h.cookie, h.cookieOffset, out, o + HELLO_OFF_COOKIE, COOKIE_LENGTH);
  else out.fill(0, o + HELLO_OFF_COOKIE, o + HELLO_OFF_COOKIE + COOKIE_LENGTH);
  // Padding and tag slot: zeros.
  out.fill(0, o + HELLO_OFF_PADDING, o + total);
  return total;
}

/**
 * Encodes a COOKIE (84 bytes), the listener's stateless reply to a HELLO without a valid cookie.
 * @param connId the HELLO's sourceConnId
 * @param packetNumber 0 (the listener keeps no state, hence no counter, for a COOKIE)
 * @param echoTimestamp the HELLO's timestamp
 * @returns 84
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example const n = encodeCookieInto(out, 0, view.sourceConnId, 0, view.timestamp, view.buf, view.clientNonceOffset, cookie, 0);
 */
export function encodeCookieInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  echoTimestamp: number,
  clientNonce: Uint8Array,
  clientNonceOffset: number,
  cookie: Uint8Array,
  cookieOffset: number,
): number {
  _room(out, offset, COOKIE_PACKET_LENGTH);
  _ids(connId, packetNumber);
  _u32('echoTimestamp', echoTimestamp);
  _slice('clientNonce', clientNonce, clientNonceOffset, NONCE_LENGTH);
  _slice('cookie', cookie, cookieOffset, COOKIE_LENGTH);
  _copy(clientNonce, clientNonceOffset, out, offset + COOKIE_OFF_NONCE, NONCE_LENGTH);
  _copy(cookie, cookieOffset, out, offset + COOKIE_OFF_COOKIE, COOKIE_LENGTH);
  _header(out, offset, PacketType.COOKIE, 0, connId, packetNumber);
  _writeU32(out, offset + COOKIE_OFF_ECHO_TIMESTAMP, echoTimestamp);
  _writeU32(out, offset + 16, 0);
  _tag(out, offset + COOKIE_PACKET_LENGTH);
  return COOKIE_PACKET_LENGTH;
}

/** Fields of an ACCEPT (see spec/protocol.md "ACCEPT"). */
export interface AcceptFields {
  /** Version chosen for the session (1 in this codec). */
  chosenVersion: number;
  /** The listener's connection id for this session (non-zero): the client sends to it. */
  sourceConnId: number;
  /** Listener clock, microseconds (u32). */
  timestamp: number;
  /** The HELLO's timestamp. */
  echoTimestamp: number;
  /** Array holding the HELLO's 16-byte client nonce at `clientNonceOffset` (copied). */
  clientNonce: Uint8Array;
  /** Index of the nonce in `clientNonce`. */
  clientNonceOffset: number;
  /** Array holding the server's fresh 16-byte nonce at `serverNonceOffset` (copied). */
  serverNonce: Uint8Array;
  /** Index of the nonce in `serverNonce`. */
  serverNonceOffset: number;
  /** The negotiated session parameters (binding on both sides). */
  params: SessionParams;
}

/**
 * Encodes an ACCEPT (92 bytes).
 * @param connId the HELLO's sourceConnId
 * @returns 92
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example const n = encodeAcceptInto(out, 0, clientId, 0, { chosenVersion: 1, sourceConnId: myId, timestamp: 0, echoTimestamp: helloTs, clientNonce: nc, clientNonceOffset: 0, serverNonce: ns, serverNonceOffset: 0, params });
 */
export function encodeAcceptInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  a: AcceptFields,
): number {
  _room(out, offset, ACCEPT_PACKET_LENGTH);
  _ids(connId, packetNumber);
  _range('chosenVersion', a.chosenVersion, WIRE_VERSION, WIRE_VERSION);
  _range('sourceConnId', a.sourceConnId, 1, 0xffff_ffff);
  _u32('timestamp', a.timestamp);
  _u32('echoTimestamp', a.echoTimestamp);
  _slice('clientNonce', a.clientNonce, a.clientNonceOffset, NONCE_LENGTH);
  _slice('serverNonce', a.serverNonce, a.serverNonceOffset, NONCE_LENGTH);
  _checkParams(a.params);
  const o = offset;
  _copy(a.clientNonce, a.clientNonceOffset, out, o + ACCEPT_OFF_CLIENT_NONCE, NONCE_LENGTH);
  _copy(a.serverNonce, a.serverNonceOffset, out, o + ACCEPT_OFF_SERVER_NONCE, NONCE_LENGTH);
  _header(out, o, PacketType.ACCEPT, 0, connId, packetNumber);
  out[o + ACCEPT_OFF_VERSION] = a.chosenVersion;
  out[o + 13] = 0;
  _writeU16(out, o + 14, 0);
  _writeU32(out, o + ACCEPT_OFF_SOURCE_CONN_ID, a.sourceConnId);
  _writeU32(out, o + ACCEPT_OFF_TIMESTAMP, a.timestamp);
  _writeU32(out, o + ACCEPT_OFF_ECHO_TIMESTAMP, a.echoTimestamp);
  _writeParams(out, o + ACCEPT_OFF_PARAMS, a.params);
  _tag(out, o + ACCEPT_PACKET_LENGTH);
  return ACCEPT_PACKET_LENGTH;
}

/**
 * Encodes a REJECT (52 bytes).
 * @param connId the HELLO's sourceConnId
 * @param packetNumber 0 (stateless reply)
 * @param reason {@link RejectReason} code (u16)
 * @param minVersion lowest version the listener supports
 * @param maxVersion highest version the listener supports
 * @param echoTimestamp the HELLO's timestamp
 * @returns 52
 * @throws SluiceRangeError on a field out of range or `out` too small
 * @example const n = encodeRejectInto(out, 0, view.sourceConnId, 0, RejectReason.VERSION, 1, 1, view.timestamp, view.buf, view.clientNonceOffset);
 */
export function encodeRejectInto(
  out: Uint8Array,
  offset: number,
  connId: number,
  packetNumber: number,
  reason: number,
  minVersion: number,
  maxVersion: number,
  echoTimestamp: number,
  clientNonce: Uint8Array,
  clientNonceOffset: number,
): number {
  _room(out, offset, REJECT_PACKET_LENGTH);
  _ids(connId, packetNumber);
  _u16('reason', reason);
  _versions(minVersion, maxVersion);
  _u32('echoTimestamp', echoTimestamp);
  _slice('clientNonce', clientNonce, clientNonceOffset, NONCE_LENGTH);
  _copy(clientNonce, clientNonceOffset, out, offset + REJECT_OFF_NONCE, NONCE_LENGTH);
  _header(out, offset, PacketType.REJECT, 0, connId, packetNumber);
  _writeU16(out, offset + REJECT_OFF_REASON, reason);
  out[offset + REJECT_OFF_MIN_VERSION] = minVersion;
  out[offset + REJECT_OFF_MAX_VERSION] = maxVersion;
  _writeU32(out, offset + REJECT_OFF_ECHO_TIMESTAMP, echoTimestamp);
  _tag(out, offset + REJECT_PACKET_LENGTH);
  return REJECT_PACKET_LENGTH;
}
