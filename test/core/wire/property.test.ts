/**
 * fast-check properties of the codec (global seed and numRuns=1000 from test/setup.ts):
 * - round trip: arbitrary valid fields of every type -> encode -> decode -> the same fields,
 *   and encodeFromView reproduces the bytes;
 * - decode(arbitrary bytes) never throws and returns a known status;
 * - a mutated valid datagram never throws, and when it still decodes OK the encoder accepts
 *   the view and reproduces an equivalent datagram (decoder and encoder validate alike).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DECODE_STATUS_COUNT,
  DecodeStatus,
  PacketView,
  decodePacket,
  encodeFromView,
} from '../../../src/core/wire/index.js';
import { encodeFields, fromHex, loadVectors, toHex, viewFields, type Fields } from './fields.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const connId = fc.integer({ min: 1, max: 0xffff_ffff });
const bytesHex = (min: number, max: number): fc.Arbitrary<string> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((b) => toHex(b));
const MIB8 = 8 * 1024 * 1024;

const header = { connId, packetNumber: u32 };

const dataArb: fc.Arbitrary<Fields> = fc
  .record({ ...header, flags: fc.integer({ min: 0, max: 15 }), seq: u32, timestamp: u32, payload: bytesHex(0, 1360), extra: fc.integer({ min: 0, max: MIB8 }) })
  .map(({ extra, ...f }) => {
    const len = f.payload.length / 2;
    const frameLength = (f.flags & 3) === 3 ? len : Math.min(MIB8, len + extra);
    return { type: 'DATA', ...f, frameLength };
  });
const repairArb: fc.Arbitrary<Fields> = fc
  .record({ ...header, windowStart: u32, windowLength: fc.integer({ min: 1, max: 255 }), repairIndex: u16, symbol: bytesHex(12, 1360) })
  .map((f) => ({ type: 'REPAIR', ...f }));
const ackArb: fc.Arbitrary<Fields> = fc
  .record({ ...header, ackSeq: u32, echoTimestamp: u32, ackDelayUs: u32, recvRatePps: u32, bufferFreePackets: u32 })
  .map((f) => ({ type: 'ACK', ...f }));
const rangesArb = (type: 'NACK' | 'DROP'): fc.Arbitrary<Fields> =>
  fc
    .record({ ...header, largestPn: u32, ranges: fc.array(fc.tuple(u32, fc.integer({ min: 1, max: 0xffff })), { minLength: 1, maxLength: 227 }) })
    .map((f) => ({ type, ...f }));
const keepaliveArb: fc.Arbitrary<Fields> = fc.record({ ...header, timestamp: u32, echoTimestamp: u32, nextSeq: u32 }).map((f) => ({ type: 'KEEPALIVE', ...f }));
const closeArb: fc.Arbitrary<Fields> = fc.record({ ...header, reason: u16, message: bytesHex(0, 1368) }).map((f) => ({ type: 'CLOSE', ...f }));
const paramsArb = fc
  .record({
    latencyMs: u16,
    maxDatagram: fc.integer({ min: 1200, max: 65507 }),
    maxFrameBytes: fc.integer({ min: 1, max: 0xffff_ffff }),
    fecWindow: fc.integer({ min: 0, max: 255 }),
    stepPick: fc.integer({ min: 1, max: 255 }),
    fecRepairs: fc.integer({ min: 0, max: 255 }),
    sessionFlags: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ stepPick, ...p }) =>
    p.fecWindow === 0 ? { ...p, fecStep: 0, fecRepairs: 0 } : { ...p, fecStep: 1 + (stepPick % p.fecWindow) },
  );
const versionsArb = fc
  .tuple(fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 255 }))
  .map(([a, b]) => ({ minVersion: Math.min(a, b), maxVersion: Math.max(a, b) }));
const helloArb: fc.Arbitrary<Fields> = fc
  .record({
    packetNumber: u32,
    versions: versionsArb,
    sourceConnId: connId,
    timestamp: u32,
    clientNonce: bytesHex(16, 16),
    params: paramsArb,
    cookie: fc.option(bytesHex(32, 32), { nil: null }),
    length: fc.integer({ min: 1200, max: 1400 }),
  })
  .map(({ versions, ...f }) => ({ type: 'HELLO', connId: 0, flags: f.cookie === null ? 0 : 1, ...versions, ...f }));
const cookieArb: fc.Arbitrary<Fields> = fc
  .record({ ...header, echoTimestamp: u32, clientNonce: bytesHex(16, 16), cookie: bytesHex(32, 32) })
  .map((f) => ({ type: 'COOKIE', ...f }));
const acceptArb: fc.Arbitrary<Fields> = fc
  .record({ ...header, sourceConnId: connId, timestamp: u32, echoTimestamp: u32, clientNonce: bytesHex(16, 16), serverNonce: bytesHex(16, 16), params: paramsArb })
  .map((f) => ({ type: 'ACCEPT', chosenVersion: 1, ...f }));
const rejectArb: fc.Arbitrary<Fields> = fc
  .record({ ...header, reason: u16, versions: versionsArb, echoTimestamp: u32, clientNonce: bytesHex(16, 16) })
  .map(({ versions, ...f }) => ({ type: 'REJECT', ...versions, ...f }));

/** Every packet type, with equal weight. */
const anyPacket: fc.Arbitrary<Fields> = fc.oneof(
  dataArb, repairArb, ackArb, rangesArb('NACK'), rangesArb('DROP'), keepaliveArb, closeArb,
  helloArb, cookieArb, acceptArb, rejectArb,
);

/** Field order differs between the arbitraries and viewFields; compare as sorted JSON. */
function canon(f: Fields): string {
  return JSON.stringify(f, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

describe('wire properties', () => {
  const view = new PacketView();
  const out = new Uint8Array(2048);
  const again = new Uint8Array(2048);

  it('round-trips every packet type: encode -> decode -> same fields -> same bytes', () => {
    fc.assert(
      fc.property(anyPacket, fc.integer({ min: 0, max: 64 }), (f, offset) => {
        const n = encodeFields(out, offset, f);
        expect(decodePacket(view, out, offset, n)).toBe(DecodeStatus.OK);
        expect(canon(viewFields(view))).toBe(canon(f));
        const m = encodeFromView(again, 0, view);
        expect(toHex(again, 0, m)).toBe(toHex(out, offset, n));
      }),
    );
  });

  it('decode(arbitrary bytes) never throws and returns a known status', () => {
    const big = new PacketView({ maxDatagram: 65507 });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.boolean(), (bytes, useBig) => {
        const st = decodePacket(useBig ? big : view, bytes, 0, bytes.length);
        expect(Number.isInteger(st) && st >= 0 && st < DECODE_STATUS_COUNT).toBe(true);
      }),
    );
  });

  it('decode(arbitrary header-shaped bytes) never throws; OK views re-encode', () => {
    // Random bytes rarely pass the header; force version 1, a valid type and reserved 0 so
    // the body validators see garbage too.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 11 }), fc.uint8Array({ minLength: 16, maxLength: 1400 }), (type, bytes) => {
        bytes[0] = 1;
        bytes[1] = type;
        bytes[3] = 0;
        const st = decodePacket(view, bytes, 0, bytes.length);
        expect(st >= 0 && st < DECODE_STATUS_COUNT).toBe(true);
        if (st === DecodeStatus.OK) {
          const f = viewFields(view);
          const m = encodeFromView(again, 0, view);
          expect(decodePacket(view, again, 0, m)).toBe(DecodeStatus.OK);
          expect(canon(viewFields(view))).toBe(canon(f));
        }
      }),
    );
  });

  it('a mutated valid vector never throws; when still OK, the encoder accepts it', () => {
    const valid = loadVectors().valid.map((v) => fromHex(v.hex));
    let stillOk = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -20, max: 20 }),
        (which, edits, resize) => {
          const src = valid[which]!;
          const len = Math.max(0, Math.min(1400, src.length + resize));
          const bytes = new Uint8Array(len);
          bytes.set(src.subarray(0, Math.min(len, src.length)));
          for (const [pos, val] of edits) if (len > 0) bytes[pos % len] = val;
          const st = decodePacket(view, bytes, 0, len);
          expect(st >= 0 && st < DECODE_STATUS_COUNT).toBe(true);
          if (st === DecodeStatus.OK) {
            stillOk++;
            const f = viewFields(view);
            const m = encodeFromView(again, 0, view);
            expect(decodePacket(view, again, 0, m)).toBe(DecodeStatus.OK);
            expect(canon(viewFields(view))).toBe(canon(f));
          }
        },
      ),
    );
    // Many mutations land in payloads or tags and must stay decodable: the oracle above ran.
    expect(stillOk).toBeGreaterThan(0);
  });
});
