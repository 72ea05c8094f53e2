/**
 * StreamingFecDecoder with per-symbol slots (`slots` option): every source, recovered packet and
 * equation symbol lives in a pool slot taken when stored and given back when forgotten. Recovery
 * must be exactly that of the dedicated ring (same packets, same bytes, same counters), whatever
 * the slots held before; the pool's occupancy must follow what the decoder holds; an exhausted
 * pool degrades to "not stored" (counted), never to a throw or a wrong packet.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FecRepairStatus, FecSourceStatus, StreamingFecDecoder, type FecDecoderStats } from '../../../src/core/fec/decoder.js';
import { BufferPool } from '../../../src/core/memory/buffer-pool.js';
import { MemoryAccountant } from '../../../src/core/memory/accountant.js';
import { encodeStream, feed, type Pkt, type Src, sameAsOriginal } from './_sim.js';

const params = fc
  .record({ window: fc.integer({ min: 1, max: 24 }), stepFrac: fc.integer({ min: 1, max: 24 }), repairs: fc.integer({ min: 1, max: 4 }) })
  .map(({ window, stepFrac, repairs }) => {
    const step = 1 + ((stepFrac - 1) % window);
    return { window, step, repairs: Math.min(repairs, Math.floor(128 / Math.ceil(window / step))) };
  });

/** A pool whose free slots are all full of 0xa5 (what a previous user would leave behind). */
function dirtyPool(slotSize: number, maxSlots: number): BufferPool {
  const pool = new BufferPool({ slotSize, slotsPerSlab: Math.min(16, maxSlots), maxSlots, devChecks: true });
  const held: Uint8Array[] = [];
  for (let b = pool.acquire(); b !== null; b = pool.acquire()) held.push(b.fill(0xa5));
  for (const b of held) pool.release(b);
  return pool;
}

/** Counters that must agree between the two storages (the NoMemory ones are 0 with room). */
function comparable(s: FecDecoderStats): Record<string, number> {
  const { sourcesNoMemory, repairsNoMemory, recoveredNoMemory, ...rest } = s;
  expect(sourcesNoMemory + repairsNoMemory + recoveredNoMemory).toBe(0);
  return rest;
}

/** Feeds `stream` to both decoders, calling forgetBefore(seq) at the marks; returns both outputs. */
function runBoth(
  a: StreamingFecDecoder,
  b: StreamingFecDecoder,
  stream: Array<Pkt | { kind: 'forget'; seq: number }>,
  check: () => void,
): [ReturnType<typeof feed>, ReturnType<typeof feed>] {
  const ga: ReturnType<typeof feed> = [];
  const gb: ReturnType<typeof feed> = [];
  for (const x of stream) {
    if (x.kind === 'forget') {
      a.forgetBefore(x.seq);
      b.forgetBefore(x.seq);
    } else {
      ga.push(...feed(a, [x]));
      gb.push(...feed(b, [x]));
    }
    check();
  }
  return [ga, gb];
}

describe('StreamingFecDecoder with per-symbol slots', () => {
  it('recovers exactly what the dedicated ring recovers, bit for bit, with the same counters; the pool follows occupancy', () => {
    let recoveredTotal = 0;
    fc.assert(
      fc.property(
        params,
        fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0xffff_ffff - 60, max: 0xffff_ffff })),
        fc.integer({ min: 20, max: 90 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 40 }),
        fc.infiniteStream(fc.nat()),
        (p, start, count, srcLossPct, repLossPct, maxDisplace, forgetLag, rnd) => {
          const maxPayload = 80;
          const lengths = Array.from({ length: count }, () => rnd.next().value % (maxPayload + 1));
          const { sources, order } = encodeStream({ ...p, maxPayload, start, lengths });
          const lost = new Set<number>();
          for (const s of sources) if (rnd.next().value % 100 < srcLossPct) lost.add(s.seq);
          let stream: Pkt[] = order.filter((x) => (x.kind === 'src' ? !lost.has(x.seq) : rnd.next().value % 100 >= repLossPct));
          stream = stream.flatMap((x) => (rnd.next().value % 10 === 0 ? [x, x] : [x]));
          const keyed = stream.map((x, i) => ({ x, k: i + (maxDisplace > 0 ? rnd.next().value % (maxDisplace + 1) : 0) }));
          keyed.sort((q, r) => q.k - r.k);
          // Forget like a receiver delivering after its latency: `forgetLag` sources behind (0: never).
          const withForget: Array<Pkt | { kind: 'forget'; seq: number }> = [];
          let n = 0;
          for (const { x } of keyed) {
            withForget.push(x);
            if (x.kind === 'src' && forgetLag > 0 && ++n > forgetLag) withForget.push({ kind: 'forget', seq: (x.seq - forgetLag) >>> 0 });
          }
          const opts = { maxWindow: p.window, maxPayload, maxRepairs: 16 };
          const acctA = new MemoryAccountant();
          const acctB = new MemoryAccountant();
          const pool = dirtyPool(StreamingFecDecoder.slotBytes(opts) + 36, 1024);
          const ring = new StreamingFecDecoder({ ...opts, account: acctA.account('dec') });
          const slotted = new StreamingFecDecoder({ ...opts, slots: pool, account: acctB.account('dec') });
          const [ga, gb] = runBoth(ring, slotted, withForget, () => {
            // Every slot out is a symbol the decoder reports held, and the account says so.
            const used = acctB.snapshot(0).accounts.find((a) => a.name === 'dec')!;
            expect(pool.inUse).toBe(used.usedPackets);
            expect(used.usedBytes).toBe(used.usedPackets * pool.slotSize);
          });
          expect(gb).toEqual(ga);
          const bySeq = new Map<number, Src>(sources.map((s) => [s.seq, s]));
          for (const g of gb) expect(sameAsOriginal(g, bySeq.get(g.seq)!)).toBe(true);
          expect(comparable(slotted.stats)).toEqual(comparable(ring.stats));
          recoveredTotal += gb.length;
          ring.close();
          slotted.close();
          expect(pool.inUse).toBe(0);
          acctB.closeAccount('dec');
          expect(acctB.leakCheck().ok).toBe(true);
        },
      ),
    );
    // Not vacuous: the runs lose and recover packets.
    expect(recoveredTotal).toBeGreaterThan(2000);
  });

  it('an exhausted pool: not stored and counted, never thrown, never a wrong packet; close gives every slot back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 30 }), fc.infiniteStream(fc.nat()), (maxSlots, lossPct, rnd) => {
        const maxPayload = 64;
        const { sources, order } = encodeStream({ window: 16, step: 4, repairs: 2, maxPayload, start: 7, lengths: Array(120).fill(maxPayload) });
        const lost = new Set(sources.filter(() => rnd.next().value % 100 < lossPct).map((s) => s.seq));
        const pool = dirtyPool(StreamingFecDecoder.slotBytes({ maxPayload }), maxSlots);
        const dec = new StreamingFecDecoder({ maxWindow: 16, maxPayload, maxRepairs: 8, slots: pool });
        const got = feed(dec, order.filter((x) => x.kind !== 'src' || !lost.has(x.seq)));
        const bySeq = new Map<number, Src>(sources.map((s) => [s.seq, s]));
        for (const g of got) expect(sameAsOriginal(g, bySeq.get(g.seq)!)).toBe(true);
        expect(pool.inUse).toBeLessThanOrEqual(maxSlots);
        if (maxSlots < 16) expect(dec.stats.sourcesNoMemory).toBeGreaterThan(0);
        dec.close();
        expect(pool.inUse).toBe(0);
      }),
      // Each run feeds a 120-packet stream; 200 runs cover the slot counts 1..40 several times over.
      { numRuns: 200 },
    );
  });

  it('statuses: NoMemory for a source and a repair that find no slot', () => {
    const maxPayload = 32;
    const pool = new BufferPool({ slotSize: StreamingFecDecoder.slotBytes({ maxPayload }), maxSlots: 1 });
    const dec = new StreamingFecDecoder({ maxWindow: 4, maxPayload, maxRepairs: 4, slots: pool });
    const p = new Uint8Array(maxPayload);
    expect(dec.addSource(0, 0, 0, 32, p, 0, 32)).toBe(FecSourceStatus.Accepted);
    expect(dec.addSource(1, 0, 0, 32, p, 0, 32)).toBe(FecSourceStatus.NoMemory);
    expect(dec.addRepair(0, 4, 0, new Uint8Array(64), 0, 64)).toBe(FecRepairStatus.NoMemory);
    expect(dec.stats.sourcesNoMemory).toBe(1);
    expect(dec.stats.repairsNoMemory).toBe(1);
    dec.forgetBefore(1);
    expect(pool.inUse).toBe(0);
    expect(dec.addSource(1, 0, 0, 32, p, 0, 32)).toBe(FecSourceStatus.Accepted);
    dec.close();
    expect(pool.inUse).toBe(0);
  });

  it('reserves no symbol memory of its own, and refuses slots too small or unaligned', () => {
    const opts = { maxWindow: 64, maxPayload: 1332, maxRepairs: 16 };
    const acct = new MemoryAccountant();
    const ring = new StreamingFecDecoder({ ...opts, account: acct.account('ring') });
    const pool = new BufferPool({ slotSize: 1472 });
    const slotted = new StreamingFecDecoder({ ...opts, slots: pool, account: acct.account('slots') });
    const reserved = (n: string): number => acct.snapshot(0).accounts.find((a) => a.name === n)!.reservedBytes;
    // The ring: 128 sources + 16 equations of 1344 bytes; per-symbol: only tables (< 10 KiB).
    expect(reserved('ring') - reserved('slots')).toBe((128 + 16) * 1344);
    expect(reserved('slots')).toBeLessThan(10 * 1024);
    expect(pool.stats().slabs).toBe(0);
    ring.close();
    slotted.close();
    expect(() => new StreamingFecDecoder({ ...opts, slots: new BufferPool({ slotSize: 1340 }) })).toThrow(/slots: expected slotSize >= 1344/);
    expect(() => new StreamingFecDecoder({ ...opts, slots: new BufferPool({ slotSize: 1346 }) })).toThrow(/multiple of 4/);
  });
});
