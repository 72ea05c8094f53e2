/**
 * Known-answer vectors (spec/vectors/fec-*.json). The expected bytes are produced from the
 * spec's DEFINITION (element-wise GF(2^8) multiplication over the bit-plane layout, with the
 * symbol prefix built here by hand), never from the encoder; the encoder and the decoder are
 * then checked against them. Regenerate with `SLUICE_REGEN_VECTORS=1 npx vitest run
 * test/core/fec/vectors.test.ts` (only when the code itself changes on purpose).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GF_BITMATRIX } from '../../../src/core/fec/bitmatrix.js';
import { cauchyCoefficient } from '../../../src/core/fec/cauchy.js';
import { RecoveredPacket, StreamingFecDecoder } from '../../../src/core/fec/decoder.js';
import { RepairInfo, StreamingFecEncoder } from '../../../src/core/fec/encoder.js';
import { mulAddElementwise } from '../../../src/core/fec/kernels.js';
import { payloadOf } from './_sim.js';

const DIR = join(import.meta.dirname, '..', '..', '..', 'spec', 'vectors');
const REGEN = process.env.SLUICE_REGEN_VECTORS === '1';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

interface VSource { seq: number; flags: number; timestamp: number; frameLength: number; payload: string }
interface VRepair { windowStart: number; windowLength: number; repairIndex: number; symbolLength: number; symbol: string }
interface VCase { name: string; window: number; step: number; repairs: number; maxPayload: number; sources: VSource[]; expect: VRepair[] }

function mkSources(start: number, lens: number[], flags: (i: number) => number): VSource[] {
  return lens.map((len, i) => ({
    seq: (start + i) >>> 0,
    flags: flags(i),
    timestamp: (0xffff_ff00 + i * 3000) >>> 0,
    frameLength: 4000 + i,
    payload: hex(payloadOf(i, len, 7)),
  }));
}

const INPUTS: Array<Omit<VCase, 'expect'>> = [
  {
    name: 'worked-example',
    window: 2,
    step: 2,
    repairs: 1,
    maxPayload: 16,
    sources: [
      { seq: 0, flags: 0x09, timestamp: 0, frameLength: 5, payload: '6869' },
      { seq: 1, flags: 0x02, timestamp: 0, frameLength: 5, payload: '212121' },
    ],
  },
  { name: 'block-10x4', window: 10, step: 10, repairs: 4, maxPayload: 100, sources: mkSources(1000, [100, 3, 0, 57, 99, 100, 1, 20, 21, 64], (i) => (i === 0 ? 0x09 : i === 9 ? 0x02 : 0)) },
  { name: 'sliding-wrap-8-2-2', window: 8, step: 2, repairs: 2, maxPayload: 40, sources: mkSources(0xffff_fffa, [40, 1, 2, 3, 40, 0, 19, 20, 33, 8, 12, 40], (i) => i % 3) },
];

/** The definition: prefix by hand, zero padding, element-wise multiply-accumulate. */
function definitionRepairs(c: Omit<VCase, 'expect'>): VRepair[] {
  const out: VRepair[] = [];
  const sym = c.sources.map((s) => {
    const p = unhex(s.payload);
    const b = new Uint8Array(12 + p.length);
    const dv = new DataView(b.buffer);
    dv.setUint8(0, s.flags & 0x0b);
    dv.setUint16(2, p.length);
    dv.setUint32(4, s.timestamp);
    dv.setUint32(8, s.frameLength);
    b.set(p, 12);
    return b;
  });
  let index = 0;
  for (let n = 1; n <= c.sources.length; n++) {
    if (n % c.step !== 0) continue;
    const first = Math.max(0, n - c.window);
    const L = Math.ceil(Math.max(...sym.slice(first, n).map((s) => s.length)) / 32) * 32;
    for (let r = 0; r < c.repairs; r++) {
      const acc = new Uint8Array(L);
      for (let i = first; i < n; i++) {
        const padded = new Uint8Array(L);
        padded.set(sym[i]!);
        mulAddElementwise(cauchyCoefficient(c.sources[i]!.seq, index), padded, 0, acc, 0, L / 32);
      }
      out.push({ windowStart: c.sources[first]!.seq, windowLength: n - first, repairIndex: index, symbolLength: L, symbol: hex(acc) });
      index = (index + 1) & 127;
    }
  }
  return out;
}

function codeVectors(): unknown {
  const coeff = [0, 1, 2, 3].map((j) => Array.from({ length: 10 }, (_, s) => cauchyCoefficient(s, j)));
  const bm = (c: number): number[] => Array.from(GF_BITMATRIX.subarray(c * 8, c * 8 + 8));
  return {
    description: 'sluice FEC code constants (spec/fec.md). coefficients[j][s] = 1/((128+j) xor (s mod 128)) in GF(2^8)/0x11D; bitMatrixRows[c][p] has bit q set when bit p of c*2^q is set.',
    polynomial: 0x11d,
    coefficients: coeff,
    bitMatrixRows: { '27': bm(0x1b), '84': bm(0x54), '1': bm(1), '2': bm(2) },
  };
}

describe('FEC known-answer vectors', () => {
  const file = join(DIR, 'fec-repairs.json');
  const codeFile = join(DIR, 'fec-code.json');
  if (REGEN) {
    const cases: VCase[] = INPUTS.map((c) => ({ ...c, expect: definitionRepairs(c) }));
    writeFileSync(file, JSON.stringify({ description: 'sluice FEC repairs (spec/fec.md): sources in, REPAIR fields and symbol bytes (hex) out.', cases }, null, 1) + '\n');
    writeFileSync(codeFile, JSON.stringify(codeVectors(), null, 1) + '\n');
  }
  const data = JSON.parse(readFileSync(file, 'utf8')) as { cases: VCase[] };

  it('code constants match fec-code.json', () => {
    expect(JSON.parse(readFileSync(codeFile, 'utf8'))).toEqual(codeVectors());
  });

  it.each(data.cases.map((c) => [c.name, c] as const))('%s: the definition gives the recorded bytes', (_n, c) => {
    expect(definitionRepairs(c)).toEqual(c.expect);
  });

  it.each(data.cases.map((c) => [c.name, c] as const))('%s: the encoder gives the recorded bytes', (_n, c) => {
    const enc = new StreamingFecEncoder({ window: c.window, step: c.step, repairs: c.repairs, maxPayload: c.maxPayload });
    const info = new RepairInfo();
    const out = new Uint8Array(enc.maxSymbolLength);
    const got: VRepair[] = [];
    for (const s of c.sources) {
      const p = unhex(s.payload);
      const n = enc.addSource(s.seq, s.flags, s.timestamp, s.frameLength, p, 0, p.length);
      for (let k = 0; k < n; k++) {
        const l = enc.pollRepair(out, 0, info);
        got.push({ windowStart: info.windowStart, windowLength: info.windowLength, repairIndex: info.repairIndex, symbolLength: l, symbol: hex(out.subarray(0, l)) });
      }
    }
    expect(got).toEqual(c.expect);
  });

  it.each(data.cases.map((c) => [c.name, c] as const))('%s: the decoder rebuilds erased sources from the recorded repairs', (_n, c) => {
    const dec = new StreamingFecDecoder({ maxWindow: c.window, maxPayload: c.maxPayload, maxRepairs: 64 });
    // Erase the first min(R, W) sources of the last full window; feed the rest.
    const last = c.expect[c.expect.length - 1]!;
    const erased = new Set<number>();
    for (let i = 0; i < Math.min(c.repairs, last.windowLength); i++) erased.add((last.windowStart + i) >>> 0);
    for (const s of c.sources) {
      if (erased.has(s.seq)) continue;
      const p = unhex(s.payload);
      dec.addSource(s.seq, s.flags, s.timestamp, s.frameLength, p, 0, p.length);
    }
    for (const r of c.expect) expect(dec.addRepair(r.windowStart, r.windowLength, r.repairIndex, unhex(r.symbol), 0, r.symbolLength)).toBeLessThanOrEqual(1);
    const rec = new RecoveredPacket();
    const out = new Uint8Array(c.maxPayload);
    const seen = new Set<number>();
    let n: number;
    while ((n = dec.pollRecovered(out, 0, rec)) >= 0) {
      const s = c.sources.find((x) => x.seq === rec.seq)!;
      expect(hex(out.subarray(0, n))).toBe(s.payload);
      expect([rec.flags, rec.timestamp, rec.frameLength]).toEqual([(s.flags & 0x0b) | 0x10, s.timestamp, s.frameLength]);
      seen.add(rec.seq);
    }
    expect(seen).toEqual(erased);
  });
});
