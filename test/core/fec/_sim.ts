/**
 * Test helpers for the FEC properties: run a StreamingFecEncoder over a synthetic stream, and a
 * reference rank computation (plain arrays, independent of the decoder) that says which lost
 * packets the received repairs determine.
 */
import { cauchyCoefficient } from '../../../src/core/fec/cauchy.js';
import { RepairInfo, StreamingFecEncoder } from '../../../src/core/fec/encoder.js';
import { gfInv, gfMul } from '../../../src/core/fec/gf256.js';
import { RecoveredPacket, StreamingFecDecoder } from '../../../src/core/fec/decoder.js';

export interface Src {
  kind: 'src';
  seq: number;
  flags: number;
  timestamp: number;
  frameLength: number;
  payload: Uint8Array;
}
export interface Rep {
  kind: 'rep';
  windowStart: number;
  windowLength: number;
  repairIndex: number;
  symbol: Uint8Array;
}
export type Pkt = Src | Rep;

/** Deterministic payload for packet i. */
export function payloadOf(i: number, len: number, salt = 0): Uint8Array {
  const p = new Uint8Array(len);
  let x = (i * 2654435761 + salt * 40503 + 1) >>> 0;
  for (let j = 0; j < len; j++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    p[j] = x & 0xff;
  }
  return p;
}

export interface StreamSpec {
  window: number;
  step: number;
  repairs: number;
  maxPayload: number;
  start: number;
  /** Payload length of each source packet (its count is the stream length). */
  lengths: number[];
  salt?: number;
}

/** Encodes a stream; returns the packets in send order (each source followed by the repairs it released). */
export function encodeStream(s: StreamSpec): { sources: Src[]; repairs: Rep[]; order: Pkt[] } {
  const enc = new StreamingFecEncoder({ window: s.window, step: s.step, repairs: s.repairs, maxPayload: s.maxPayload });
  const info = new RepairInfo();
  const out = new Uint8Array(enc.maxSymbolLength + 8);
  const sources: Src[] = [];
  const repairs: Rep[] = [];
  const order: Pkt[] = [];
  s.lengths.forEach((len, i) => {
    const src: Src = {
      kind: 'src',
      seq: (s.start + i) >>> 0,
      flags: [0x01, 0, 0x02, 0x0b, 0x04][i % 5]!,
      timestamp: (i * 33_333 + 0xfff0_0000) >>> 0,
      frameLength: 1000 + i,
      payload: payloadOf(i, len, s.salt ?? 0),
    };
    sources.push(src);
    order.push(src);
    const n = enc.addSource(src.seq, src.flags, src.timestamp, src.frameLength, src.payload, 0, len);
    for (let k = 0; k < n; k++) {
      const l = enc.pollRepair(out, 3, info);
      const rep: Rep = {
        kind: 'rep',
        windowStart: info.windowStart,
        windowLength: info.windowLength,
        repairIndex: info.repairIndex,
        symbol: out.slice(3, 3 + l),
      };
      repairs.push(rep);
      order.push(rep);
    }
  });
  enc.close();
  return { sources, repairs, order };
}

/**
 * Reference: which of the `lost` seqs are determined by the `received` repairs, given that
 * every other source is known. Gauss-Jordan on the coefficient matrix restricted to lost
 * columns; u is determined iff its reduced row is the unit vector.
 */
export function determined(lost: Set<number>, received: Rep[]): Set<number> {
  const cols: number[] = [];
  const colOf = new Map<number, number>();
  const rows: number[][] = [];
  for (const r of received) {
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < r.windowLength; i++) {
      const seq = (r.windowStart + i) >>> 0;
      if (!lost.has(seq)) continue;
      if (!colOf.has(seq)) {
        colOf.set(seq, cols.length);
        cols.push(seq);
      }
      entries.push([colOf.get(seq)!, cauchyCoefficient(seq, r.repairIndex)]);
    }
    if (entries.length > 0) rows.push(entries.reduce((row, [c, v]) => ((row[c] = v), row), [] as number[]));
  }
  const a = rows.map((r) => Array.from({ length: cols.length }, (_, c) => r[c] ?? 0));
  let rank = 0;
  const pivots: number[] = [];
  for (let c = 0; c < cols.length && rank < a.length; c++) {
    let p = -1;
    for (let r = rank; r < a.length; r++) if (a[r]![c] !== 0) { p = r; break; }
    if (p < 0) continue;
    [a[p], a[rank]] = [a[rank]!, a[p]!];
    const inv = gfInv(a[rank]![c]!);
    a[rank] = a[rank]!.map((v) => gfMul(v, inv));
    for (let r = 0; r < a.length; r++) {
      if (r === rank || a[r]![c] === 0) continue;
      const f = a[r]![c]!;
      a[r] = a[r]!.map((v, k) => v ^ gfMul(f, a[rank]![k]!));
    }
    pivots.push(c);
    rank++;
  }
  const out = new Set<number>();
  pivots.forEach((c, r) => {
    if (a[r]!.every((v, k) => k === c || v === 0)) out.add(cols[c]!);
  });
  return out;
}

export interface Recovered {
  seq: number;
  flags: number;
  timestamp: number;
  frameLength: number;
  payload: Uint8Array;
}

/** Feeds packets to a decoder (polling after each) and returns everything recovered. */
export function feed(dec: StreamingFecDecoder, packets: Pkt[]): Recovered[] {
  const got: Recovered[] = [];
  const rec = new RecoveredPacket();
  const out = new Uint8Array(dec.maxPayload + 5);
  for (const p of packets) {
    if (p.kind === 'src') dec.addSource(p.seq, p.flags, p.timestamp, p.frameLength, p.payload, 0, p.payload.length);
    else dec.addRepair(p.windowStart, p.windowLength, p.repairIndex, p.symbol, 0, p.symbol.length);
    let n: number;
    while ((n = dec.pollRecovered(out, 5, rec)) >= 0) {
      got.push({ seq: rec.seq, flags: rec.flags, timestamp: rec.timestamp, frameLength: rec.frameLength, payload: out.slice(5, 5 + n) });
    }
  }
  return got;
}

/** Asserts-by-return: the recovered packet equals the original bit for bit (flags: protected bits + 0x10). */
export function sameAsOriginal(r: Recovered, s: Src): boolean {
  if (r.seq !== s.seq || r.timestamp !== s.timestamp || r.frameLength !== s.frameLength) return false;
  if (r.flags !== ((s.flags & 0x0b) | 0x10)) return false;
  if (r.payload.length !== s.payload.length) return false;
  for (let i = 0; i < r.payload.length; i++) if (r.payload[i] !== s.payload[i]) return false;
  return true;
}
