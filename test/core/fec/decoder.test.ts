import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FEC_REPAIR_STATUS_COUNTERS,
  FecRepairStatus,
  FecSourceStatus,
  RecoveredPacket,
  StreamingFecDecoder,
} from '../../../src/core/fec/decoder.js';
import type { MemoryAccount } from '../../../src/core/memory/types.js';
import { determined, encodeStream, feed, type Pkt, type Rep, type Src, sameAsOriginal } from './_sim.js';

/** fast-check arbitrary: encoder parameters with the repair-index constraint. */
const params = fc
  .record({ window: fc.integer({ min: 1, max: 24 }), stepFrac: fc.integer({ min: 1, max: 24 }), repairs: fc.integer({ min: 1, max: 4 }) })
  .map(({ window, stepFrac, repairs }) => {
    const step = 1 + ((stepFrac - 1) % window);
    return { window, step, repairs: Math.min(repairs, Math.floor(128 / Math.ceil(window / step))) };
  });
/** Start sequence numbers: anywhere, or just before the 2^32 wrap. */
const startSeq = fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0xffff_ffff - 60, max: 0xffff_ffff }));

class CountingAccount implements MemoryAccount {
  readonly name = 'test';
  reserved = 0;
  usedBytes = 0;
  usedPackets = 0;
  reserve(b: number): void {
    this.reserved += b;
  }
  unreserve(b: number): void {
    this.reserved -= b;
  }
  setCapacity(): void {}
  use(b: number, p: number): void {
    this.usedBytes += b;
    this.usedPackets += p;
    if (this.usedBytes < 0 || this.usedPackets < 0) throw new Error('negative occupancy');
  }
  setSpanMs(): void {}
}

function decoderFor(window: number, maxPayload: number, maxRepairs = 256, account?: MemoryAccount): StreamingFecDecoder {
  return new StreamingFecDecoder({ maxWindow: window, maxPayload, maxRepairs, span: 256, ...(account ? { account } : {}) });
}

describe('StreamingFecDecoder', () => {
  it('does no payload work and keeps no equation when nothing is lost', () => {
    const { order } = encodeStream({ window: 16, step: 4, repairs: 2, maxPayload: 300, start: 0xffff_ff00, lengths: Array.from({ length: 400 }, (_, i) => (i * 7) % 300) });
    const dec = decoderFor(16, 300);
    const got = feed(dec, order);
    expect(got).toEqual([]);
    expect(dec.stats.payloadOps).toBe(0);
    expect(dec.stats.solveAttempts).toBe(0);
    expect(dec.stats.repairsUseless).toBe(200);
    expect(dec.pendingEquations).toBe(0);
  });

  it('recovers a lost packet bit-exactly, across the wrap, with the local FEC_RECOVERED flag', () => {
    const { sources, order } = encodeStream({ window: 4, step: 4, repairs: 1, maxPayload: 100, start: 0xffff_fffe, lengths: [10, 100, 0, 33] });
    const dec = decoderFor(4, 100);
    const lostSeq = sources[3]!.seq; // seq 1, after the wrap
    const got = feed(dec, order.filter((p) => !(p.kind === 'src' && p.seq === lostSeq)));
    expect(got.length).toBe(1);
    expect(sameAsOriginal(got[0]!, sources[3]!)).toBe(true);
    expect(got[0]!.seq).toBe(1);
  });

  it('recovery condition: up to R losses per block are always recovered (block mode)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 6 }),
        startSeq,
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 96, maxLength: 96 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 1000 })),
        (k, r0, start, blocks, lens, rnd) => {
          const r = Math.min(r0, 128);
          const lengths = lens.slice(0, k * blocks);
          while (lengths.length < k * blocks) lengths.push(7);
          const { sources, order } = encodeStream({ window: k, step: k, repairs: r, maxPayload: 80, start, lengths });
          const lost = new Set<number>();
          for (let b = 0; b < blocks; b++) {
            const n = rnd.next().value % (Math.min(r, k) + 1);
            for (let i = 0; i < n; i++) lost.add(sources[b * k + (rnd.next().value % k)]!.seq);
          }
          const got = feed(decoderFor(k, 80), order.filter((p) => !(p.kind === 'src' && lost.has(p.seq))));
          expect(new Set(got.map((g) => g.seq))).toEqual(lost);
          for (const g of got) expect(sameAsOriginal(g, sources.find((s) => s.seq === g.seq)!)).toBe(true);
        },
      ),
    );
  });

  it('recovery condition: r losses inside the window of r received repairs (sliding window)', () => {
    fc.assert(
      fc.property(params, startSeq, fc.array(fc.integer({ min: 0, max: 64 }), { minLength: 60, maxLength: 60 }), fc.infiniteStream(fc.nat()), (p, start, lengths, rnd) => {
        const { sources, repairs, order } = encodeStream({ ...p, maxPayload: 64, start, lengths });
        // One emission whose window is full; lose up to R of its sources and every other repair
        // except that emission's (the guarantee must not need any other help).
        const full = repairs.filter((x) => x.windowLength === p.window);
        if (full.length === 0) return;
        const pick = full[rnd.next().value % full.length]!;
        const emission = repairs.filter((x) => x.windowStart === pick.windowStart);
        const lost = new Set<number>();
        const n = 1 + (rnd.next().value % Math.min(p.repairs, p.window));
        while (lost.size < n) lost.add((pick.windowStart + (rnd.next().value % p.window)) >>> 0);
        const keep = order.filter((x) => (x.kind === 'src' ? !lost.has(x.seq) : emission.includes(x)));
        const got = feed(decoderFor(p.window, 64), keep);
        expect(new Set(got.map((g) => g.seq))).toEqual(lost);
        for (const g of got) expect(sameAsOriginal(g, sources.find((s) => s.seq === g.seq)!)).toBe(true);
      }),
    );
  });

  it('recovers exactly what the received repairs determine (reference rank), under reordering and duplicates', () => {
    let partial = 0; // cases where some lost packet is NOT determined (the oracle matters)
    let recoveredLost = 0;
    fc.assert(
      fc.property(
        params,
        startSeq,
        fc.integer({ min: 20, max: 70 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 8 }),
        fc.infiniteStream(fc.nat()),
        (p, start, count, srcLossPct, repLossPct, maxDisplace, rnd) => {
          const lengths = Array.from({ length: count }, () => rnd.next().value % 49);
          const { sources, repairs, order } = encodeStream({ ...p, maxPayload: 48, start, lengths });
          const lost = new Set<number>();
          for (const s of sources) if (rnd.next().value % 100 < srcLossPct) lost.add(s.seq);
          const received: Rep[] = repairs.filter(() => rnd.next().value % 100 >= repLossPct);
          let stream: Pkt[] = order.filter((x) => (x.kind === 'src' ? !lost.has(x.seq) : received.includes(x)));
          // Duplicates, then a bounded-displacement shuffle (keys = index + random in [0, d]).
          stream = stream.flatMap((x) => (rnd.next().value % 10 === 0 ? [x, x] : [x]));
          const keyed = stream.map((x, i) => ({ x, k: i + (maxDisplace > 0 ? rnd.next().value % (maxDisplace + 1) : 0) }));
          keyed.sort((a, b) => a.k - b.k);
          const dec = decoderFor(p.window, 48);
          const got = feed(dec, keyed.map((e) => e.x));
          const want = determined(lost, received);
          // Reordering lets a repair arrive before a source that is merely late: the decoder may
          // recover it early (correct, and the late copy is then a duplicate). Among the packets
          // really lost, it must recover exactly the determined ones.
          expect(new Set(got.map((g) => g.seq).filter((q) => lost.has(q)))).toEqual(want);
          expect(new Set(got.map((g) => g.seq)).size).toBe(got.length); // each recovered once
          const bySeq = new Map<number, Src>(sources.map((s) => [s.seq, s]));
          for (const g of got) expect(sameAsOriginal(g, bySeq.get(g.seq)!)).toBe(true);
          expect(dec.stats.decodeFailures).toBe(0);
          expect(dec.stats.evictedEquations).toBe(0);
          if (want.size < lost.size) partial++;
          recoveredLost += want.size;
        },
      ),
    );
    expect(partial).toBeGreaterThan(100);
    expect(recoveredLost).toBeGreaterThan(1000);
  });

  it('wide windows (W up to 128): recovers exactly what the received repairs determine', () => {
    let casesWithRecovery = 0;
    let recoveredTotal = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 128 }),
        fc.integer({ min: 1, max: 128 }),
        fc.integer({ min: 1, max: 8 }),
        startSeq,
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 50 }),
        fc.infiniteStream(fc.nat()),
        (window, stepRaw, repairsRaw, start, srcLossPct, repLossPct, rnd) => {
          const step = 1 + ((stepRaw - 1) % window);
          const repairs = Math.max(1, Math.min(repairsRaw, Math.floor(128 / Math.ceil(window / step))));
          // Keep every repair in the decoder (<= 256 pending) and every source in its span (256).
          const count = Math.min(200, Math.floor((250 * step) / repairs));
          const lengths = Array.from({ length: count }, () => rnd.next().value % 33);
          const { sources, repairs: reps, order } = encodeStream({ window, step, repairs, maxPayload: 32, start, lengths });
          const lost = new Set<number>();
          for (const src of sources) if (rnd.next().value % 100 < srcLossPct) lost.add(src.seq);
          const received = reps.filter(() => rnd.next().value % 100 >= repLossPct);
          const dec = new StreamingFecDecoder({ maxWindow: 128, maxPayload: 32, maxRepairs: 256, span: 256 });
          const got = feed(dec, order.filter((x) => (x.kind === 'src' ? !lost.has(x.seq) : received.includes(x))));
          expect(new Set(got.map((g) => g.seq))).toEqual(determined(lost, received));
          const bySeq = new Map<number, Src>(sources.map((x) => [x.seq, x]));
          for (const g of got) expect(sameAsOriginal(g, bySeq.get(g.seq)!)).toBe(true);
          expect(dec.stats.evictedEquations).toBe(0);
          if (got.length > 0) casesWithRecovery++;
          recoveredTotal += got.length;
        },
      ),
    );
    // The property is not vacuous: most cases lose and recover packets.
    expect(casesWithRecovery).toBeGreaterThan(300);
    expect(recoveredTotal).toBeGreaterThan(3000);
  });

  it('malformed repairs return a status and are counted, never thrown', () => {
    const dec = decoderFor(16, 200);
    const statuses = Object.values(FecRepairStatus) as number[];
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.constantFrom(0, 1, 16, 17, NaN, -1, 1.5)),
        fc.oneof(fc.integer({ min: -1000, max: 70_000 }), fc.constantFrom(0, 127, 128, 65535, NaN, 0.5)),
        fc.oneof(fc.integer({ min: -100, max: 70_000 }), fc.constantFrom(0, 32, 224, 256, 31, NaN)),
        fc.oneof(fc.integer({ min: -10, max: 300 }), fc.constantFrom(NaN, 1.5)),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (wl, ri, len, off, bufLen, ws) => {
          const s = dec.addRepair(ws, wl, ri, new Uint8Array(bufLen), off, len);
          expect(statuses).toContain(s);
        },
      ),
    );
    const st = dec.stats as unknown as Record<string, number>;
    const sum = FEC_REPAIR_STATUS_COUNTERS.reduce((a, k) => a + st[k]!, 0);
    expect(sum).toBe(dec.stats.repairsReceived);
    expect(dec.stats.rejected).toBe(
      dec.stats.repairsInvalidWindow + dec.stats.repairsInvalidIndex + dec.stats.repairsInvalidLength + dec.stats.repairsTruncated + dec.stats.repairsInconsistent,
    );
  });

  it('names the malformed cases precisely', () => {
    const dec = decoderFor(16, 200);
    const buf = new Uint8Array(256);
    expect(dec.addRepair(0, 0, 0, buf, 0, 32)).toBe(FecRepairStatus.InvalidWindow);
    expect(dec.addRepair(0, 17, 0, buf, 0, 32)).toBe(FecRepairStatus.InvalidWindow);
    expect(dec.addRepair(0, 4, 128, buf, 0, 32)).toBe(FecRepairStatus.InvalidIndex);
    expect(dec.addRepair(0, 4, 0, buf, 0, 33)).toBe(FecRepairStatus.InvalidLength);
    expect(dec.addRepair(0, 4, 0, buf, 0, 0)).toBe(FecRepairStatus.InvalidLength);
    expect(dec.addRepair(0, 4, 0, buf, 0, 256)).toBe(FecRepairStatus.InvalidLength); // > 224 = max symbol
    expect(dec.addRepair(0, 4, 0, buf, 240, 32)).toBe(FecRepairStatus.Truncated);
    expect(dec.addRepair(0, 4, 0, buf, 0, 32)).toBe(FecRepairStatus.Accepted);
    expect(dec.addRepair(0, 4, 0, buf, 0, 32)).toBe(FecRepairStatus.Duplicate);
    const p = new Uint8Array(100);
    expect(dec.addSource(1000, 0, 0, 0, p, 0, 100)).toBe(FecSourceStatus.Accepted);
    expect(dec.addSource(1000, 0, 0, 0, p, 0, 100)).toBe(FecSourceStatus.Duplicate);
    expect(dec.addSource(0, 0, 0, 0, p, 0, 10)).toBe(FecSourceStatus.TooOld);
    expect(dec.addRepair(1000, 4, 0, buf, 0, 64)).toBe(FecRepairStatus.Inconsistent); // 100-byte source, 64-byte symbol
    expect(dec.addSource(1001, 0, 0, 0, new Uint8Array(300), 0, 201)).toBe(FecSourceStatus.TooLong);
    expect(dec.stats.rejected).toBe(8);
  });

  it('throws on misuse only: bad options, bad ranges, use after close', () => {
    expect(() => new StreamingFecDecoder({ maxWindow: 0, maxPayload: 10, maxRepairs: 4 })).toThrow(/maxWindow/);
    expect(() => new StreamingFecDecoder({ maxWindow: 129, maxPayload: 10, maxRepairs: 4 })).toThrow(/maxWindow/);
    expect(() => new StreamingFecDecoder({ maxWindow: 8, maxPayload: 10, maxRepairs: 0 })).toThrow(/maxRepairs/);
    expect(() => new StreamingFecDecoder({ maxWindow: 64, maxPayload: 10, maxRepairs: 4, span: 32 })).toThrow(/span/);
    expect(() => new StreamingFecDecoder({ maxWindow: 8, maxPayload: 10, maxRepairs: 4, span: 100 })).toThrow(/span/);
    const dec = new StreamingFecDecoder({ maxWindow: 8, maxPayload: 10, maxRepairs: 4 });
    expect(() => dec.addSource(0, 0, 0, 0, new Uint8Array(4), 2, 4)).toThrow(RangeError);
    dec.close();
    expect(() => dec.addSource(0, 0, 0, 0, new Uint8Array(4), 0, 4)).toThrow(/closed/);
    expect(() => dec.addRepair(0, 1, 0, new Uint8Array(32), 0, 32)).toThrow(/closed/);
  });

  it('bounded state: the oldest equation is evicted and counted when full', () => {
    const { sources, order } = encodeStream({ window: 8, step: 8, repairs: 1, maxPayload: 20, start: 5, lengths: Array(64).fill(20) });
    // Lose 2 per block: each block's single repair stays pending (unsolvable).
    const lost = new Set(sources.filter((_, i) => i % 8 < 2).map((s) => s.seq));
    const dec = decoderFor(8, 20, 3);
    feed(dec, order.filter((p) => !(p.kind === 'src' && lost.has(p.seq))));
    expect(dec.pendingEquations).toBe(3);
    expect(dec.stats.evictedEquations).toBe(5);
  });

  it('forgetBefore keeps equations whose forgotten part is known, drops those with an unknown there', () => {
    const { sources, repairs } = encodeStream({ window: 8, step: 8, repairs: 2, maxPayload: 20, start: 100, lengths: Array(8).fill(20) });
    const dec = decoderFor(8, 20);
    // Lose 105 and 106; deliver the rest, then forget before 104: both repairs stay usable.
    for (const s of sources) if (s.seq !== 105 && s.seq !== 106) dec.addSource(s.seq, s.flags, s.timestamp, s.frameLength, s.payload, 0, s.payload.length);
    dec.forgetBefore(104);
    const rec = new RecoveredPacket();
    const out = new Uint8Array(20);
    dec.addRepair(repairs[0]!.windowStart, 8, repairs[0]!.repairIndex, repairs[0]!.symbol, 0, repairs[0]!.symbol.length);
    expect(dec.addRepair(repairs[0]!.windowStart, 8, 0, repairs[0]!.symbol, 0, repairs[0]!.symbol.length)).toBe(FecRepairStatus.TooOld);
    // The repair starts at 100 < floor 104: too old. Same stream, forget after the repair instead:
    const dec2 = decoderFor(8, 20);
    for (const s of sources) if (s.seq !== 105 && s.seq !== 106) dec2.addSource(s.seq, s.flags, s.timestamp, s.frameLength, s.payload, 0, s.payload.length);
    dec2.addRepair(repairs[0]!.windowStart, 8, repairs[0]!.repairIndex, repairs[0]!.symbol, 0, repairs[0]!.symbol.length);
    dec2.forgetBefore(104);
    expect(dec2.pendingEquations).toBe(1);
    dec2.addRepair(repairs[1]!.windowStart, 8, repairs[1]!.repairIndex, repairs[1]!.symbol, 0, repairs[1]!.symbol.length);
    // repairs[1] also starts at 100: too old now, so only one equation: nothing recovered yet.
    expect(dec2.pollRecovered(out, 0, rec)).toBe(-1);
    dec2.forgetBefore(106);
    expect(dec2.pendingEquations).toBe(0); // 105 unknown and forgotten: equation dropped
    expect(dec2.stats.evictedEquations).toBe(1);
    expect(dec.stats.repairsTooOld).toBe(2);
  });

  it('charges every byte to the account and returns it on close', () => {
    const acct = new CountingAccount();
    const { sources, order } = encodeStream({ window: 8, step: 4, repairs: 2, maxPayload: 50, start: 0, lengths: Array(100).fill(50) });
    const lost = new Set([sources[10]!.seq, sources[50]!.seq, sources[51]!.seq]);
    const dec = decoderFor(8, 50, 16, acct);
    expect(acct.reserved).toBeGreaterThan(256 * 64);
    feed(dec, order.filter((p) => !(p.kind === 'src' && lost.has(p.seq))));
    expect(acct.usedPackets).toBe(100 + dec.pendingEquations);
    dec.close();
    expect(acct.reserved).toBe(0);
    expect(acct.usedBytes).toBe(0);
    expect(acct.usedPackets).toBe(0);
  });
});
