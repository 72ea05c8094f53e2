/**
 * Unit tests of the codec's edges: encoder misuse throws precise errors, zero-copy encoders,
 * peekHeader routing, view options and memory accounting, status names.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceRangeError, SluiceTypeError } from '../../../src/core/errors.js';
import type { MemoryAccount } from '../../../src/core/memory/types.js';
import {
  ACK_LENGTH,
  DATA_PAYLOAD_OFFSET,
  DECODE_STATUS_COUNT,
  DECODE_STATUS_COUNTERS,
  DEFAULT_MAX_NACK_RANGES,
  DataFlags,
  DecodeStatus,
  KEEPALIVE_LENGTH,
  PacketType,
  PacketView,
  REPAIR_SYMBOL_OFFSET,
  decodePacket,
  decodeStatusName,
  encodeAckInto,
  encodeDataHeaderInto,
  encodeDataInto,
  encodeFromView,
  encodeHelloInto,
  encodeKeepaliveInto,
  encodeRangesInto,
  encodeRepairHeaderInto,
  encodeRepairInto,
  maxRangesFor,
  peekHeader,
  type SessionParams,
} from '../../../src/core/wire/index.js';

const params: SessionParams = { latencyMs: 120, maxDatagram: 1400, maxFrameBytes: 1 << 23, fecWindow: 16, fecStep: 4, fecRepairs: 2, sessionFlags: 1 };

describe('encoders reject misuse', () => {
  const out = new Uint8Array(1500);
  const pl = new Uint8Array(100);
  it('fields out of range throw SluiceRangeError naming the field', () => {
    expect(() => encodeAckInto(out, 0, 1, 0, -1, 0, 0, 0, 0)).toThrow(SluiceRangeError);
    expect(() => encodeAckInto(out, 0, 1, 0, 2 ** 32, 0, 0, 0, 0)).toThrow(/ackSeq: expected an integer in \[0, 4294967295\], got 4294967296/);
    expect(() => encodeAckInto(out, 0, 1, 0, 1.5, 0, 0, 0, 0)).toThrow(/ackSeq/);
    expect(() => encodeAckInto(out, 0, 0, 0, 1, 0, 0, 0, 0)).toThrow(/connId: expected an integer in \[1, 4294967295\], got 0/);
    expect(() => encodeAckInto(out, 0, 1, -1, 1, 0, 0, 0, 0)).toThrow(/packetNumber/);
    expect(() => encodeAckInto(out, 0, 1, 0, '1' as unknown as number, 0, 0, 0, 0)).toThrow(SluiceTypeError);
    expect(() => encodeDataInto(out, 0, 1, 0, DataFlags.FEC_RECOVERED, 0, 0, 100, pl, 0, 100)).toThrow(/flags: expected DataFlags/);
    expect(() => encodeDataInto(out, 0, 1, 0, 0, 0, 0, 99, pl, 0, 100)).toThrow(/payloadLength: expected <= frameLength/);
    expect(() => encodeDataInto(out, 0, 1, 0, DataFlags.FIRST | DataFlags.LAST, 0, 0, 200, pl, 0, 100)).toThrow(/FIRST\|LAST/);
    expect(() => encodeDataInto(out, 0, 1, 0, 0, 0, 0, 100, pl, 50, 51)).toThrow(/payload: expected 51 bytes at offset 50, array has length=100/);
    expect(() => encodeRepairInto(out, 0, 1, 0, 0, 0, 0, pl, 0, 20)).toThrow(/windowLength: expected an integer in \[1, 255\]/);
    expect(() => encodeRepairInto(out, 0, 1, 0, 0, 256, 0, pl, 0, 20)).toThrow(/windowLength/);
    expect(() => encodeRepairInto(out, 0, 1, 0, 0, 4, 0, pl, 0, 11)).toThrow(/symbolLength: expected an integer in \[12, 65535\]/);
    expect(() => encodeRangesInto(out, 0, PacketType.NACK, 1, 0, [1], [0], 0, 1)).toThrow(/lengths\[i\]/);
    expect(() => encodeRangesInto(out, 0, PacketType.NACK, 1, 0, [1], [1], 0, 0)).toThrow(/count/);
    expect(() => encodeRangesInto(out, 0, PacketType.NACK, 1, 0, [1], [1], 0, 2)).toThrow(/first/);
    expect(() => encodeRangesInto(out, 0, PacketType.ACK as typeof PacketType.NACK, 1, 0, [1], [1], 0, 1)).toThrow(/type/);
  });
  it('a too-small out buffer throws and writes nothing', () => {
    const small = new Uint8Array(ACK_LENGTH - 1).fill(9);
    expect(() => encodeAckInto(small, 0, 1, 0, 0, 0, 0, 0, 0)).toThrow(/out: expected 48 bytes at offset 0, buffer has length=47/);
    expect(small.every((b) => b === 9)).toBe(true);
    expect(() => encodeAckInto(out, 1500 - 47, 1, 0, 0, 0, 0, 0, 0)).toThrow(SluiceRangeError);
    expect(() => encodeAckInto(out, -1, 1, 0, 0, 0, 0, 0, 0)).toThrow(SluiceRangeError);
    expect(() => encodeAckInto(null as unknown as Uint8Array, 0, 1, 0, 0, 0, 0, 0, 0)).toThrow(SluiceTypeError);
  });
  it('HELLO must be padded to at least 1200 bytes and carry valid params', () => {
    const nonce = new Uint8Array(16);
    const h = { minVersion: 1, maxVersion: 1, sourceConnId: 5, timestamp: 0, clientNonce: nonce, clientNonceOffset: 0, params, cookie: null, cookieOffset: 0, length: 1200 };
    expect(encodeHelloInto(out, 0, 0, h)).toBe(1200);
    expect(() => encodeHelloInto(out, 0, 0, { ...h, length: 1199 })).toThrow(/length: expected an integer in \[1200, 65507\]/);
    expect(() => encodeHelloInto(out, 0, 0, { ...h, maxVersion: 0 })).toThrow(/maxVersion/);
    expect(() => encodeHelloInto(out, 0, 0, { ...h, sourceConnId: 0 })).toThrow(/sourceConnId/);
    expect(() => encodeHelloInto(out, 0, 0, { ...h, params: { ...params, fecStep: 17 } })).toThrow(/params.fecStep: expected an integer in \[1, 16\]/);
    expect(() => encodeHelloInto(out, 0, 0, { ...h, params: { ...params, maxDatagram: 1000 } })).toThrow(/params.maxDatagram/);
    expect(() => encodeHelloInto(out, 0, 0, { ...h, params: { ...params, sessionFlags: 4 } })).toThrow(/params.sessionFlags/);
    expect(() => encodeHelloInto(out, 0, 0, { ...h, clientNonce: new Uint8Array(15) })).toThrow(/clientNonce: expected 16 bytes/);
  });
});

describe('zero-copy encoders', () => {
  it('encodeDataHeaderInto frames a payload already in place', () => {
    const out = new Uint8Array(1400);
    for (let i = 0; i < 1360; i++) out[DATA_PAYLOAD_OFFSET + i] = i & 0xff;
    const n = encodeDataHeaderInto(out, 0, 9, 1, DataFlags.FIRST, 77, 5, 5000, 1360);
    expect(n).toBe(1400);
    const v = new PacketView();
    expect(decodePacket(v, out, 0, n)).toBe(DecodeStatus.OK);
    expect([v.seq, v.frameLength, v.payloadOffset, v.payloadLength]).toEqual([77, 5000, 24, 1360]);
    expect(out[24 + 1359]).toBe(1359 & 0xff);
    expect(out.subarray(1384, 1400).every((b) => b === 0)).toBe(true);
  });
  it('encodeDataInto copies from the same buffer (memmove) correctly', () => {
    const out = new Uint8Array(200);
    for (let i = 0; i < 50; i++) out[10 + i] = i + 1;
    const n = encodeDataInto(out, 0, 9, 1, 0, 1, 2, 50, out, 10, 50);
    const v = new PacketView();
    expect(decodePacket(v, out, 0, n)).toBe(DecodeStatus.OK);
    expect(Array.from(out.subarray(24, 74))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
  it('encodeRepairHeaderInto frames a symbol already in place', () => {
    const out = new Uint8Array(100);
    out.fill(0xab, REPAIR_SYMBOL_OFFSET, REPAIR_SYMBOL_OFFSET + 20);
    const n = encodeRepairHeaderInto(out, 0, 3, 4, 0xffff_fff0, 32, 1, 20);
    const v = new PacketView();
    expect(decodePacket(v, out, 0, n)).toBe(DecodeStatus.OK);
    expect([v.windowStart, v.windowLength, v.repairIndex, v.symbolLength, out[v.symbolOffset]]).toEqual([0xffff_fff0, 32, 1, 20, 0xab]);
    const copy = new Uint8Array(100);
    expect(encodeRepairInto(copy, 0, 3, 4, 0xffff_fff0, 32, 1, out, REPAIR_SYMBOL_OFFSET, 20)).toBe(n);
    expect(Array.from(copy.subarray(0, n))).toEqual(Array.from(out.subarray(0, n)));
  });
});

describe('peekHeader', () => {
  it('reads the header for routing even when the body is garbage', () => {
    const out = new Uint8Array(100);
    encodeAckInto(out, 0, 0xdead_beef, 12345, 1, 2, 3, 4, 5);
    out[20] = 0xff; // garbage in the body does not matter to peek
    const v = new PacketView();
    expect(peekHeader(out, 0, ACK_LENGTH + 3, v)).toBe(DecodeStatus.OK);
    expect([v.type, v.connId, v.packetNumber, v.tagOffset]).toEqual([PacketType.ACK, 0xdead_beef, 12345, ACK_LENGTH + 3 - 16]);
    expect(decodePacket(v, out, 0, ACK_LENGTH + 3)).toBe(DecodeStatus.BAD_LENGTH);
  });
  it('fills header fields before reporting a bad version', () => {
    const out = new Uint8Array(48);
    encodeAckInto(out, 0, 7, 8, 1, 2, 3, 4, 5);
    out[0] = 2;
    const v = new PacketView();
    expect(peekHeader(out, 0, 48, v)).toBe(DecodeStatus.BAD_VERSION);
    expect([v.version, v.connId, v.packetNumber]).toEqual([2, 7, 8]);
  });
});

describe('KEEPALIVE nextSeq', () => {
  it('is 40 bytes with nextSeq at offset 20, read back by decode and re-encoded from the view', () => {
    expect(KEEPALIVE_LENGTH).toBe(40);
    const out = new Uint8Array(64).fill(0xee);
    expect(encodeKeepaliveInto(out, 3, 0x0102_0304, 9, 0xffff_fff0, 5, 0xffff_fffe)).toBe(40);
    expect(Array.from(out.subarray(3 + 20, 3 + 24))).toEqual([0xff, 0xff, 0xff, 0xfe]);
    expect(out[3 + 40]).toBe(0xee);
    const v = new PacketView();
    expect(v.nextSeq).toBe(0);
    expect(decodePacket(v, out, 3, 40)).toBe(DecodeStatus.OK);
    expect([v.type, v.timestamp, v.echoTimestamp, v.nextSeq]).toEqual([PacketType.KEEPALIVE, 0xffff_fff0, 5, 0xffff_fffe]);
    const again = new Uint8Array(40);
    expect(encodeFromView(again, 0, v)).toBe(40);
    expect(Array.from(again)).toEqual(Array.from(out.subarray(3, 43)));
  });
  it('the old 36-byte layout is TRUNCATED, one extra byte BAD_LENGTH', () => {
    const out = new Uint8Array(64);
    encodeKeepaliveInto(out, 0, 1, 1, 1, 2, 3);
    const v = new PacketView();
    expect(decodePacket(v, out, 0, 36)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(v, out, 0, 39)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(v, out, 0, 41)).toBe(DecodeStatus.BAD_LENGTH);
  });
  it('nextSeq must be a u32', () => {
    const out = new Uint8Array(64);
    expect(() => encodeKeepaliveInto(out, 0, 1, 0, 0, 0, 2 ** 32)).toThrow(/nextSeq: expected an integer in \[0, 4294967295\], got 4294967296/);
    expect(() => encodeKeepaliveInto(out, 0, 1, 0, 0, 0, -1)).toThrow(SluiceRangeError);
    expect(() => encodeKeepaliveInto(out, 0, 1, 0, 0, 0, undefined as unknown as number)).toThrow(/nextSeq/);
    expect(() => encodeKeepaliveInto(new Uint8Array(39), 0, 1, 0, 0, 0, 0)).toThrow(/out: expected 40 bytes/);
  });
});

describe('PacketView', () => {
  it('validates its options', () => {
    expect(() => new PacketView({ maxDatagram: 1199 })).toThrow(/maxDatagram: expected an integer in \[1200, 65507\], got 1199/);
    expect(() => new PacketView({ maxDatagram: 65508 })).toThrow(SluiceRangeError);
    expect(() => new PacketView({ maxFrameBytes: 0 })).toThrow(/maxFrameBytes/);
    expect(new PacketView().maxRanges).toBe(DEFAULT_MAX_NACK_RANGES);
    expect(maxRangesFor(1400)).toBe(227);
    expect(new PacketView({ maxDatagram: 65507 }).maxRanges).toBe(10912);
  });
  it('maxDatagram bounds decode; a bigger limit accepts jumbo datagrams', () => {
    const out = new Uint8Array(9000);
    const pl = new Uint8Array(8000);
    const n = encodeDataInto(out, 0, 1, 1, 0, 0, 0, 8000, pl, 0, 8000);
    expect(decodePacket(new PacketView(), out, 0, n)).toBe(DecodeStatus.OVERSIZED);
    expect(decodePacket(new PacketView({ maxDatagram: 9000 }), out, 0, n)).toBe(DecodeStatus.OK);
  });
  it('maxFrameBytes bounds DATA frameLength', () => {
    const out = new Uint8Array(100);
    const n = encodeDataInto(out, 0, 1, 1, 0, 0, 0, 1001, new Uint8Array(10), 0, 10);
    expect(decodePacket(new PacketView({ maxFrameBytes: 1000 }), out, 0, n)).toBe(DecodeStatus.BAD_FRAME);
    expect(decodePacket(new PacketView({ maxFrameBytes: 1001 }), out, 0, n)).toBe(DecodeStatus.OK);
  });
  it('decodes the largest NACK a jumbo view allows into its arrays', () => {
    const v = new PacketView({ maxDatagram: 65507 });
    const k = v.maxRanges;
    const starts = Array.from({ length: k }, (_, i) => (0xffff_ff00 + i) >>> 0);
    const lens = Array.from({ length: k }, (_, i) => (i % 65535) + 1);
    const out = new Uint8Array(65507);
    const n = encodeRangesInto(out, 0, PacketType.DROP, 1, 1, starts, lens, 0, k);
    expect(n).toBeLessThanOrEqual(65507);
    expect(decodePacket(v, out, 0, n)).toBe(DecodeStatus.OK);
    expect(v.rangeCount).toBe(k);
    expect(v.rangeStarts[k - 1]).toBe(starts[k - 1]);
    // the same NACK is oversized for a default view
    expect(decodePacket(new PacketView(), out, 0, n)).toBe(DecodeStatus.OVERSIZED);
  });
  it('reserves its arrays on the account and returns them on dispose', () => {
    let reserved = 0;
    const account: MemoryAccount = {
      name: 'test.view',
      reserve: (b) => { reserved += b; },
      unreserve: (b) => { reserved -= b; },
      setCapacity: () => {},
      use: () => {},
      setSpanMs: () => {},
    };
    const v = new PacketView({ account });
    expect(reserved).toBe(227 * 6);
    v.dispose();
    v.dispose();
    expect(reserved).toBe(0);
  });
});

describe('statuses', () => {
  it('have stable, unique counter names', () => {
    expect(DECODE_STATUS_COUNTERS.length).toBe(DECODE_STATUS_COUNT);
    expect(new Set(DECODE_STATUS_COUNTERS).size).toBe(DECODE_STATUS_COUNT);
    expect(Object.keys(DecodeStatus).length).toBe(DECODE_STATUS_COUNT);
    expect(decodeStatusName(DecodeStatus.TRUNCATED)).toBe('rx_truncated');
    expect(decodeStatusName(DecodeStatus.HELLO_TOO_SHORT)).toBe('rx_hello_too_short');
    expect(decodeStatusName(99)).toBe('rx_unknown_status');
    for (const [k, code] of Object.entries(DecodeStatus)) {
      expect(DECODE_STATUS_COUNTERS[code]).toBe(`rx_${k.toLowerCase()}`);
    }
  });
});

describe('payload copy paths', () => {
  it('copies exactly for every alignment, length, view offset and buffer sharing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 7 }), // src view byteOffset
        fc.integer({ min: 0, max: 7 }), // out view byteOffset
        fc.integer({ min: 0, max: 300 }), // payloadOffset
        fc.integer({ min: 0, max: 1360 }), // payloadLength
        fc.integer({ min: 0, max: 9 }), // out offset
        fc.boolean(), // share one ArrayBuffer
        (srcView, outView, po, len, oo, shared) => {
          const backing = new ArrayBuffer(8192);
          const src = new Uint8Array(shared ? backing : new ArrayBuffer(4096), srcView, 2000);
          for (let i = 0; i < src.length; i++) src[i] = (i * 29 + 3) & 0xff;
          const expected = Array.from(src.subarray(po, po + len));
          const out = new Uint8Array(backing, 4096 + outView, 1500);
          out.fill(0xee);
          const n = encodeDataInto(out, oo, 1, 1, 0, 0, 0, len, src, po, len);
          expect(n).toBe(40 + len);
          expect(Array.from(out.subarray(oo + 24, oo + 24 + len))).toEqual(expected);
          expect(out[oo + n]).toBe(0xee);
          if (oo > 0) expect(out[oo - 1]).toBe(0xee);
        },
      ),
    );
  });
  it('overlapping views of one buffer copy as memmove', () => {
    const backing = new ArrayBuffer(4096);
    const all = new Uint8Array(backing);
    for (let i = 0; i < all.length; i++) all[i] = i & 0xff;
    const src = new Uint8Array(backing, 100, 1000);
    const out = new Uint8Array(backing, 90, 1200); // payload lands at 90+24 = 114: overlaps src
    const expected = Array.from(src.subarray(0, 500));
    encodeDataInto(out, 0, 1, 1, 0, 0, 0, 500, src, 0, 500);
    expect(Array.from(out.subarray(24, 524))).toEqual(expected);
  });
});

describe('payload copy with a resizable ArrayBuffer', () => {
  it('re-aliases after the source buffer grows', () => {
    const AB = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
    const rb = new AB(256, { maxByteLength: 8192 });
    const src = new Uint8Array(rb); // length-tracking view
    src.fill(1);
    const out = new Uint8Array(2048);
    encodeDataInto(out, 0, 1, 1, 0, 0, 0, 100, src, 4, 100);
    rb.resize(4096);
    for (let i = 0; i < src.length; i++) src[i] = (i * 5) & 0xff;
    encodeDataInto(out, 0, 1, 1, 0, 0, 0, 1000, src, 3000, 1000);
    expect(Array.from(out.subarray(24, 1024))).toEqual(Array.from(src.subarray(3000, 4000)));
  });
});
