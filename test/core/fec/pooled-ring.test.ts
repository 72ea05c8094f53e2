/**
 * FEC rings taken from a BufferPool (issue 5 item 6): the encoder's symbol ring and the
 * decoder's source ring come from pool slots, recovery is the same as with rings allocated
 * inside, closing gives the slot back, and the accounts reconcile.
 */
import { describe, expect, it } from 'vitest';
import { StreamingFecDecoder, StreamingFecEncoder, RepairInfo, RecoveredPacket } from '../../../src/core/fec/index.js';
import { MemoryAccountant } from '../../../src/core/memory/accountant.js';

function payload(seq: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seq * 31 + i * 7) & 0xff;
  return b;
}

describe('FEC rings from a pool', () => {
  it('recovers bit-exact with pooled rings, reuses the slot, and returns everything on close', () => {
    const acct = new MemoryAccountant();
    const encOpts = { window: 16, step: 8, repairs: 2, maxPayload: 1000 };
    const decOpts = { maxWindow: 16, maxPayload: 1000, maxRepairs: 16 };
    const pool = acct.createPool({
      slotSize: Math.max(StreamingFecEncoder.ringBytes(encOpts), StreamingFecDecoder.ringBytes(decOpts)),
      slotsPerSlab: 1,
      maxSlots: 4,
    });
    for (let round = 0; round < 2; round++) {
      const enc = new StreamingFecEncoder({ ...encOpts, ring: pool, account: acct.account(`enc.${round}`) });
      const dec = new StreamingFecDecoder({ ...decOpts, ring: pool, account: acct.account(`dec.${round}`) });
      expect(pool.inUse).toBe(2);
      const info = new RepairInfo();
      const rec = new RecoveredPacket();
      const sym = new Uint8Array(enc.maxSymbolLength);
      const out = new Uint8Array(1000);
      const lost = new Set([3, 11]);
      const got = new Map<number, Uint8Array>();
      for (let seq = 0; seq < 32; seq++) {
        const p = payload(seq, 100 + seq * 20);
        const ready = enc.addSource(seq, 0, seq * 1000, p.length, p, 0, p.length);
        if (!lost.has(seq)) dec.addSource(seq, 0, seq * 1000, p.length, p, 0, p.length);
        for (let r = 0; r < ready; r++) {
          const n = enc.pollRepair(sym, 0, info);
          dec.addRepair(info.windowStart, info.windowLength, info.repairIndex, sym, 0, n);
        }
        for (let n = dec.pollRecovered(out, 0, rec); n >= 0; n = dec.pollRecovered(out, 0, rec)) got.set(rec.seq, out.slice(0, n));
      }
      expect([...got.keys()].sort((a, b) => a - b)).toEqual([3, 11]);
      for (const [seq, data] of got) expect(data).toEqual(payload(seq, 100 + seq * 20));
      enc.close();
      dec.close();
      expect(pool.inUse).toBe(0);
      acct.closeAccount(`enc.${round}`);
      acct.closeAccount(`dec.${round}`);
    }
    // Two connections' worth of rings, one slab each: the second round reused them.
    expect(pool.stats().slabs).toBe(2);
    expect(acct.leakCheck().ok).toBe(true);
    pool.close();
    expect(acct.leakCheck({ strict: true }).ok).toBe(true);
  });
});
