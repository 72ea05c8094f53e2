/**
 * The wire v1 decoder: `peekHeader` (fixed header only, for routing before authentication)
 * and `decodePacket` (full validation of every type).
 *
 * Network input never throws (STYLE.md habit 6): both functions return a {@link DecodeStatus}
 * and fill a caller-owned {@link PacketView}. Every read is preceded by a length check, so no
 * byte outside `buf[offset, offset + length)` is ever read. Nothing is allocated.
 *
 * Decoding is structural only: the tag is NOT verified here. The caller authenticates the
 * datagram (auth layer, using `view.tagOffset`) before trusting anything past the header.
 */
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
  COOKIE_OFF_COOKIE,
  COOKIE_OFF_ECHO_TIMESTAMP,
  COOKIE_OFF_NONCE,
  COOKIE_PACKET_LENGTH,
  DATA_FLAGS_WIRE_MASK,
  DATA_OVERHEAD,
  DataFlags,
  HEADER_LENGTH,
  HELLO_FLAGS_WIRE_MASK,
  HELLO_MIN_LENGTH,
  HELLO_OFF_COOKIE,
  HELLO_OFF_MAX_VERSION,
  HELLO_OFF_MIN_VERSION,
  HELLO_OFF_NONCE,
  HELLO_OFF_PADDING,
  HELLO_OFF_PARAMS,
  HELLO_OFF_SOURCE_CONN_ID,
  HELLO_OFF_TIMESTAMP,
  KEEPALIVE_LENGTH,
  MAX_FEC_WINDOW,
  MAX_MAX_DATAGRAM,
  MIN_MAX_DATAGRAM,
  MIN_PACKET_LENGTH,
  OFF_CONN_ID,
  OFF_FLAGS,
  OFF_PACKET_NUMBER,
  OFF_RESERVED,
  OFF_TYPE,
  OFF_VERSION,
  PACKET_TYPE_MAX,
  PACKET_TYPE_MIN,
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
  SESSION_FLAGS_WIRE_MASK,
  TAG_LENGTH,
  WIRE_VERSION,
  FEC_SYMBOL_PREFIX_LENGTH,
} from './constants.js';
import { DecodeStatus } from './status.js';
import { _readU16, _readU32 } from './_bytes.js';
import type { PacketView, SessionParamsView } from './view.js';

const FIRST_LAST = DataFlags.FIRST | DataFlags.LAST;

/**
 * Flag bits defined per type (indexed by type code). Unknown bits are ignored on receive
 * (spec: "0 on send, ignored on receive"), so decodePacket masks them off and the view only
 * ever shows defined bits.
 */
const _FLAG_MASKS = /* @__PURE__ */ _flagMasks();
function _flagMasks(): Uint8Array {
  const m = new Uint8Array(256);
  m[PacketType.DATA] = DATA_FLAGS_WIRE_MASK;
  m[PacketType.HELLO] = HELLO_FLAGS_WIRE_MASK;
  return m;
}

/**
 * Reads and checks only the 12-byte common header: enough to route a datagram to its
 * connection by `view.connId` before authenticating it.
 *
 * Fills `view.buf/offset/length/tagOffset` and, once at least 12 bytes are present,
 * `version/type/flags/connId/packetNumber` (even when the status is not OK, so a caller may
 * log them). Checks: bounds, length in [28, view.maxDatagram], version 1, assigned type,
 * reserved byte 0, connection id 0 exactly for HELLO.
 *
 * @param buf datagram storage (not copied; the view keeps a reference)
 * @param offset index of the first byte of the datagram in `buf`
 * @param length datagram length in bytes
 * @returns a {@link DecodeStatus}; `TRUNCATED` also when `[offset, offset+length)` is not
 *   inside `buf` or the arguments are not non-negative integers. Never throws.
 * @example
 * if (peekHeader(buf, 0, n, view) === DecodeStatus.OK) route(view.connId);
 */
export function peekHeader(buf: Uint8Array, offset: number, length: number, view: PacketView): DecodeStatus {
  view.buf = buf;
  view.offset = offset;
  view.length = length;
  view.tagOffset = offset + length - TAG_LENGTH;
  // `>>> 0 !==` rejects negatives, fractions, NaN and non-numbers in one comparison each.
  if (offset >>> 0 !== offset || length >>> 0 !== length || offset + length > buf.length) {
    return DecodeStatus.TRUNCATED;
  }
  if (length < HEADER_LENGTH) return DecodeStatus.TRUNCATED;
  const version = buf[offset + OFF_VERSION]!;
  const type = buf[offset + OFF_TYPE]!;
  view.version = version;
  view.type = type;
  view.flags = buf[offset + OFF_FLAGS]!;
  view.connId = _readU32(buf, offset + OFF_CONN_ID);
  view.packetNumber = _readU32(buf, offset + OFF_PACKET_NUMBER);
  if (length < MIN_PACKET_LENGTH) return DecodeStatus.TRUNCATED;
  if (length > view.maxDatagram) return DecodeStatus.OVERSIZED;
  if (version !== WIRE_VERSION) return DecodeStatus.BAD_VERSION;
  if (type < PACKET_TYPE_MIN || type > PACKET_TYPE_MAX) return DecodeStatus.UNKNOWN_TYPE;
  if (buf[offset + OFF_RESERVED] !== 0) return DecodeStatus.BAD_RESERVED;
  if ((type === PacketType.HELLO) !== (view.connId === 0)) return DecodeStatus.BAD_CONN_ID;
  return DecodeStatus.OK;
}

/**
 * Decodes and validates one datagram into `view` (see spec/protocol.md for every rule).
 *
 * On `OK` every field of `view.type` is set; payload, symbol, nonces, cookie and message are
 * offsets into `buf` (not copied, valid while `buf` is). On any other status the view holds
 * a partial decode and must not be used. The tag is not verified here.
 *
 * @param view reusable result (one per endpoint)
 * @param buf datagram storage
 * @param offset index of the first byte of the datagram in `buf`
 * @param length datagram length in bytes
 * @returns a {@link DecodeStatus}. Never throws, never reads outside `buf[offset, offset+length)`.
 * @example
 * const st = decodePacket(view, datagram, 0, datagram.length);
 * if (st !== DecodeStatus.OK) counters[st]++;
 */
export function decodePacket(view: PacketView, buf: Uint8Array, offset: number, length: number): DecodeStatus {
  const st = peekHeader(buf, offset, length, view);
  if (st !== DecodeStatus.OK) return st;
  view.flags &= _FLAG_MASKS[view.type]!;
  switch (view.type) {
    case PacketType.DATA:
      return _decodeData(view, buf, offset, length);
    case PacketType.REPAIR:
      return _decodeRepair(view, buf, offset, length);
    case PacketType.ACK:
      return _decodeAck(view, buf, offset, length);
    case PacketType.NACK:
    case PacketType.DROP:
      return _decodeRanges(view, buf, offset, length);
    case PacketType.KEEPALIVE:
      return _decodeKeepalive(view, buf, offset, length);
    case PacketType.CLOSE:
      return _decodeClose(view, buf, offset, length);
    case PacketType.HELLO:
      return _decodeHello(view, buf, offset, length);
    case PacketType.COOKIE:
      return _decodeCookie(view, buf, offset, length);
    case PacketType.ACCEPT:
      return _decodeAccept(view, buf, offset, length);
    case PacketType.REJECT:
      return _decodeReject(view, buf, offset, length);
    default:
      return DecodeStatus.UNKNOWN_TYPE;
  }
}

/** Status for a fixed-size type whose datagram is `length` bytes but must be `expected`. */
function _fixedLength(length: number, expected: number): DecodeStatus {
  return length < expected ? DecodeStatus.TRUNCATED : DecodeStatus.BAD_LENGTH;
}

function _decodeData(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length < DATA_OVERHEAD) return DecodeStatus.TRUNCATED;
  const flags = view.flags;
  view.seq = _readU32(b, o + 12);
  view.timestamp = _readU32(b, o + 16);
  const frameLength = _readU32(b, o + 20);
  view.frameLength = frameLength;
  const payloadLength = length - DATA_OVERHEAD;
  view.payloadOffset = o + 24;
  view.payloadLength = payloadLength;
  if (frameLength > view.maxFrameBytes || payloadLength > frameLength) return DecodeStatus.BAD_FRAME;
  // A fragment that is both first and last is the whole frame.
  if ((flags & FIRST_LAST) === FIRST_LAST && payloadLength !== frameLength) return DecodeStatus.BAD_FRAME;
  return DecodeStatus.OK;
}

function _decodeRepair(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length < REPAIR_OVERHEAD) return DecodeStatus.TRUNCATED;
  view.windowStart = _readU32(b, o + 12);
  const windowLength = _readU16(b, o + 16);
  view.windowLength = windowLength;
  view.repairIndex = _readU16(b, o + 18);
  const symbolLength = _readU16(b, o + 20);
  view.symbolLength = symbolLength;
  view.symbolOffset = o + 24;
  if (_readU16(b, o + 22) !== 0) return DecodeStatus.BAD_RESERVED;
  if (windowLength === 0 || windowLength > MAX_FEC_WINDOW) return DecodeStatus.BAD_RANGE;
  if (symbolLength !== length - REPAIR_OVERHEAD || symbolLength < FEC_SYMBOL_PREFIX_LENGTH) {
    return DecodeStatus.BAD_LENGTH;
  }
  return DecodeStatus.OK;
}

function _decodeAck(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length !== ACK_LENGTH) return _fixedLength(length, ACK_LENGTH);
  view.ackSeq = _readU32(b, o + 12);
  view.echoTimestamp = _readU32(b, o + 16);
  view.ackDelayUs = _readU32(b, o + 20);
  view.recvRatePps = _readU32(b, o + 24);
  view.bufferFreePackets = _readU32(b, o + 28);
  return DecodeStatus.OK;
}

function _decodeRanges(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length < RANGES_BASE_LENGTH) return DecodeStatus.TRUNCATED;
  view.largestPn = _readU32(b, o + 12);
  const count = _readU16(b, o + 16);
  view.rangeCount = 0;
  if (count === 0) return DecodeStatus.BAD_RANGE;
  if (RANGES_BASE_LENGTH + count * RANGE_ENTRY_LENGTH !== length) return DecodeStatus.BAD_LENGTH;
  // Unreachable while length <= maxDatagram (the arrays are sized for it); kept so a future
  // change of the sizing rule cannot turn into an out-of-bounds write.
  if (count > view.maxRanges) return DecodeStatus.BAD_RANGE;
  const starts = view.rangeStarts;
  const lengths = view.rangeLengths;
  let p = o + 18;
  for (let i = 0; i < count; i++) {
    const n = _readU16(b, p + 4);
    if (n === 0) return DecodeStatus.BAD_RANGE;
    starts[i] = _readU32(b, p);
    lengths[i] = n;
    p += RANGE_ENTRY_LENGTH;
  }
  view.rangeCount = count;
  return DecodeStatus.OK;
}

function _decodeKeepalive(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length !== KEEPALIVE_LENGTH) return _fixedLength(length, KEEPALIVE_LENGTH);
  view.timestamp = _readU32(b, o + 12);
  view.echoTimestamp = _readU32(b, o + 16);
  view.nextSeq = _readU32(b, o + 20);
  return DecodeStatus.OK;
}

function _decodeClose(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length < CLOSE_BASE_LENGTH) return DecodeStatus.TRUNCATED;
  view.reason = _readU16(b, o + 12);
  const n = _readU16(b, o + 14);
  view.messageOffset = o + 16;
  view.messageLength = n;
  if (CLOSE_BASE_LENGTH + n !== length) return DecodeStatus.BAD_LENGTH;
  return DecodeStatus.OK;
}

/** Reads the 16-byte session parameter block at `p`; returns OK, BAD_RESERVED or BAD_PARAMS. */
function _readParams(out: SessionParamsView, b: Uint8Array, p: number): DecodeStatus {
  out.latencyMs = _readU16(b, p);
  const maxDatagram = _readU16(b, p + 2);
  out.maxDatagram = maxDatagram;
  const maxFrameBytes = _readU32(b, p + 4);
  out.maxFrameBytes = maxFrameBytes;
  const window = _readU16(b, p + 8);
  out.fecWindow = window;
  const step = b[p + 10]!;
  out.fecStep = step;
  const repairs = b[p + 11]!;
  out.fecRepairs = repairs;
  out.sessionFlags = b[p + 12]! & SESSION_FLAGS_WIRE_MASK;
  if (b[p + 13] !== 0 || _readU16(b, p + 14) !== 0) return DecodeStatus.BAD_RESERVED;
  if (maxDatagram < MIN_MAX_DATAGRAM || maxDatagram > MAX_MAX_DATAGRAM || maxFrameBytes === 0) {
    return DecodeStatus.BAD_PARAMS;
  }
  if (window === 0) {
    if (step !== 0 || repairs !== 0) return DecodeStatus.BAD_PARAMS;
  } else if (window > MAX_FEC_WINDOW || step === 0 || step > window) {
    return DecodeStatus.BAD_PARAMS;
  }
  return DecodeStatus.OK;
}

function _decodeHello(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  // Checked before any body read: an unpadded HELLO is the amplification vector we refuse.
  if (length < HELLO_MIN_LENGTH) return DecodeStatus.HELLO_TOO_SHORT;
  const minVersion = b[o + HELLO_OFF_MIN_VERSION]!;
  const maxVersion = b[o + HELLO_OFF_MAX_VERSION]!;
  view.minVersion = minVersion;
  view.maxVersion = maxVersion;
  view.sourceConnId = _readU32(b, o + HELLO_OFF_SOURCE_CONN_ID);
  view.timestamp = _readU32(b, o + HELLO_OFF_TIMESTAMP);
  view.clientNonceOffset = o + HELLO_OFF_NONCE;
  view.cookieOffset = o + HELLO_OFF_COOKIE;
  view.paddingLength = length - HELLO_OFF_PADDING - TAG_LENGTH;
  if (_readU16(b, o + 14) !== 0 || _readU32(b, o + 24) !== 0) return DecodeStatus.BAD_RESERVED;
  if (minVersion === 0 || minVersion > maxVersion) return DecodeStatus.BAD_VERSION;
  if (view.sourceConnId === 0) return DecodeStatus.BAD_CONN_ID;
  return _readParams(view.params, b, o + HELLO_OFF_PARAMS);
}

function _decodeCookie(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length !== COOKIE_PACKET_LENGTH) return _fixedLength(length, COOKIE_PACKET_LENGTH);
  view.echoTimestamp = _readU32(b, o + COOKIE_OFF_ECHO_TIMESTAMP);
  view.clientNonceOffset = o + COOKIE_OFF_NONCE;
  view.cookieOffset = o + COOKIE_OFF_COOKIE;
  if (_readU32(b, o + 16) !== 0) return DecodeStatus.BAD_RESERVED;
  return DecodeStatus.OK;
}

function _decodeAccept(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length !== ACCEPT_PACKET_LENGTH) return _fixedLength(length, ACCEPT_PACKET_LENGTH);
  const chosen = b[o + ACCEPT_OFF_VERSION]!;
  view.chosenVersion = chosen;
  view.sourceConnId = _readU32(b, o + ACCEPT_OFF_SOURCE_CONN_ID);
  view.timestamp = _readU32(b, o + ACCEPT_OFF_TIMESTAMP);
  view.echoTimestamp = _readU32(b, o + ACCEPT_OFF_ECHO_TIMESTAMP);
  view.clientNonceOffset = o + ACCEPT_OFF_CLIENT_NONCE;
  view.serverNonceOffset = o + ACCEPT_OFF_SERVER_NONCE;
  if (b[o + 13] !== 0 || _readU16(b, o + 14) !== 0) return DecodeStatus.BAD_RESERVED;
  // The ACCEPT itself is a v1 packet, so the chosen version can only be 1 in this codec.
  if (chosen !== WIRE_VERSION) return DecodeStatus.BAD_VERSION;
  if (view.sourceConnId === 0) return DecodeStatus.BAD_CONN_ID;
  return _readParams(view.params, b, o + ACCEPT_OFF_PARAMS);
}

function _decodeReject(view: PacketView, b: Uint8Array, o: number, length: number): DecodeStatus {
  if (length !== REJECT_PACKET_LENGTH) return _fixedLength(length, REJECT_PACKET_LENGTH);
  view.reason = _readU16(b, o + REJECT_OFF_REASON);
  const minVersion = b[o + REJECT_OFF_MIN_VERSION]!;
  const maxVersion = b[o + REJECT_OFF_MAX_VERSION]!;
  view.minVersion = minVersion;
  view.maxVersion = maxVersion;
  view.echoTimestamp = _readU32(b, o + REJECT_OFF_ECHO_TIMESTAMP);
  view.clientNonceOffset = o + REJECT_OFF_NONCE;
  if (minVersion === 0 || minVersion > maxVersion) return DecodeStatus.BAD_VERSION;
  return DecodeStatus.OK;
}
