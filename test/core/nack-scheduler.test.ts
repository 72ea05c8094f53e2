import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NackScheduler, DEFAULT_MAX_NACK_RANGES, type NackSchedulerOptions } from '../../src/core/nack-scheduler.js';
import { ReorderBuffer, ReorderOutput } from '../../src/core/reorder-buffer.js';
import type { MemoryAccount } from '../../src/core/memory/types.js';
import { seqAdd, seqInRange } from '../../src/core/seq.js';

const payload = new Uint8Array(8);
function rb(capacity = 256, latencyMs = 200): ReorderBuffer {
  return new ReorderBuffer({ capacity, latencyMs, maxPayload: 8 });
}
function ins(r: ReorderBuffer, seq: number, now: number, ts = now): void {
  r.insert(seq, ts, 0, 8, payload, 0, 8, now);
}
const os = new Uint32Array(DEFAULT_MAX_NACK_RANGES);
const oc = new Uint32Array(DEFAULT_MAX_NACK_RANGES);
function ranges(n: number): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => [os[i]!, oc[i]!]);
}
function sched(r: ReorderBuffer, o: Partial<NackSchedulerOptions> = {}): NackScheduler {
  return new NackScheduler({ source: r, reorderToleranceMs: 5, retryFactor: 1, minRetryMs: 10, ...o });
}

describe('NackScheduler', () => {
  it('first NACK after the reorder tolerance, then every rtt + 4 rttvar, until arrival', () => {
    const r = rb();
    const s = sched(r);
    ins(r, 0, 0);
    expect(s.nextTimeout()).toBe(Infinity);
    ins(r, 3, 2); // gap 1..2 at 2
    expect(s.nextTimeout()).toBe(7);
    expect(s.pollSource(6, 40, 5, os, oc)).toBe(0);
    expect(s.nextTimeout()).toBe(7);
    expect(ranges(s.pollSource(7, 40, 5, os, oc))).toEqual([[1, 2]]);
    expect(s.nextTimeout()).toBe(67); // 7 + 40 + 4 * 5
    expect(s.pollSource(50, 40, 5, os, oc)).toBe(0);
    ins(r, 1, 55);
    expect(ranges(s.pollSource(67, 40, 5, os, oc))).toEqual([[2, 1]]);
    expect(s.stats).toMatchObject({ nacks: 2, seqsNacked: 3, repeats: 1 });
    ins(r, 2, 70);
    expect(s.pollSource(200, 40, 5, os, oc)).toBe(0);
    expect(s.nextTimeout()).toBe(Infinity);
  });

  it('repeat interval: retryFactor scales it, minRetryMs floors it', () => {
    const r = rb();
    const s = sched(r, { retryFactor: 0.25, minRetryMs: 4 });
    ins(r, 0, 0);
    ins(r, 2, 0);
    s.pollSource(5, 40, 0, os, oc);
    expect(s.nextTimeout()).toBe(15);
    s.pollSource(15, 8, 0, os, oc);
    expect(s.nextTimeout()).toBe(19);
  });

  it('coalesceMs: repeats due soon ride along with a NACK sent now; first NACKs never go early', () => {
    const r = rb();
    const s = sched(r, { coalesceMs: 5 }); // interval: rtt 40 (retryFactor 1)
    ins(r, 0, 0);
    ins(r, 2, 0); // gap 1 at 0
    expect(ranges(s.pollSource(5, 40, 0, os, oc))).toEqual([[1, 1]]);
    ins(r, 4, 3); // gap 3 at 3: first NACK due at 8
    expect(ranges(s.pollSource(8, 40, 0, os, oc))).toEqual([[3, 1]]);
    // 1 is due at 45, 3 at 48: the NACK for 1 carries 3 as well (3 ms early)...
    expect(ranges(s.pollSource(45, 40, 0, os, oc))).toEqual([[1, 1], [3, 1]]);
    expect(s.nextTimeout()).toBe(85);
    // ...without it (coalesceMs 0) they go in two datagrams.
    const r2 = rb();
    const s2 = sched(r2, { coalesceMs: 0 });
    ins(r2, 0, 0);
    ins(r2, 2, 0);
    s2.pollSource(5, 40, 0, os, oc);
    ins(r2, 4, 3);
    s2.pollSource(8, 40, 0, os, oc);
    expect(ranges(s2.pollSource(45, 40, 0, os, oc))).toEqual([[1, 1]]);
    expect(ranges(s2.pollSource(48, 40, 0, os, oc))).toEqual([[3, 1]]);
    // A gap that opened 1 ms ago is not NACKed before its reorder tolerance, coalescing or not.
    ins(r2, 6, 85); // gap 5 at 85, due 90
    expect(ranges(s2.pollSource(86, 40, 0, os, oc))).toEqual([[1, 1]]); // 1 due at 85, 3 at 88
    const s3 = sched(r2, { coalesceMs: 10 });
    expect(ranges(s3.pollSource(86, 40, 0, os, oc))).toEqual([[1, 1], [3, 1]]); // fresh state: first NACKs for 1 and 3 (tolerance passed), not 5
    expect(() => sched(r, { coalesceMs: -1 })).toThrow(/coalesceMs/);
  });

  it('urgent polls repeat a sequence NACKed urgentAfter times every urgentIntervalMs', () => {
    const r = rb();
    const s = sched(r, { urgentAfter: 2, urgentIntervalMs: 2, coalesceMs: 0, retryFactor: 0.25 }); // interval 10
    ins(r, 0, 0);
    ins(r, 2, 0);
    expect(ranges(s.pollSource(5, 40, 0, os, oc, true))).toEqual([[1, 1]]); // 1st NACK
    expect(s.nextTimeout()).toBe(15);
    expect(ranges(s.pollSource(15, 40, 0, os, oc, true))).toEqual([[1, 1]]); // 2nd: now urgent
    expect(s.nextTimeout()).toBe(17);
    expect(ranges(s.pollSource(17, 40, 0, os, oc, true))).toEqual([[1, 1]]);
    expect(ranges(s.pollSource(19, 40, 0, os, oc, true))).toEqual([[1, 1]]);
    // Not urgent (retransmissions are arriving): back to the normal interval.
    expect(s.pollSource(21, 40, 0, os, oc, false)).toBe(0);
    expect(ranges(s.pollSource(29, 40, 0, os, oc, false))).toEqual([[1, 1]]);
    expect(() => sched(r, { urgentAfter: 0 })).toThrow(/urgentAfter/);
    expect(() => sched(r, { urgentIntervalMs: 0 })).toThrow(/urgentIntervalMs/);
  });

  it('lossHint: sequences NACKed hintAfter times are NACKed at once (not within 1 ms of the last)', () => {
    const r = rb();
    const s = sched(r, { hintAfter: 2, coalesceMs: 0, retryFactor: 0.25 }); // interval 10
    ins(r, 0, 0);
    ins(r, 2, 0); // gap 1
    ins(r, 4, 0); // gap 3
    expect(ranges(s.pollSource(5, 40, 0, os, oc))).toEqual([[1, 1], [3, 1]]);
    expect(s.pollSource(7, 40, 0, os, oc, false, true)).toBe(0); // one NACK each: not yet
    expect(ranges(s.pollSource(15, 40, 0, os, oc))).toEqual([[1, 1], [3, 1]]);
    ins(r, 3, 16);
    expect(ranges(s.pollSource(18, 40, 0, os, oc, false, true))).toEqual([[1, 1]]); // hinted, 3 ms early
    expect(s.pollSource(18.5, 40, 0, os, oc, false, true)).toBe(0); // NACKed 0.5 ms ago
    expect(s.pollSource(18.5, 40, 0, os, oc)).toBe(0);
    expect(() => sched(r, { hintAfter: 0 })).toThrow(/hintAfter/);
  });

  it('fecHoldMs holds the first NACK for the FEC window (arq:onreq-like); an FEC recovery cancels it', () => {
    const r = rb();
    const s = sched(r, { fecHoldMs: 30 });
    ins(r, 0, 0);
    ins(r, 2, 1);
    expect(s.nextTimeout()).toBe(31);
    ins(r, 5, 1);
    expect(s.nextTimeout()).toBe(31);
    expect(s.pollSource(20, 40, 0, os, oc)).toBe(0);
    ins(r, 1, 25); // recovered by FEC, inserted like an arrival
    expect(ranges(s.pollSource(31, 40, 0, os, oc))).toEqual([[3, 2]]);
  });

  it('does not NACK when the retransmission could not arrive before the run is given up', () => {
    const r = rb(256, 50);
    const s = sched(r);
    ins(r, 0, 0, 0);
    ins(r, 2, 1, 10); // gap 1, given up at 10 + 50 = 60
    expect(ranges(s.pollSource(6, 40, 0, os, oc))).toEqual([[1, 1]]); // 6 + 40 <= 60
    expect(s.pollSource(46, 40, 0, os, oc)).toBe(0); // 46 + 40 > 60: futile
    expect(s.stats.futile).toBe(1);
    expect(s.nextTimeout()).toBe(Infinity);
  });

  it('cancel() stops NACKs for a range (a DROP notice from the sender)', () => {
    const r = rb();
    const s = sched(r);
    ins(r, 0, 0);
    ins(r, 10, 0);
    s.cancel(3, 4);
    expect(ranges(s.pollSource(5, 40, 0, os, oc))).toEqual([
      [1, 2],
      [7, 3],
    ]);
  });

  it('output fits one datagram: at most maxRanges ranges, oldest first, rest next time', () => {
    const r = rb(1024);
    const s = sched(r, { maxRanges: 3 });
    ins(r, 0, 0);
    for (let q = 2; q <= 20; q += 2) ins(r, q, 0); // 9 single gaps: 1, 3, ..., 17, 19
    expect(ranges(s.pollSource(5, 40, 0, os, oc))).toEqual([
      [1, 1],
      [3, 1],
      [5, 1],
    ]);
    expect(s.stats.truncated).toBe(1);
    expect(s.nextTimeout()).toBe(5);
    expect(ranges(s.pollSource(5, 40, 0, os, oc))).toEqual([
      [7, 1],
      [9, 1],
      [11, 1],
    ]);
  });

  it('without a source: the loss list is passed in, onArrival notices gaps for nextTimeout', () => {
    const r = rb();
    const reserved: number[] = [];
    const acct: MemoryAccount = {
      name: 't',
      reserve: (b) => reserved.push(b),
      unreserve: (b) => reserved.push(-b),
      setCapacity: () => {},
      use: () => {},
      setSpanMs: () => {},
    };
    const s = new NackScheduler({ capacity: 256, account: acct });
    expect(reserved[0]).toBe(256 * 15);
    const ls = new Uint32Array(16);
    const lc = new Uint32Array(16);
    const lsince = new Float64Array(16);
    const ldl = new Float64Array(16);
    ins(r, 0xffff_fffe, 0);
    s.onArrival(0xffff_fffe, 0);
    ins(r, 2, 3);
    s.onArrival(2, 3);
    expect(s.nextTimeout()).toBe(3 + s.firstDelayMs);
    const n = r.copyLossRanges(ls, lc, lsince, 16, ldl);
    expect(ranges(s.poll(3 + s.firstDelayMs, 40, ls, lc, lsince, ldl, n, os, oc))).toEqual([[0xffff_ffff, 3]]);
    expect(() => s.pollSource(0, 0, 0, os, oc)).toThrow(/without a source/);
    s.close();
    expect(reserved.reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('property: every NACKed sequence is missing; ranges are compressed, ordered and fit; no NACK before tolerance', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.array(fc.record({ drop: fc.boolean(), dt: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 150 }),
        fc.integer({ min: 1, max: 8 }),
        (start, pkts, maxRanges) => {
          const r = rb(256, 1000);
          const s = sched(r, { maxRanges });
          const out = new ReorderOutput();
          let now = 0;
          const firstSeen = new Map<number, number>();
          pkts.forEach((p, i) => {
            now += p.dt;
            const seq = seqAdd(start, i);
            if (!p.drop) ins(r, seq, now);
            while (r.poll(now, out)) {
              /* nothing is due within 1 s */
            }
            const ls = new Uint32Array(256);
            const lc = new Uint32Array(256);
            const n0 = r.copyLossRanges(ls, lc, new Float64Array(256), 256);
            for (let k = 0; k < n0; k++) for (let j = 0; j < lc[k]!; j++) if (!firstSeen.has(seqAdd(ls[k]!, j))) firstSeen.set(seqAdd(ls[k]!, j), now);
            if (now >= s.nextTimeout() || i % 3 === 0) {
              const n = s.pollSource(now, 20, 2, os, oc);
              expect(n).toBeLessThanOrEqual(maxRanges);
              for (let k = 0; k < n; k++) {
                expect(oc[k]).toBeGreaterThan(0);
                expect(oc[k]).toBeLessThanOrEqual(0xffff);
                if (k > 0) expect(seqInRange(os[k]!, seqAdd(os[k - 1]!, oc[k - 1]! + 1), 0x7fff_ffff)).toBe(true);
                for (let j = 0; j < oc[k]!; j++) {
                  const q = seqAdd(os[k]!, j);
                  expect(firstSeen.has(q)).toBe(true);
                  expect(now - firstSeen.get(q)!).toBeGreaterThanOrEqual(5);
                }
              }
            }
          });
        },
      ),
      { numRuns: 300 }, // each run replays up to 150 packets with a loss-list copy per packet
    );
  });
});
