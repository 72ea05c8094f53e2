/**
 * Test helpers shared by the wire tests, the fuzz target and the bench: a plain-object form of
 * every packet type (the shape used by spec/vectors/wire.json), an encoder driven by it (one
 * table drives encoder and decoder tests, h11 style) and an extractor from a decoded view.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PacketType,
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
  type PacketView,
  type SessionParams,
} from '../../../src/core/wire/index.js';

/** A packet as a plain object: `type` is the upper-case type name; byte strings are hex. */
export type Fields = Record<string, unknown> & { type: string };

export interface ValidVector {
  name: string;
  note?: string;
  hex: string;
  fields: Fields & { reencodeHex?: string };
}
export interface InvalidVector {
  name: string;
  note?: string;
  hex: string;
  status: string;
}
export interface VectorFile {
  valid: ValidVector[];
  invalid: InvalidVector[];
}

/** Loads spec/vectors/wire.json. */
export function loadVectors(): VectorFile {
  const path = join(import.meta.dirname, '..', '..', '..', 'spec', 'vectors', 'wire.json');
  return JSON.parse(readFileSync(path, 'utf8')) as VectorFile;
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
export function toHex(b: Uint8Array, offset = 0, length = b.length - offset): string {
  return Buffer.from(b.buffer, b.byteOffset + offset, length).toString('hex');
}

const TYPE_CODES: Record<string, number> = {
  HELLO: PacketType.HELLO,
  COOKIE: PacketType.COOKIE,
  ACCEPT: PacketType.ACCEPT,
  DATA: PacketType.DATA,
  REPAIR: PacketType.REPAIR,
  ACK: PacketType.ACK,
  NACK: PacketType.NACK,
  DROP: PacketType.DROP,
  KEEPALIVE: PacketType.KEEPALIVE,
  CLOSE: PacketType.CLOSE,
  REJECT: PacketType.REJECT,
};
export const TYPE_NAMES: string[] = Object.keys(TYPE_CODES);
export function typeCode(name: string): number {
  const c = TYPE_CODES[name];
  if (c === undefined) throw new Error(`unknown type ${name}`);
  return c;
}

const n = (f: Fields, k: string): number => f[k] as number;
const h = (f: Fields, k: string): Uint8Array => fromHex(f[k] as string);

/** Encodes `f` with the per-type encoder into `out[offset ..]`; returns bytes written. */
export function encodeFields(out: Uint8Array, offset: number, f: Fields): number {
  const id = n(f, 'connId');
  const pn = n(f, 'packetNumber');
  switch (f.type) {
    case 'DATA': {
      const p = h(f, 'payload');
      return encodeDataInto(out, offset, id, pn, n(f, 'flags'), n(f, 'seq'), n(f, 'timestamp'), n(f, 'frameLength'), p, 0, p.length);
    }
    case 'REPAIR': {
      const s = h(f, 'symbol');
      return encodeRepairInto(out, offset, id, pn, n(f, 'windowStart'), n(f, 'windowLength'), n(f, 'repairIndex'), s, 0, s.length);
    }
    case 'ACK':
      return encodeAckInto(out, offset, id, pn, n(f, 'ackSeq'), n(f, 'echoTimestamp'), n(f, 'ackDelayUs'), n(f, 'recvRatePps'), n(f, 'bufferFreePackets'));
    case 'NACK':
    case 'DROP': {
      const r = f.ranges as Array<[number, number]>;
      return encodeRangesInto(out, offset, f.type === 'NACK' ? PacketType.NACK : PacketType.DROP, id, pn,
        r.map((x) => x[0]), r.map((x) => x[1]), 0, r.length, n(f, 'largestPn'));
    }
    case 'KEEPALIVE':
      return encodeKeepaliveInto(out, offset, id, pn, n(f, 'timestamp'), n(f, 'echoTimestamp'), n(f, 'nextSeq'));
    case 'CLOSE': {
      const m = h(f, 'message');
      return encodeCloseInto(out, offset, id, pn, n(f, 'reason'), m, 0, m.length);
    }
    case 'HELLO':
      return encodeHelloInto(out, offset, pn, {
        minVersion: n(f, 'minVersion'),
        maxVersion: n(f, 'maxVersion'),
        sourceConnId: n(f, 'sourceConnId'),
        timestamp: n(f, 'timestamp'),
        clientNonce: h(f, 'clientNonce'),
        clientNonceOffset: 0,
        params: f.params as SessionParams,
        cookie: f.cookie === null ? null : h(f, 'cookie'),
        cookieOffset: 0,
        length: n(f, 'length'),
      });
    case 'COOKIE':
      return encodeCookieInto(out, offset, id, pn, n(f, 'echoTimestamp'), h(f, 'clientNonce'), 0, h(f, 'cookie'), 0);
    case 'ACCEPT':
      return encodeAcceptInto(out, offset, id, pn, {
        chosenVersion: n(f, 'chosenVersion'),
        sourceConnId: n(f, 'sourceConnId'),
        timestamp: n(f, 'timestamp'),
        echoTimestamp: n(f, 'echoTimestamp'),
        clientNonce: h(f, 'clientNonce'),
        clientNonceOffset: 0,
        serverNonce: h(f, 'serverNonce'),
        serverNonceOffset: 0,
        params: f.params as SessionParams,
      });
    case 'REJECT':
      return encodeRejectInto(out, offset, id, pn, n(f, 'reason'), n(f, 'minVersion'), n(f, 'maxVersion'), n(f, 'echoTimestamp'), h(f, 'clientNonce'), 0);
    default:
      throw new Error(`unknown type ${f.type}`);
  }
}

const params = (v: PacketView): SessionParams => ({
  latencyMs: v.params.latencyMs,
  maxDatagram: v.params.maxDatagram,
  maxFrameBytes: v.params.maxFrameBytes,
  fecWindow: v.params.fecWindow,
  fecStep: v.params.fecStep,
  fecRepairs: v.params.fecRepairs,
  sessionFlags: v.params.sessionFlags,
});

/** Extracts the fields of a successfully decoded view in the vector shape. */
export function viewFields(v: PacketView): Fields {
  const b = v.buf;
  const hex = (o: number, len: number): string => toHex(b, o, len);
  const base = { connId: v.connId, packetNumber: v.packetNumber };
  switch (v.type) {
    case PacketType.DATA:
      return { type: 'DATA', ...base, flags: v.flags, seq: v.seq, timestamp: v.timestamp, frameLength: v.frameLength, payload: hex(v.payloadOffset, v.payloadLength) };
    case PacketType.REPAIR:
      return { type: 'REPAIR', ...base, windowStart: v.windowStart, windowLength: v.windowLength, repairIndex: v.repairIndex, symbol: hex(v.symbolOffset, v.symbolLength) };
    case PacketType.ACK:
      return { type: 'ACK', ...base, ackSeq: v.ackSeq, echoTimestamp: v.echoTimestamp, ackDelayUs: v.ackDelayUs, recvRatePps: v.recvRatePps, bufferFreePackets: v.bufferFreePackets };
    case PacketType.NACK:
    case PacketType.DROP: {
      const ranges: Array<[number, number]> = [];
      for (let i = 0; i < v.rangeCount; i++) ranges.push([v.rangeStarts[i]!, v.rangeLengths[i]!]);
      return { type: v.type === PacketType.NACK ? 'NACK' : 'DROP', ...base, largestPn: v.largestPn, ranges };
    }
    case PacketType.KEEPALIVE:
      return { type: 'KEEPALIVE', ...base, timestamp: v.timestamp, echoTimestamp: v.echoTimestamp, nextSeq: v.nextSeq };
    case PacketType.CLOSE:
      return { type: 'CLOSE', ...base, reason: v.reason, message: hex(v.messageOffset, v.messageLength) };
    case PacketType.HELLO:
      return {
        type: 'HELLO', ...base, flags: v.flags, minVersion: v.minVersion, maxVersion: v.maxVersion, sourceConnId: v.sourceConnId,
        timestamp: v.timestamp, clientNonce: hex(v.clientNonceOffset, 16), params: params(v),
        cookie: (v.flags & 1) !== 0 ? hex(v.cookieOffset, 32) : null, length: v.length,
      };
    case PacketType.COOKIE:
      return { type: 'COOKIE', ...base, echoTimestamp: v.echoTimestamp, clientNonce: hex(v.clientNonceOffset, 16), cookie: hex(v.cookieOffset, 32) };
    case PacketType.ACCEPT:
      return {
        type: 'ACCEPT', ...base, chosenVersion: v.chosenVersion, sourceConnId: v.sourceConnId, timestamp: v.timestamp,
        echoTimestamp: v.echoTimestamp, clientNonce: hex(v.clientNonceOffset, 16), serverNonce: hex(v.serverNonceOffset, 16), params: params(v),
      };
    case PacketType.REJECT:
      return { type: 'REJECT', ...base, reason: v.reason, minVersion: v.minVersion, maxVersion: v.maxVersion, echoTimestamp: v.echoTimestamp, clientNonce: hex(v.clientNonceOffset, 16) };
    default:
      throw new Error(`not a decodable type ${v.type}`);
  }
}
