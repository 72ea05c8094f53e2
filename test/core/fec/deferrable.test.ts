import { describe, expect, it } from 'vitest';
import { StreamingFecDecoder, StreamingFecEncoder, RepairInfo } from '../../../src/core/fec/index.js';

describe('StreamingFecDecoder.copyDeferrable', () => {
  it('names the newest missing source of each pending equation with two or more unknowns', () => {
    const enc = new StreamingFecEncoder({ window: 8, step: 8, repairs: 1, maxPayload: 100 });
    const dec = new StreamingFecDecoder({ maxWindow: 8, maxPayload: 100, maxRepairs: 8 });
    const info = new RepairInfo();
    const sym = new Uint8Array(enc.maxSymbolLength);
    const p = new Uint8Array(50).fill(9);
    const out = new Uint32Array(8);
    for (let seq = 0; seq < 8; seq++) {
      const ready = enc.addSource(seq, 0, 0, 50, p, 0, 50);
      if (seq !== 3 && seq !== 6) dec.addSource(seq, 0, 0, 50, p, 0, 50);
      for (let r = 0; r < ready; r++) {
        const n = enc.pollRepair(sym, 0, info);
        dec.addRepair(info.windowStart, info.windowLength, info.repairIndex, sym, 0, n);
      }
    }
    // One repair, two unknowns (3 and 6): ARQ should bring 3, FEC then rebuilds 6.
    expect(dec.copyDeferrable(out, 8)).toBe(1);
    expect(out[0]).toBe(6);
    // Once 3 arrives (as a retransmission would), FEC rebuilds 6 and nothing is left to defer.
    dec.addSource(3, 0, 0, 50, p, 0, 50);
    expect(dec.copyDeferrable(out, 8)).toBe(0);
    enc.close();
    dec.close();
  });
});
