/**
 * Generates spec/vectors/wire.json: known-answer vectors for wire format v1.
 *
 * Independent of the codec on purpose: every datagram is spelled out here field by field as hex
 * strings (`u8/u16/u32` below), straight from the byte tables of spec/protocol.md, so the tests
 * that compare the codec against these vectors are a real second opinion and not the encoder
 * checking itself. Run: `npx tsx test/core/wire/gen-vectors.ts` (writes the file; commit it).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const u8 = (v: number): string => (v & 0xff).toString(16).padStart(2, '0');
const u16 = (v: number): string => (v & 0xffff).toString(16).padStart(4, '0');
const u32 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
const zeros = (n: number): string => '00'.repeat(n);
const TAG = zeros(16);
/** Bytes 0, 1, 2, ... (mod 256) as hex: recognisable payloads. */
const ramp = (n: number, start = 0): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += u8(start + i);
  return s;
};
const header = (type: number, flags: number, connId: number, pn: number): string =>
  u8(1) + u8(type) + u8(flags) + u8(0) + u32(connId) + u32(pn);

interface Params {
  latencyMs: number;
  maxDatagram: number;
  maxFrameBytes: number;
  fecWindow: number;
  fecStep: number;
  fecRepairs: number;
  sessionFlags: number;
}
const params = (p: Params): string =>
  u16(p.latencyMs) + u16(p.maxDatagram) + u32(p.maxFrameBytes) + u16(p.fecWindow) + u8(p.fecStep) +
  u8(p.fecRepairs) + u8(p.sessionFlags) + u8(0) + u16(0);

interface Valid {
  name: string;
  note?: string;
  hex: string;
  fields: Record<string, unknown>;
}
interface Invalid {
  name: string;
  note?: string;
  hex: string;
  status: string;
}
const valid: Valid[] = [];
const invalid: Invalid[] = [];

// ---- DATA
{
  const f = { type: 'DATA', connId: 0x11223344, packetNumber: 7, flags: 0x01 | 0x08, seq: 1000, timestamp: 2_000_000, frameLength: 3000, payload: ramp(16) };
  valid.push({
    name: 'data-first-keyframe',
    note: 'first fragment of a 3000-byte keyframe, 16-byte payload',
    hex: header(4, f.flags, f.connId, f.packetNumber) + u32(f.seq) + u32(f.timestamp) + u32(f.frameLength) + f.payload + TAG,
    fields: f,
  });
}
{
  const f = { type: 'DATA', connId: 1, packetNumber: 0xffffffff, flags: 0x02 | 0x04, seq: 0xffffffff, timestamp: 0xffffffff, frameLength: 1360, payload: ramp(1360, 0x40) };
  valid.push({
    name: 'data-max-payload-wrap',
    note: 'seq, timestamp and packet number at 2^32-1; 1360-byte payload (1400-byte datagram); LAST|RETRANSMIT',
    hex: header(4, f.flags, f.connId, f.packetNumber) + u32(f.seq) + u32(f.timestamp) + u32(f.frameLength) + f.payload + TAG,
    fields: f,
  });
}
{
  const f = { type: 'DATA', connId: 0xfffffffe, packetNumber: 0, flags: 0x03, seq: 0, timestamp: 0, frameLength: 0, payload: '' };
  valid.push({
    name: 'data-empty-frame',
    note: 'an empty frame: FIRST|LAST with no payload (40 bytes)',
    hex: header(4, f.flags, f.connId, f.packetNumber) + u32(0) + u32(0) + u32(0) + TAG,
    fields: f,
  });
}
{
  const f = { type: 'DATA', connId: 9, packetNumber: 3, flags: 0x03, seq: 5, timestamp: 100, frameLength: 4, payload: 'deadbeef' };
  valid.push({
    name: 'data-unknown-flag-bits-ignored',
    note: 'flags byte 0xf3 on the wire: bits above 0x0f (incl. FEC_RECOVERED 0x10) are ignored on receive; re-encodes as 0x03',
    hex: header(4, 0xf3, f.connId, f.packetNumber) + u32(f.seq) + u32(f.timestamp) + u32(f.frameLength) + f.payload + TAG,
    fields: { ...f, reencodeHex: header(4, 0x03, f.connId, f.packetNumber) + u32(f.seq) + u32(f.timestamp) + u32(f.frameLength) + f.payload + TAG },
  });
}

// ---- REPAIR
{
  const symbol = u8(0x09) + u8(0) + u16(8) + u32(12345) + u32(8) + ramp(8, 0x80);
  const f = { type: 'REPAIR', connId: 0x0a0b0c0d, packetNumber: 42, windowStart: 0xfffffff0, windowLength: 32, repairIndex: 3, symbol };
  valid.push({
    name: 'repair-window-across-wrap',
    note: 'window [2^32-16, 2^32-16+32) crosses the wrap; 20-byte symbol (12-byte prefix + 8)',
    hex: header(5, 0, f.connId, f.packetNumber) + u32(f.windowStart) + u16(32) + u16(3) + u16(20) + u16(0) + symbol + TAG,
    fields: f,
  });
}
{
  const symbol = zeros(12);
  const f = { type: 'REPAIR', connId: 2, packetNumber: 1, windowStart: 0, windowLength: 255, repairIndex: 0xffff, symbol };
  valid.push({
    name: 'repair-max-window-min-symbol',
    note: 'window of 255 (the maximum), a 12-byte symbol (prefix only: every source payload empty)',
    hex: header(5, 0, 2, 1) + u32(0) + u16(255) + u16(0xffff) + u16(12) + u16(0) + symbol + TAG,
    fields: f,
  });
}

// ---- ACK
{
  const f = { type: 'ACK', connId: 0xcafebabe, packetNumber: 100, ackSeq: 0x80000000, echoTimestamp: 123456789, ackDelayUs: 2500, recvRatePps: 9000, bufferFreePackets: 4096 };
  valid.push({
    name: 'ack',
    hex: header(6, 0, f.connId, f.packetNumber) + u32(f.ackSeq) + u32(f.echoTimestamp) + u32(f.ackDelayUs) + u32(f.recvRatePps) + u32(f.bufferFreePackets) + TAG,
    fields: f,
  });
}

// ---- NACK / DROP
{
  const ranges: Array<[number, number]> = [[0xfffffffe, 4], [10, 1]];
  const f = { type: 'NACK', connId: 5, packetNumber: 6, largestPn: 0x0102_0304, ranges };
  valid.push({
    name: 'nack-two-ranges-across-wrap',
    note: 'ranges [2^32-2, +4) (crosses the wrap) and [10, +1); the writer had received up to packet number 0x01020304',
    hex: header(7, 0, 5, 6) + u32(0x0102_0304) + u16(2) + ranges.map(([s, n]) => u32(s) + u16(n)).join('') + TAG,
    fields: f,
  });
}
{
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < 227; i++) ranges.push([(i * 3) >>> 0, i === 226 ? 0xffff : 1]);
  const f = { type: 'NACK', connId: 0xffffffff, packetNumber: 0x12345678, largestPn: 0xffffffff, ranges };
  valid.push({
    name: 'nack-max-ranges',
    note: '227 ranges: the most that fit a 1400-byte datagram (34 + 227*6 = 1396)',
    hex: header(7, 0, f.connId, f.packetNumber) + u32(0xffffffff) + u16(227) + ranges.map(([s, n]) => u32(s) + u16(n)).join('') + TAG,
    fields: f,
  });
}
{
  const ranges: Array<[number, number]> = [[77, 3]];
  const f = { type: 'DROP', connId: 8, packetNumber: 9, largestPn: 0, ranges };
  valid.push({
    name: 'drop-one-range',
    hex: header(8, 0, 8, 9) + u32(0) + u16(1) + u32(77) + u16(3) + TAG,
    fields: f,
  });
}

// ---- KEEPALIVE
{
  const f = { type: 'KEEPALIVE', connId: 3, packetNumber: 4, timestamp: 0xfffffff0, echoTimestamp: 5, nextSeq: 1001 };
  valid.push({
    name: 'keepalive',
    note: 'nextSeq 1001: the sender has sent seqs up to 1000',
    hex: header(9, 0, 3, 4) + u32(f.timestamp) + u32(5) + u32(1001) + TAG,
    fields: f,
  });
}
{
  const f = { type: 'KEEPALIVE', connId: 0x01020304, packetNumber: 1, timestamp: 250, echoTimestamp: 0, nextSeq: 0 };
  valid.push({
    name: 'keepalive-first',
    note: 'the first KEEPALIVE after connecting: no peer KEEPALIVE to echo yet (echo 0, which asks for an immediate reply), no DATA sent yet (nextSeq 0)',
    hex: header(9, 0, f.connId, 1) + u32(250) + u32(0) + u32(0) + TAG,
    fields: f,
  });
}
{
  const f = { type: 'KEEPALIVE', connId: 7, packetNumber: 0xffffffff, timestamp: 0xffffffff, echoTimestamp: 0xffffffff, nextSeq: 0xffffffff };
  valid.push({
    name: 'keepalive-all-ones',
    note: 'every body field at 2^32-1 (nextSeq 2^32-1: the last seq sent was 2^32-2)',
    hex: header(9, 0, 7, 0xffffffff) + u32(0xffffffff) + u32(0xffffffff) + u32(0xffffffff) + TAG,
    fields: f,
  });
}

// ---- CLOSE
{
  const msg = Buffer.from('bye: end of stream', 'utf8').toString('hex');
  const f = { type: 'CLOSE', connId: 3, packetNumber: 5, reason: 0, message: msg };
  valid.push({ name: 'close-with-message', hex: header(10, 0, 3, 5) + u16(0) + u16(msg.length / 2) + msg + TAG, fields: f });
}
{
  const f = { type: 'CLOSE', connId: 3, packetNumber: 6, reason: 1, message: '' };
  valid.push({ name: 'close-empty-message', hex: header(10, 0, 3, 6) + u16(1) + u16(0) + TAG, fields: f });
}

// ---- handshake
const clientNonce = ramp(16, 0xa0);
const serverNonce = ramp(16, 0xc0);
const cookie = ramp(32, 0x20);
const p1: Params = { latencyMs: 120, maxDatagram: 1400, maxFrameBytes: 8 * 1024 * 1024, fecWindow: 64, fecStep: 16, fecRepairs: 4, sessionFlags: 1 };
const helloHex = (flags: number, pn: number, withCookie: boolean, total: number, p: Params, minV = 1, maxV = 1): string => {
  const fixed = header(1, flags, 0, pn) + u8(minV) + u8(maxV) + u16(0) + u32(0x01020304) + u32(1000) + u32(0) + clientNonce + params(p) + (withCookie ? cookie : zeros(32));
  return fixed + zeros(total - fixed.length / 2 - 16) + TAG;
};
valid.push({
  name: 'hello-first',
  note: 'first HELLO: no cookie, padded with zeros to 1200 bytes',
  hex: helloHex(0, 0, false, 1200, p1),
  fields: { type: 'HELLO', connId: 0, packetNumber: 0, flags: 0, minVersion: 1, maxVersion: 1, sourceConnId: 0x01020304, timestamp: 1000, clientNonce, params: p1, cookie: null, length: 1200 },
});
valid.push({
  name: 'hello-with-cookie',
  note: 'second HELLO: COOKIE flag and the cookie from the COOKIE packet; padded to 1400',
  hex: helloHex(1, 1, true, 1400, p1),
  fields: { type: 'HELLO', connId: 0, packetNumber: 1, flags: 1, minVersion: 1, maxVersion: 1, sourceConnId: 0x01020304, timestamp: 1000, clientNonce, params: p1, cookie, length: 1400 },
});
const p0: Params = { latencyMs: 0, maxDatagram: 1200, maxFrameBytes: 1, fecWindow: 0, fecStep: 0, fecRepairs: 0, sessionFlags: 0 };
valid.push({
  name: 'hello-future-versions-no-fec',
  note: 'a client speaking versions 1..3 (header version stays 1 in HELLO); FEC off, ARQ off',
  hex: helloHex(0, 0, false, 1200, p0, 1, 3),
  fields: { type: 'HELLO', connId: 0, packetNumber: 0, flags: 0, minVersion: 1, maxVersion: 3, sourceConnId: 0x01020304, timestamp: 1000, clientNonce, params: p0, cookie: null, length: 1200 },
});
valid.push({
  name: 'cookie',
  hex: header(2, 0, 0x01020304, 0) + u32(1000) + u32(0) + clientNonce + cookie + TAG,
  fields: { type: 'COOKIE', connId: 0x01020304, packetNumber: 0, echoTimestamp: 1000, clientNonce, cookie },
});
const pAccept: Params = { ...p1, latencyMs: 200, sessionFlags: 3 };
valid.push({
  name: 'accept',
  hex: header(3, 0, 0x01020304, 0) + u8(1) + u8(0) + u16(0) + u32(0x99aabbcc) + u32(777) + u32(1000) + clientNonce + serverNonce + params(pAccept) + TAG,
  fields: { type: 'ACCEPT', connId: 0x01020304, packetNumber: 0, chosenVersion: 1, sourceConnId: 0x99aabbcc, timestamp: 777, echoTimestamp: 1000, clientNonce, serverNonce, params: pAccept },
});
valid.push({
  name: 'reject-version',
  note: 'REJECT(version): the listener speaks versions 1..1',
  hex: header(11, 0, 0x01020304, 0) + u16(1) + u8(1) + u8(1) + u32(1000) + clientNonce + TAG,
  fields: { type: 'REJECT', connId: 0x01020304, packetNumber: 0, reason: 1, minVersion: 1, maxVersion: 1, echoTimestamp: 1000, clientNonce },
});
valid.push({
  name: 'reject-auth-failed',
  hex: header(11, 0, 0x01020304, 0) + u16(2) + u8(1) + u8(1) + u32(1000) + clientNonce + TAG,
  fields: { type: 'REJECT', connId: 0x01020304, packetNumber: 0, reason: 2, minVersion: 1, maxVersion: 1, echoTimestamp: 1000, clientNonce },
});

// ---- negative vectors
const ack = header(6, 0, 1, 1) + zeros(20) + TAG;
invalid.push({ name: 'empty', hex: '', status: 'rx_truncated' });
invalid.push({ name: 'header-only', hex: header(6, 0, 1, 1), status: 'rx_truncated' });
invalid.push({ name: 'header-and-tag-short-by-one', hex: header(9, 0, 1, 1) + zeros(15), status: 'rx_truncated' });
invalid.push({ name: 'oversized-1401', note: 'a 1401-byte DATA with the default 1400-byte limit', hex: header(4, 0, 1, 1) + u32(0) + u32(0) + u32(1361) + zeros(1361) + TAG, status: 'rx_oversized' });
invalid.push({ name: 'version-2', hex: '02' + ack.slice(2), status: 'rx_bad_version' });
invalid.push({ name: 'version-0', hex: '00' + ack.slice(2), status: 'rx_bad_version' });
invalid.push({ name: 'type-0', hex: header(0, 0, 1, 1) + zeros(20) + TAG, status: 'rx_unknown_type' });
invalid.push({ name: 'type-0x0c', hex: header(0x0c, 0, 1, 1) + zeros(20) + TAG, status: 'rx_unknown_type' });
invalid.push({ name: 'type-0xff', hex: header(0xff, 0, 1, 1) + zeros(20) + TAG, status: 'rx_unknown_type' });
invalid.push({ name: 'reserved-header-byte', hex: '010600' + '01' + ack.slice(8), status: 'rx_bad_reserved' });
invalid.push({ name: 'conn-id-0-on-ack', hex: header(6, 0, 0, 1) + zeros(20) + TAG, status: 'rx_bad_conn_id' });
invalid.push({ name: 'ack-short', hex: header(6, 0, 1, 1) + zeros(19) + TAG, status: 'rx_truncated' });
invalid.push({ name: 'ack-long', hex: header(6, 0, 1, 1) + zeros(21) + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'keepalive-long', note: '41 bytes: one byte after nextSeq', hex: header(9, 0, 1, 1) + zeros(13) + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'keepalive-pre-next-seq-36', note: 'the 36-byte KEEPALIVE of the first v1 draft (no nextSeq): shorter than the fixed 40 bytes', hex: header(9, 0, 3, 4) + u32(0xfffffff0) + u32(5) + TAG, status: 'rx_truncated' });
invalid.push({ name: 'keepalive-short-by-one', hex: header(9, 0, 1, 1) + zeros(11) + TAG, status: 'rx_truncated' });
invalid.push({ name: 'data-short', hex: header(4, 0, 1, 1) + zeros(11) + TAG, status: 'rx_truncated' });
invalid.push({ name: 'data-payload-longer-than-frame', hex: header(4, 0, 1, 1) + u32(0) + u32(0) + u32(3) + 'aabbccdd' + TAG, status: 'rx_bad_frame' });
invalid.push({ name: 'data-first-last-partial', note: 'FIRST|LAST but payload (2) != frameLength (4)', hex: header(4, 3, 1, 1) + u32(0) + u32(0) + u32(4) + 'aabb' + TAG, status: 'rx_bad_frame' });
invalid.push({ name: 'data-frame-over-8mib', hex: header(4, 1, 1, 1) + u32(0) + u32(0) + u32(8 * 1024 * 1024 + 1) + 'aabb' + TAG, status: 'rx_bad_frame' });
invalid.push({ name: 'repair-symbol-length-mismatch', hex: header(5, 0, 1, 1) + u32(0) + u16(4) + u16(0) + u16(13) + u16(0) + zeros(12) + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'repair-symbol-shorter-than-prefix', hex: header(5, 0, 1, 1) + u32(0) + u16(4) + u16(0) + u16(11) + u16(0) + zeros(11) + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'repair-window-0', hex: header(5, 0, 1, 1) + u32(0) + u16(0) + u16(0) + u16(12) + u16(0) + zeros(12) + TAG, status: 'rx_bad_range' });
invalid.push({ name: 'repair-window-256', hex: header(5, 0, 1, 1) + u32(0) + u16(256) + u16(0) + u16(12) + u16(0) + zeros(12) + TAG, status: 'rx_bad_range' });
invalid.push({ name: 'repair-reserved', hex: header(5, 0, 1, 1) + u32(0) + u16(4) + u16(0) + u16(12) + u16(1) + zeros(12) + TAG, status: 'rx_bad_reserved' });
invalid.push({ name: 'nack-zero-ranges', hex: header(7, 0, 1, 1) + u32(0) + u16(0) + TAG, status: 'rx_bad_range' });
invalid.push({ name: 'nack-count-beyond-datagram', note: 'says 3 ranges, carries 2', hex: header(7, 0, 1, 1) + u32(0) + u16(3) + (u32(1) + u16(1)).repeat(2) + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'nack-count-huge', note: 'rangeCount 0xffff in a 40-byte datagram', hex: header(7, 0, 1, 1) + u32(0) + u16(0xffff) + u32(1) + u16(1) + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'nack-empty-range', hex: header(7, 0, 1, 1) + u32(0) + u16(2) + u32(1) + u16(1) + u32(5) + u16(0) + TAG, status: 'rx_bad_range' });
invalid.push({ name: 'nack-old-layout', note: 'a 36-byte NACK without largestPn (pre-release layout) reads as one range 4 bytes short', hex: header(7, 0, 1, 1) + u16(1) + u32(1) + u16(1) + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'drop-trailing-byte', hex: header(8, 0, 1, 1) + u32(0) + u16(1) + u32(1) + u16(1) + '00' + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'close-message-length-mismatch', hex: header(10, 0, 1, 1) + u16(0) + u16(5) + 'aabbcc' + TAG, status: 'rx_bad_length' });
invalid.push({ name: 'hello-unpadded', note: 'a HELLO of 1199 bytes', hex: helloHex(0, 0, false, 1199, p1), status: 'rx_hello_too_short' });
invalid.push({ name: 'hello-conn-id-nonzero', hex: '01010000' + u32(5) + helloHex(0, 0, false, 1200, p1).slice(16), status: 'rx_bad_conn_id' });
invalid.push({ name: 'hello-version-range-inverted', hex: helloHex(0, 0, false, 1200, p1, 2, 1), status: 'rx_bad_version' });
invalid.push({ name: 'hello-min-version-0', hex: helloHex(0, 0, false, 1200, p1, 0, 1), status: 'rx_bad_version' });
invalid.push({ name: 'hello-source-conn-id-0', hex: helloHex(0, 0, false, 1200, p1).replace(u32(0x01020304), u32(0)), status: 'rx_bad_conn_id' });
invalid.push({ name: 'hello-max-datagram-1199', hex: helloHex(0, 0, false, 1200, { ...p1, maxDatagram: 1199 }), status: 'rx_bad_params' });
invalid.push({ name: 'hello-fec-step-over-window', hex: helloHex(0, 0, false, 1200, { ...p1, fecWindow: 4, fecStep: 5 }), status: 'rx_bad_params' });
invalid.push({ name: 'hello-fec-off-with-repairs', hex: helloHex(0, 0, false, 1200, { ...p0, fecRepairs: 1 }), status: 'rx_bad_params' });
invalid.push({ name: 'cookie-short', hex: header(2, 0, 1, 0) + zeros(55) + TAG, status: 'rx_truncated' });
invalid.push({ name: 'cookie-reserved', hex: header(2, 0, 1, 0) + u32(0) + u32(1) + zeros(48) + TAG, status: 'rx_bad_reserved' });
invalid.push({ name: 'accept-version-2', hex: header(3, 0, 1, 0) + u8(2) + u8(0) + u16(0) + u32(5) + u32(0) + u32(0) + zeros(32) + params(p1) + TAG, status: 'rx_bad_version' });
invalid.push({ name: 'accept-source-conn-id-0', hex: header(3, 0, 1, 0) + u8(1) + u8(0) + u16(0) + u32(0) + u32(0) + u32(0) + zeros(32) + params(p1) + TAG, status: 'rx_bad_conn_id' });
invalid.push({ name: 'accept-params-reserved', hex: header(3, 0, 1, 0) + u8(1) + u8(0) + u16(0) + u32(5) + u32(0) + u32(0) + zeros(32) + params(p1).slice(0, 26) + '01' + u16(0) + TAG, status: 'rx_bad_reserved' });
invalid.push({ name: 'reject-version-range-inverted', hex: header(11, 0, 1, 0) + u16(1) + u8(2) + u8(1) + u32(0) + zeros(16) + TAG, status: 'rx_bad_version' });

const doc = {
  description:
    'sluice wire format v1 known-answer vectors (spec/protocol.md). All tags are zero: the codec leaves the tag slot zeroed and never checks it; authentication vectors live with the auth layer. Byte strings (payload, symbol, message, nonces, cookie) are hex. ranges are [start, count] pairs. For valid vectors, decode(hex) gives fields and encoding fields gives hex (or reencodeHex when present). Invalid vectors decode to the status counter name given, with the default limits (maxDatagram 1400, maxFrameBytes 8 MiB).',
  generator: 'test/core/wire/gen-vectors.ts',
  valid,
  invalid,
};
const path = join(import.meta.dirname, '..', '..', '..', 'spec', 'vectors', 'wire.json');
writeFileSync(path, JSON.stringify(doc, null, 2) + '\n');
console.log(`wrote ${valid.length} valid and ${invalid.length} invalid vectors to ${path}`);
