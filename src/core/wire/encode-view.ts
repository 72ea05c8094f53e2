/**
 * `encodeFromView`: re-encodes a decoded {@link PacketView} (its variable parts are read from
 * `view.buf`). Used to forward or re-stamp a packet and by the tests as the inverse of
 * {@link decodePacket}: for every datagram that decodes OK, `encodeFromView` reproduces it
 * byte for byte except for what the decoder deliberately ignores (unknown flag bits, HELLO
 * padding content, the tag, which is zeroed).
 */
import { SluiceRangeError } from '../errors.js';
import { HELLO_MIN_LENGTH, HelloFlags, PacketType } from './constants.js';
import {
  encodeAcceptInto,
  encodeAckInto,
  encodeCloseInto,
  encodeCookieInto,
  encodeDataInto,
  encodeHelloInto,
  encodeKeepaliveInto,
  encodeRangesInto,
  encodeRejectInto,
  encodeRepairInto,
  type AcceptFields,
  type HelloFields,
} from './encode.js';
import type { PacketView } from './view.js';

const _EMPTY = new Uint8Array(0);

/**
 * Scratch records for the handshake encoders (module level: nothing allocated per call).
 * Their array fields are reset after each call so they never keep a datagram alive.
 */
const _hello: HelloFields = {
  minVersion: 1,
  maxVersion: 1,
  sourceConnId: 1,
  timestamp: 0,
  clientNonce: _EMPTY,
  clientNonceOffset: 0,
  params: { latencyMs: 0, maxDatagram: 0, maxFrameBytes: 0, fecWindow: 0, fecStep: 0, fecRepairs: 0, sessionFlags: 0 },
  cookie: null,
  cookieOffset: 0,
  length: HELLO_MIN_LENGTH,
};
const _accept: AcceptFields = {
  chosenVersion: 1,
  sourceConnId: 1,
  timestamp: 0,
  echoTimestamp: 0,
  clientNonce: _EMPTY,
  clientNonceOffset: 0,
  serverNonce: _EMPTY,
  serverNonceOffset: 0,
  params: _hello.params,
};

/**
 * Encodes the packet described by `view` (as left by a successful {@link decodePacket}) into
 * `out[offset ..]`, tag slot zeroed. The view's packet number and connection id are used as is.
 * @returns bytes written (the original datagram length, except HELLO which keeps `view.length`)
 * @throws SluiceRangeError when `view` does not describe an encodable packet or `out` is too small
 * @example
 * if (decodePacket(view, rx, 0, n) === DecodeStatus.OK) { view.packetNumber = pn++; encodeFromView(tx, 0, view); }
 */
export function encodeFromView(out: Uint8Array, offset: number, view: PacketView): number {
  const b = view.buf;
  switch (view.type) {
    case PacketType.DATA:
      return encodeDataInto(out, offset, view.connId, view.packetNumber, view.flags, view.seq, view.timestamp,
        view.frameLength, b, view.payloadOffset, view.payloadLength);
    case PacketType.REPAIR:
      return encodeRepairInto(out, offset, view.connId, view.packetNumber, view.windowStart, view.windowLength,
        view.repairIndex, b, view.symbolOffset, view.symbolLength);
    case PacketType.ACK:
      return encodeAckInto(out, offset, view.connId, view.packetNumber, view.ackSeq, view.echoTimestamp,
        view.ackDelayUs, view.recvRatePps, view.bufferFreePackets);
    case PacketType.NACK:
    case PacketType.DROP:
      return encodeRangesInto(out, offset, view.type, view.connId, view.packetNumber, view.rangeStarts,
        view.rangeLengths, 0, view.rangeCount, view.largestPn);
    case PacketType.KEEPALIVE:
      return encodeKeepaliveInto(out, offset, view.connId, view.packetNumber, view.timestamp, view.echoTimestamp,
        view.nextSeq);
    case PacketType.CLOSE:
      return encodeCloseInto(out, offset, view.connId, view.packetNumber, view.reason, b, view.messageOffset,
        view.messageLength);
    case PacketType.HELLO: {
      const h = _hello;
      h.minVersion = view.minVersion;
      h.maxVersion = view.maxVersion;
      h.sourceConnId = view.sourceConnId;
      h.timestamp = view.timestamp;
      h.clientNonce = b;
      h.clientNonceOffset = view.clientNonceOffset;
      Object.assign(h.params, view.params);
      h.cookie = (view.flags & HelloFlags.COOKIE) !== 0 ? b : null;
      h.cookieOffset = view.cookieOffset;
      h.length = view.length;
      try {
        return encodeHelloInto(out, offset, view.packetNumber, h);
      } finally {
        h.clientNonce = _EMPTY;
        h.cookie = null;
      }
    }
    case PacketType.COOKIE:
      return encodeCookieInto(out, offset, view.connId, view.packetNumber, view.echoTimestamp, b,
        view.clientNonceOffset, b, view.cookieOffset);
    case PacketType.ACCEPT: {
      const a = _accept;
      a.chosenVersion = view.chosenVersion;
      a.sourceConnId = view.sourceConnId;
      a.timestamp = view.timestamp;
      a.echoTimestamp = view.echoTimestamp;
      a.clientNonce = b;
      a.clientNonceOffset = view.clientNonceOffset;
      a.serverNonce = b;
      a.serverNonceOffset = view.serverNonceOffset;
      Object.assign(a.params, view.params);
      try {
        return encodeAcceptInto(out, offset, view.connId, view.packetNumber, a);
      } finally {
        a.clientNonce = _EMPTY;
        a.serverNonce = _EMPTY;
      }
    }
    case PacketType.REJECT:
      return encodeRejectInto(out, offset, view.connId, view.packetNumber, view.reason, view.minVersion,
        view.maxVersion, view.echoTimestamp, b, view.clientNonceOffset);
    default:
      throw new SluiceRangeError(`view.type: expected a packet type 1..11, got ${view.type}`);
  }
}
