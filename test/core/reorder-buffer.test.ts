import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  InsertStatus,
  ReorderBuffer,
  ReorderEvent,
  ReorderOutput,
  type ReorderBufferOptions,
} from '../../src/core/reorder-buffer.js';
import type { MemoryAccount, SlotSource } from '../../src/core/memory/types.js';
import { seqAdd, seqDiff } from '../../src/core/seq.js';

const MAX_PAYLOAD = 64;

/** Payload of a test packet: its seq in the first 4 bytes, then a seq-derived pattern. */
function payloadFor(seq: number, buf: Uint8Array, offset: number): number {
  const len = 4 + (seq % (MAX_PAYLOAD - 4));
  buf[offset] = seq >>> 24;
  buf[offset + 1] = (seq >>> 16) & 0xff;
  buf[offset + 2] = (seq >>> 8) & 0xff;
  buf[offset + 3] = seq & 0xff;
  for (let i = 4; i < len; i++) buf[offset + i] = (seq * 31 + i) & 0xff;
  return len;
}

function checkPayload(seq: number, out: ReorderOutput): void {
  const expected = new Uint8Array(MAX_PAYLOAD);
  const len = payloadFor(seq, expected, 0);
  expect(out.length).toBe(len);
  expect(Array.from(out.payload.subarray(out.offset, out.offset + out.length))).toEqual(Array.from(expected.subarray(0, len)));
}

/** Records every account call and checks the balance. */
class RecordingAccount implements MemoryAccount {
  readonly name = 'test.reorder';
  reserved = 0;
  usedBytes = 0;
  usedPackets = 0;
  capacityBytes = 0;
  capacityPackets = 0;
  span = 0;
  reserve(bytes: number): void {
    this.reserved += bytes;
  }
  unreserve(bytes: number): void {
    this.reserved -= bytes;
  }
  setCapacity(bytes: number, packets: number): void {
    this.capacityBytes = bytes;
    this.capacityPackets = packets;
  }
  use(bytes: number, packets: number): void {
    this.usedBytes += bytes;
    this.usedPackets += packets;
  }
  setSpanMs(ms: number): void {
    this.span = ms;
  }
}

/** A minimal slot source with a hard cap, detecting double and foreign releases. */
class TestPool implements SlotSource {
  readonly slotSize: number;
  private readonly free: Uint8Array[] = [];
  private readonly out = new Set<Uint8Array>();
  bad = 0;
  constructor(slotSize: number, slots: number) {
    this.slotSize = slotSize;
    for (let i = 0; i < slots; i++) this.free.push(new Uint8Array(slotSize));
  }
  acquire(): Uint8Array | null {
    const b = this.free.pop() ?? null;
    if (b !== null) this.out.add(b);
    return b;
  }
  release(buf: Uint8Array): void {
    if (!this.out.delete(buf)) {
      this.bad++;
      return;
    }
    this.free.push(buf);
  }
  get inUse(): number {
    return this.out.size;
  }
}

function make(opts: Partial<ReorderBufferOptions> = {}): ReorderBuffer {
  return new ReorderBuffer({ capacity: 16, latencyMs: 100, maxPayload: MAX_PAYLOAD, ...opts });
}

const scratch = new Uint8Array(MAX_PAYLOAD + 8);
function ins(rb: ReorderBuffer, seq: number, releaseBase: number, now: number, flags = 0): InsertStatus {
  const len = payloadFor(seq, scratch, 8);
  return rb.insert(seq, releaseBase, flags, 1000 + (seq % 7), scratch, 8, len, now);
}

interface Ev {
  kind: number;
  seq: number;
  count: number;
  at: number;
  releaseAt: number;
}
function drain(rb: ReorderBuffer, now: number, out: ReorderOutput, evs: Ev[], verify = true): void {
  while (rb.poll(now, out)) {
    if (verify && out.kind === ReorderEvent.Packet) checkPayload(out.seq, out);
    evs.push({ kind: out.kind, seq: out.seq, count: out.count, at: now, releaseAt: out.releaseAt });
  }
}

describe('ReorderBuffer: unit', () => {
  it('validates options, naming the option', () => {
    expect(() => make({ capacity: 12 })).toThrow(/capacity: expected a power of two/);
    expect(() => make({ capacity: 1 })).toThrow(/capacity/);
    expect(() => make({ latencyMs: -1 })).toThrow(/latencyMs/);
    expect(() => make({ maxPayload: 0 })).toThrow(/maxPayload/);
    expect(() => make({ beyondWindow: 'grow' as 'drop' })).toThrow(/beyondWindow/);
    expect(() => make({ pool: new TestPool(10, 4) })).toThrow(/pool: expected slotSize >= maxPayload/);
    expect(() => make({ capacity: '16' as unknown as number })).toThrow(TypeError);
  });

  it('delivers in order at releaseBase + latency, and reports nextTimeout', () => {
    const rb = make();
    const out = new ReorderOutput();
    expect(rb.nextTimeout()).toBe(Infinity);
    expect(ins(rb, 10, 0, 0)).toBe(InsertStatus.Accepted);
    expect(ins(rb, 12, 2, 2)).toBe(InsertStatus.Accepted);
    expect(ins(rb, 11, 1, 3)).toBe(InsertStatus.Accepted);
    expect(rb.packets).toBe(3);
    expect(rb.nextTimeout()).toBe(100);
    expect(rb.poll(99.5, out)).toBe(false);
    const evs: Ev[] = [];
    drain(rb, 101, out, evs);
    expect(evs.map((e) => e.seq)).toEqual([10, 11]);
    expect(rb.nextExpected).toBe(12);
    expect(rb.nextTimeout()).toBe(102);
    drain(rb, 102, out, evs);
    expect(evs.map((e) => e.seq)).toEqual([10, 11, 12]);
    expect(rb.stats.delivered).toBe(3);
    expect(rb.packets).toBe(0);
    expect(rb.bytes).toBe(0);
  });

  it('skips a missing packet when the next held one is due (too-late drop), and counts it late afterwards', () => {
    const rb = make();
    const out = new ReorderOutput();
    ins(rb, 0, 0, 0);
    ins(rb, 3, 3, 3);
    expect(rb.missing).toBe(2);
    const evs: Ev[] = [];
    drain(rb, 100, out, evs);
    expect(evs).toEqual([{ kind: ReorderEvent.Packet, seq: 0, count: 1, at: 100, releaseAt: 100 }]);
    expect(rb.nextTimeout()).toBe(103);
    drain(rb, 103, out, evs);
    expect(evs.slice(1).map((e) => [e.kind, e.seq, e.count])).toEqual([
      [ReorderEvent.Lost, 1, 2],
      [ReorderEvent.Packet, 3, 1],
    ]);
    expect(rb.stats.lost).toBe(2);
    expect(ins(rb, 1, 1, 104)).toBe(InsertStatus.Late);
    expect(ins(rb, 0, 0, 104)).toBe(InsertStatus.TooOld);
    expect(ins(rb, 4, 4, 104)).toBe(InsertStatus.Accepted);
    expect(ins(rb, 4, 4, 104)).toBe(InsertStatus.Duplicate);
    expect(rb.stats).toMatchObject({ late: 1, tooOld: 1, duplicate: 1, accepted: 3 });
  });

  it('reports the loss list with since and deadlines', () => {
    const rb = make({ capacity: 64 });
    ins(rb, 100, 0, 0);
    ins(rb, 103, 3, 5); // gap 101..102 since 5
    ins(rb, 110, 10, 9); // gap 104..109 since 9
    ins(rb, 105, 5, 11); // splits it
    const starts = new Uint32Array(8);
    const counts = new Uint32Array(8);
    const since = new Float64Array(8);
    const dl = new Float64Array(8);
    const n = rb.copyLossRanges(starts, counts, since, 8, dl);
    expect(n).toBe(3);
    expect(Array.from(starts.subarray(0, n))).toEqual([101, 104, 106]);
    expect(Array.from(counts.subarray(0, n))).toEqual([2, 1, 4]);
    expect(Array.from(since.subarray(0, n))).toEqual([5, 9, 9]);
    expect(Array.from(dl.subarray(0, n))).toEqual([103, 105, 110]);
    expect(rb.copyLossRanges(starts, counts, since, 1)).toBe(1);
    expect(rb.missing).toBe(7);
    expect(rb.stats.gapsOpened).toBe(2);
    expect(rb.lastGapAt).toBe(9);
  });

  it('loss list runs longer than 32 cross bitmap words correctly', () => {
    const rb = make({ capacity: 256 });
    ins(rb, 0xffff_fff0, 0, 0);
    ins(rb, 0x60, 1, 1); // 0x70 missing across the wrap
    const starts = new Uint32Array(4);
    const counts = new Uint32Array(4);
    const since = new Float64Array(4);
    expect(rb.copyLossRanges(starts, counts, since, 4)).toBe(1);
    expect(starts[0]).toBe(0xffff_fff1);
    expect(counts[0]).toBe(0x6f);
  });

  it("slide policy: a packet beyond the window moves it and reports the slid-over run lost", () => {
    const rb = make({ capacity: 8 });
    const out = new ReorderOutput();
    ins(rb, 0, 0, 0);
    ins(rb, 2, 2, 0);
    expect(ins(rb, 12, 12, 1)).toBe(InsertStatus.Accepted); // window becomes [5, 13)
    expect(rb.nextExpected).toBe(5);
    expect(rb.packets).toBe(1);
    expect(rb.stats).toMatchObject({ slid: 1, slidDropped: 2, lost: 5 });
    expect(rb.nextTimeout()).toBe(-Infinity);
    const evs: Ev[] = [];
    drain(rb, 1, out, evs);
    expect(evs.map((e) => [e.kind, e.seq, e.count])).toEqual([[ReorderEvent.Lost, 0, 5]]);
    expect(ins(rb, 2, 2, 1)).toBe(InsertStatus.Late);
    drain(rb, 112, out, evs);
    expect(evs.slice(1).map((e) => [e.kind, e.seq, e.count])).toEqual([
      [ReorderEvent.Lost, 5, 7],
      [ReorderEvent.Packet, 12, 1],
    ]);
  });

  it("drop policy: a packet beyond the window is dropped and counted, nothing else changes", () => {
    const rb = make({ capacity: 8, beyondWindow: 'drop' });
    ins(rb, 0, 0, 0);
    expect(ins(rb, 8, 8, 0)).toBe(InsertStatus.BeyondWindow);
    expect(ins(rb, 7, 7, 0)).toBe(InsertStatus.Accepted);
    expect(rb.stats.beyondWindowDropped).toBe(1);
    expect(rb.packets).toBe(2);
  });

  it('oversize payloads are refused with a status; bad offsets are caller bugs and throw', () => {
    const rb = make();
    const big = new Uint8Array(MAX_PAYLOAD + 1);
    expect(rb.insert(0, 0, 0, 0, big, 0, big.length, 0)).toBe(InsertStatus.Oversize);
    expect(rb.stats.oversize).toBe(1);
    expect(() => rb.insert(0, 0, 0, 0, big, 10, big.length, 0)).toThrow(/offset \+ length/);
  });

  it('before anything is released, an earlier packet extends the window backwards (startup reordering)', () => {
    const rb = make({ capacity: 8 });
    const out = new ReorderOutput();
    ins(rb, 10, 10, 0);
    expect(ins(rb, 8, 8, 1)).toBe(InsertStatus.Accepted);
    expect(rb.nextExpected).toBe(8);
    expect(rb.missing).toBe(1);
    expect(ins(rb, 2, 2, 1)).toBe(InsertStatus.TooOld); // would not fit: 2..10 spans 9 > 8
    const evs: Ev[] = [];
    drain(rb, 200, out, evs);
    expect(evs.map((e) => [e.kind, e.seq, e.count])).toEqual([
      [ReorderEvent.Packet, 8, 1],
      [ReorderEvent.Lost, 9, 1],
      [ReorderEvent.Packet, 10, 1],
    ]);
    expect(ins(rb, 7, 7, 201)).toBe(InsertStatus.TooOld);
  });

  it('start(seq) fixes the window start so losing the first packets is noticed', () => {
    const rb = make();
    rb.start(0xffff_ffff);
    ins(rb, 1, 10, 0);
    expect(rb.missing).toBe(2);
    const out = new ReorderOutput();
    const evs: Ev[] = [];
    drain(rb, 110, out, evs);
    expect(evs.map((e) => [e.kind, e.seq, e.count])).toEqual([
      [ReorderEvent.Lost, 0xffff_ffff, 2],
      [ReorderEvent.Packet, 1, 1],
    ]);
  });

  it('accounts reservations, occupancy and span; close() returns everything (slab mode)', () => {
    const acct = new RecordingAccount();
    const rb = make({ account: acct, capacity: 32 });
    expect(acct.reserved).toBeGreaterThan(32 * MAX_PAYLOAD);
    expect(acct.capacityPackets).toBe(32);
    ins(rb, 5, 0, 0);
    ins(rb, 7, 20, 0);
    expect(acct.usedPackets).toBe(2);
    expect(acct.usedBytes).toBe(rb.bytes);
    expect(acct.span).toBe(20);
    expect(rb.spanMs).toBe(20);
    rb.close();
    rb.close();
    expect(acct).toMatchObject({ reserved: 0, usedBytes: 0, usedPackets: 0, span: 0 });
    expect(() => ins(rb, 8, 0, 0)).toThrow(/closed/);
  });

  it('pool mode: slots come from the pool, go back on delivery/slide/close; exhaustion is a status', () => {
    const pool = new TestPool(MAX_PAYLOAD, 3);
    const acct = new RecordingAccount();
    const rb = make({ pool, account: acct, capacity: 8 });
    expect(acct.reserved).toBeLessThan(8 * MAX_PAYLOAD);
    const out = new ReorderOutput();
    ins(rb, 0, 0, 0);
    ins(rb, 1, 0, 0);
    ins(rb, 2, 0, 0);
    expect(ins(rb, 3, 0, 0)).toBe(InsertStatus.NoSlot);
    expect(rb.stats.noSlot).toBe(1);
    expect(rb.missing).toBe(0);
    expect(rb.poll(100, out)).toBe(true);
    checkPayload(0, out);
    // The delivered slot stays lent (and intact) until the next call.
    expect(pool.inUse).toBe(3);
    expect(rb.poll(100, out)).toBe(true);
    expect(pool.inUse).toBe(2);
    expect(ins(rb, 20, 0, 0)).toBe(InsertStatus.Accepted); // slides over 2 (held) and 3..12
    expect(pool.inUse).toBe(1); // the lent slot came back at this call; 2 was slid out; 20 is held
    rb.close();
    expect(pool.inUse).toBe(0);
    expect(pool.bad).toBe(0);
    expect(acct).toMatchObject({ reserved: 0, usedBytes: 0, usedPackets: 0 });
  });

  it('fence(): a lost tail no later packet revealed becomes missing and is given up at its deadline', () => {
    const rb = make({ capacity: 16 });
    const out = new ReorderOutput();
    ins(rb, 0, 0, 0);
    ins(rb, 1, 1, 1);
    expect(rb.fence(1, 5, 2)).toBe(false); // nothing new
    expect(rb.fence(5, 5, 3)).toBe(true); // 2..4 sent by 5 (sender clock mapped), not received
    expect(rb.missing).toBe(3);
    const starts = new Uint32Array(4);
    const counts = new Uint32Array(4);
    const since = new Float64Array(4);
    const dl = new Float64Array(4);
    expect(rb.copyLossRanges(starts, counts, since, 4, dl)).toBe(1);
    expect([starts[0], counts[0], since[0], dl[0]]).toEqual([2, 3, 3, 105]);
    expect(ins(rb, 3, 3, 50)).toBe(InsertStatus.Accepted);
    const evs: Ev[] = [];
    drain(rb, 104, out, evs);
    expect(evs.map((e) => [e.kind, e.seq, e.count])).toEqual([
      [ReorderEvent.Packet, 0, 1],
      [ReorderEvent.Packet, 1, 1],
      [ReorderEvent.Lost, 2, 1],
      [ReorderEvent.Packet, 3, 1],
    ]);
    expect(rb.nextTimeout()).toBe(105);
    drain(rb, 105, out, evs);
    expect(evs.slice(4).map((e) => [e.kind, e.seq, e.count])).toEqual([[ReorderEvent.Lost, 4, 1]]);
    expect(rb.nextTimeout()).toBe(Infinity);
    const drop = make({ capacity: 8, beyondWindow: 'drop' });
    ins(drop, 0, 0, 0);
    expect(drop.fence(20, 0, 0)).toBe(false);
    expect(drop.stats.beyondWindowDropped).toBe(1);
  });

  it('a hostile jump of 2^31 changes nothing but counters (both policies)', () => {
    for (const beyondWindow of ['slide', 'drop'] as const) {
      const rb = make({ beyondWindow, capacity: 16 });
      ins(rb, 1000, 0, 0);
      ins(rb, 1003, 3, 0);
      const before = [rb.nextExpected, rb.packets, rb.bytes, rb.missing, rb.nextTimeout()];
      expect(ins(rb, seqAdd(1000, 0x8000_0000), 0, 1)).toBe(InsertStatus.TooOld);
      expect(ins(rb, seqAdd(1003, 0x8000_0000), 0, 1)).toBe(InsertStatus.TooOld);
      expect([rb.nextExpected, rb.packets, rb.bytes, rb.missing, rb.nextTimeout()]).toEqual(before);
      expect(rb.stats.tooOld).toBe(2);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

interface Arrival {
  seq: number;
  ts: number;
  at: number;
}

/** Builds arrivals: packet i (seq start+i) stamped i*gap, dropped or duplicated, arriving after a jitter. */
function arrivalsArb(maxN: number, maxJitter: number, lossy: boolean) {
  return fc
    .record({
      start: fc.oneof(fc.integer({ min: 0xffff_ff00, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff })),
      gap: fc.integer({ min: 1, max: 5 }),
      pkts: fc.array(
        fc.record({
          drop: lossy ? fc.boolean() : fc.constant(false),
          dup: lossy ? fc.integer({ min: 0, max: 2 }) : fc.constant(0),
          jitter: fc.integer({ min: 0, max: maxJitter }),
          dupJitter: fc.integer({ min: 0, max: 4 * maxJitter }),
        }),
        { minLength: 1, maxLength: maxN },
      ),
    })
    .map(({ start, gap, pkts }) => {
      const arr: Arrival[] = [];
      pkts.forEach((p, i) => {
        if (p.drop) return;
        const seq = seqAdd(start, i);
        const ts = i * gap;
        arr.push({ seq, ts, at: ts + p.jitter });
        for (let d = 0; d < p.dup; d++) arr.push({ seq, ts, at: ts + p.jitter + p.dupJitter + d });
      });
      arr.sort((a, b) => a.at - b.at);
      return { start, n: pkts.length, arr };
    });
}

/**
 * Runs arrivals through a buffer with a fake clock. `extraPolls` adds poll times (clock steps);
 * otherwise the clock jumps to min(next arrival, nextTimeout), as an I/O loop with one timer does.
 */
function run(rb: ReorderBuffer, arr: Arrival[], extraPolls: number[] = []) {
  const out = new ReorderOutput();
  const evs: Ev[] = [];
  const polls = [...extraPolls].sort((a, b) => a - b);
  let i = 0;
  let p = 0;
  let now = 0;
  let maxPackets = 0;
  const accepted = new Map<number, number>(); // seq -> release time
  for (let guard = 0; guard < 100_000; guard++) {
    const nextArr = i < arr.length ? arr[i]!.at : Infinity;
    const nextPoll = p < polls.length ? polls[p]! : Infinity;
    const t = Math.min(nextArr, nextPoll, rb.nextTimeout());
    if (t === Infinity) break;
    now = Math.max(now, t);
    while (i < arr.length && arr[i]!.at <= now) {
      const a = arr[i++]!;
      let st = ins(rb, a.seq, a.ts, now);
      if (st === InsertStatus.NeedsRoom) {
        // beyondWindow 'release': deliver what is in the way, then the packet fits.
        drain(rb, now, out, evs);
        st = ins(rb, a.seq, a.ts, now);
        expect(st).not.toBe(InsertStatus.NeedsRoom);
      }
      if (st === InsertStatus.Accepted) accepted.set(a.seq, a.ts + rb.latencyMs);
      maxPackets = Math.max(maxPackets, rb.packets);
    }
    while (p < polls.length && polls[p]! <= now) p++;
    drain(rb, now, out, evs);
  }
  return { evs, accepted, maxPackets };
}

/** Checks the ordering contract: events cover consecutive sequences, each at most once. */
function checkOrder(evs: Ev[]): void {
  for (let k = 1; k < evs.length; k++) {
    const prev = evs[k - 1]!;
    expect(evs[k]!.seq).toBe(seqAdd(prev.seq, prev.count));
  }
}

describe('ReorderBuffer: properties', () => {
  it('arbitrary loss, duplicates, reordering and clock steps: in-order subset, no duplicates, bounded, on time', () => {
    fc.assert(
      fc.property(
        arrivalsArb(200, 60, true),
        fc.constantFrom(8, 32, 64),
        fc.constantFrom<'slide' | 'drop'>('slide', 'drop'),
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 10 }),
        ({ arr }, capacity, beyondWindow, steps) => {
          const rb = new ReorderBuffer({ capacity, latencyMs: 40, maxPayload: MAX_PAYLOAD, beyondWindow });
          const { evs, accepted, maxPackets } = run(rb, arr, steps);
          expect(maxPackets).toBeLessThanOrEqual(capacity);
          checkOrder(evs);
          const seen = new Set<number>();
          const held: number[] = [];
          for (const e of evs) {
            if (e.kind === ReorderEvent.Packet) {
              expect(accepted.has(e.seq)).toBe(true);
              expect(seen.has(e.seq)).toBe(false);
              seen.add(e.seq);
              // Never early; exactly on time when the clock follows nextTimeout (extra polls only add times).
              expect(e.at).toBeGreaterThanOrEqual(accepted.get(e.seq)!);
              held.push(e.seq);
            }
          }
          const lost = evs.filter((e) => e.kind === ReorderEvent.Lost).reduce((s, e) => s + e.count, 0);
          expect(rb.stats.delivered).toBe(seen.size);
          expect(rb.stats.lost).toBe(lost);
          // Everything accepted was delivered, slid out, or is still held.
          expect(rb.stats.accepted).toBe(rb.stats.delivered + rb.stats.slidDropped + rb.packets);
        },
      ),
    );
  });

  it("beyondWindow 'release': in order, nothing held is ever discarded, early only when expedited", () => {
    fc.assert(
      fc.property(
        arrivalsArb(200, 60, true),
        fc.constantFrom(4, 8, 16),
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 10 }),
        ({ arr }, capacity, steps) => {
          const rb = new ReorderBuffer({ capacity, latencyMs: 200, maxPayload: MAX_PAYLOAD, beyondWindow: 'release' });
          const { evs, accepted, maxPackets } = run(rb, arr, steps);
          expect(maxPackets).toBeLessThanOrEqual(capacity);
          checkOrder(evs);
          const seen = new Set<number>();
          let early = 0;
          for (const e of evs) {
            if (e.kind !== ReorderEvent.Packet) continue;
            expect(accepted.has(e.seq)).toBe(true);
            expect(seen.has(e.seq)).toBe(false);
            seen.add(e.seq);
            if (e.at < accepted.get(e.seq)!) early++;
          }
          expect(rb.stats.slidDropped).toBe(0);
          expect(rb.stats.beyondWindowDropped).toBe(0);
          expect(rb.stats.expedited).toBe(early);
          // Every packet accepted was delivered (the clock ran out): none discarded.
          expect(rb.packets).toBe(0);
          expect(seen.size).toBe(rb.stats.accepted);
        },
      ),
    );
  });

  it("beyondWindow 'release': hands out the packets in the way early and gives up the gaps among them", () => {
    const rb = new ReorderBuffer({ capacity: 8, latencyMs: 1000, maxPayload: MAX_PAYLOAD, beyondWindow: 'release' });
    const out = new ReorderOutput();
    for (const seq of [0, 1, 3, 4, 5, 6, 7]) expect(ins(rb, seq, 0, 0)).toBe(InsertStatus.Accepted);
    expect(rb.nextTimeout()).toBe(1000);
    // 10 needs the window to start at 3: 0 and 1 go out early, 2 is given up.
    expect(ins(rb, 10, 5, 5)).toBe(InsertStatus.NeedsRoom);
    expect(rb.nextTimeout()).toBe(Number.NEGATIVE_INFINITY);
    const evs: Ev[] = [];
    drain(rb, 5, out, evs);
    expect(evs.map((e) => [e.kind, e.seq, e.count])).toEqual([
      [ReorderEvent.Packet, 0, 1],
      [ReorderEvent.Packet, 1, 1],
      [ReorderEvent.Lost, 2, 1],
    ]);
    expect(rb.stats.expedited).toBe(2);
    expect(rb.nextTimeout()).toBe(1000);
    expect(ins(rb, 10, 5, 5)).toBe(InsertStatus.Accepted);
    expect(rb.packets).toBe(6);
    // An empty window has nothing to hand out: a far jump slides over never-seen sequences.
    const empty = new ReorderBuffer({ capacity: 8, latencyMs: 1000, maxPayload: MAX_PAYLOAD, beyondWindow: 'release' });
    empty.start(0);
    expect(ins(empty, 100, 0, 0)).toBe(InsertStatus.Accepted);
    expect(empty.stats.slidDropped).toBe(0);
  });

  it('no loss and reordering within capacity: output equals input, each packet exactly at its release time', () => {
    fc.assert(
      fc.property(arrivalsArb(300, 39, false), fc.integer({ min: 0, max: 3 }), ({ start, n, arr }, k) => {
        // latency 40 > max jitter 39: every packet arrives before its deadline; capacity 64 > 40/1 + 1.
        const rb = new ReorderBuffer({ capacity: 64 << k, latencyMs: 40, maxPayload: MAX_PAYLOAD, beyondWindow: 'drop' });
        const { evs, accepted } = run(rb, arr);
        expect(evs.every((e) => e.kind === ReorderEvent.Packet)).toBe(true);
        expect(evs.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => seqAdd(start, i)));
        for (const e of evs) expect(e.at).toBe(accepted.get(e.seq));
        expect(rb.stats.beyondWindowDropped + rb.stats.late + rb.stats.tooOld).toBe(0);
      }),
    );
  });

  it('deadline: a missing sequence is reported lost no later than the release time of the next packet held', () => {
    fc.assert(
      fc.property(arrivalsArb(200, 30, true), ({ arr }) => {
        const rb = new ReorderBuffer({ capacity: 256, latencyMs: 40, maxPayload: MAX_PAYLOAD });
        const { evs, accepted } = run(rb, arr);
        checkOrder(evs);
        for (let k = 0; k < evs.length; k++) {
          const e = evs[k]!;
          if (e.kind !== ReorderEvent.Lost) continue;
          // The next event is the packet after the run; the run was reported at its release time.
          const next = evs[k + 1];
          if (next !== undefined && next.kind === ReorderEvent.Packet) {
            expect(next.seq).toBe(seqAdd(e.seq, e.count));
            expect(e.at).toBe(accepted.get(next.seq));
          }
          for (let j = 0; j < e.count; j++) expect(accepted.has(seqAdd(e.seq, j)) && evs.some((x) => x.kind === ReorderEvent.Packet && x.seq === seqAdd(e.seq, j))).toBe(false);
        }
        // Nothing left behind: everything held was delivered once the clock ran out.
        expect(rb.packets).toBe(0);
      }),
    );
  });

  it('hostile sequence numbers never grow the buffer and never break order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ seq: fc.integer({ min: 0, max: 0xffff_ffff }), near: fc.boolean(), dt: fc.integer({ min: 0, max: 20 }) }),
          { minLength: 1, maxLength: 300 },
        ),
        fc.constantFrom<'slide' | 'drop'>('slide', 'drop'),
        (ops, beyondWindow) => {
          const pool = new TestPool(MAX_PAYLOAD, 16);
          const rb = new ReorderBuffer({ capacity: 16, latencyMs: 10, maxPayload: MAX_PAYLOAD, beyondWindow, pool });
          const out = new ReorderOutput();
          const evs: Ev[] = [];
          let now = 0;
          for (const op of ops) {
            now += op.dt;
            const seq = op.near ? seqAdd(rb.nextExpected, op.seq % 40) : op.seq;
            ins(rb, seq, now, now);
            expect(rb.packets).toBeLessThanOrEqual(16);
            expect(pool.inUse).toBeLessThanOrEqual(16);
            expect(seqDiff(rb.nextExpected, seqAdd(rb.nextExpected, rb.missing))).toBeLessThanOrEqual(16);
            drain(rb, now, out, evs);
          }
          checkOrder(evs);
          rb.close();
          expect(pool.inUse).toBe(0);
          expect(pool.bad).toBe(0);
        },
      ),
    );
  });
});
