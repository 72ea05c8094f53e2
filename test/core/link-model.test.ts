import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LINK_CAPACITY,
  DEFAULT_LINK_MAX_DATAGRAM,
  formatImpairment,
  LinkModel,
  LinkPair,
  parseBurst,
  parseBytes,
  parseDurationMs,
  parseImpairment,
  parseProbability,
  parseRateBps,
  totalDropped,
  type ImpairmentOptions,
  type LinkModelOptions,
} from '../../src/core/link-model.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError } from '../../src/core/errors.js';
import type { MemoryAccount, SlotSource } from '../../src/core/memory/types.js';

interface Delivery {
  /** Virtual time of delivery (ms). */
  readonly t: number;
  /** Send index written into the first 4 bytes. */
  readonly idx: number;
  readonly len: number;
}

/**
 * Drives one model in virtual time: sends `schedule[i] = [timeMs, length]` in order, writing the
 * index i into the first 4 bytes, and polls every datagram exactly at its due time.
 */
function drive(link: LinkModel, schedule: ReadonlyArray<readonly [number, number]>): Delivery[] {
  const out = new Uint8Array(link.maxDatagram);
  const payload = new Uint8Array(65536);
  const pv = new DataView(payload.buffer);
  const ov = new DataView(out.buffer);
  const deliveries: Delivery[] = [];
  let i = 0;
  for (;;) {
    const tSend = i < schedule.length ? (schedule[i] as readonly [number, number])[0] : Infinity;
    const tDue = link.nextTimeout();
    if (tSend === Infinity && tDue === Infinity) break;
    if (tDue <= tSend) {
      const n = link.poll(tDue, out);
      expect(n).toBeGreaterThanOrEqual(0);
      deliveries.push({ t: tDue, idx: n >= 4 ? ov.getUint32(0) : -1, len: n });
    } else {
      const len = (schedule[i] as readonly [number, number])[1];
      if (len >= 4) pv.setUint32(0, i);
      link.send(payload, 0, len, tSend);
      i++;
    }
  }
  return deliveries;
}

/** `n` datagrams of `len` bytes, one every `intervalMs` from t = 0. */
function steady(n: number, intervalMs: number, len = 100): Array<[number, number]> {
  const s: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) s.push([i * intervalMs, len]);
  return s;
}

/** A MemoryAccount that records everything and checks it never goes negative. */
class RecordingAccount implements MemoryAccount {
  readonly name = 'test.link';
  reserved = 0;
  usedBytes = 0;
  usedPackets = 0;
  capacityBytes = 0;
  capacityPackets = 0;
  reserve(bytes: number): void {
    this.reserved += bytes;
  }
  unreserve(bytes: number): void {
    this.reserved -= bytes;
    expect(this.reserved).toBeGreaterThanOrEqual(0);
  }
  setCapacity(bytes: number, packets: number): void {
    this.capacityBytes = bytes;
    this.capacityPackets = packets;
  }
  use(bytes: number, packets: number): void {
    this.usedBytes += bytes;
    this.usedPackets += packets;
    expect(this.usedBytes).toBeGreaterThanOrEqual(0);
    expect(this.usedPackets).toBeGreaterThanOrEqual(0);
  }
  setSpanMs(_ms: number): void {}
}

/** A counting SlotSource over a fixed set of buffers. */
class TestSlots implements SlotSource {
  readonly slotSize: number;
  private readonly freeList: Uint8Array[] = [];
  out = 0;
  constructor(count: number, size: number) {
    this.slotSize = size;
    for (let i = 0; i < count; i++) this.freeList.push(new Uint8Array(size));
  }
  acquire(): Uint8Array | null {
    const b = this.freeList.pop() ?? null;
    if (b) this.out++;
    return b;
  }
  release(buf: Uint8Array): void {
    expect(buf.length).toBe(this.slotSize);
    this.out--;
    this.freeList.push(buf);
  }
}

const impairmentArb: fc.Arbitrary<LinkModelOptions> = fc.record(
  {
    loss: fc.double({ min: 0, max: 1, noNaN: true }),
    burst: fc.option(
      fc.record({ p: fc.double({ min: 0, max: 1, noNaN: true }), r: fc.double({ min: 0.01, max: 1, noNaN: true }) }),
      { nil: null },
    ),
    delayMs: fc.double({ min: 0, max: 200, noNaN: true }),
    jitterMs: fc.double({ min: 0, max: 50, noNaN: true }),
    preserveOrder: fc.boolean(),
    reorder: fc.double({ min: 0, max: 1, noNaN: true }),
    reorderDelayMs: fc.double({ min: 0, max: 50, noNaN: true }),
    duplicate: fc.double({ min: 0, max: 1, noNaN: true }),
    rateBps: fc.oneof(fc.constant(0), fc.double({ min: 1e4, max: 1e9, noNaN: true })),
    queueBytes: fc.integer({ min: 1, max: 1 << 20 }),
    outages: fc.array(
      fc.record({ atMs: fc.double({ min: 0, max: 2000, noNaN: true }), durationMs: fc.double({ min: 0.001, max: 500, noNaN: true }) }),
      { maxLength: 3 },
    ),
    seed: fc.integer({ min: 0, max: 0xffff_ffff }),
    capacity: fc.integer({ min: 1, max: 64 }),
  },
  { requiredKeys: ['seed'] },
);

const scheduleArb = fc.array(
  fc.tuple(fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 4, max: DEFAULT_LINK_MAX_DATAGRAM })),
  { maxLength: 200 },
).map((steps) => {
  // Gaps to absolute, nondecreasing times (the clock never goes backwards).
  let t = 0;
  return steps.map(([gap, len]) => {
    t += gap;
    return [t, len] as [number, number];
  });
});

describe('LinkModel: a perfect link', () => {
  it('delivers everything at once, in order, byte-exact, with defaults', () => {
    const link = new LinkModel();
    expect(link.capacity).toBe(DEFAULT_LINK_CAPACITY);
    expect(link.maxDatagram).toBe(DEFAULT_LINK_MAX_DATAGRAM);
    const out = new Uint8Array(link.maxDatagram);
    const src = new Uint8Array([9, 8, 7, 6, 5]);
    expect(link.nextTimeout()).toBe(Infinity);
    link.send(src, 1, 3, 10);
    src.fill(0); // the model copied: reusing the buffer at once is safe
    expect(link.nextTimeout()).toBe(10);
    expect(link.poll(9.999, out)).toBe(-1);
    expect(link.poll(10, out)).toBe(3);
    expect([...out.subarray(0, 3)]).toEqual([8, 7, 6]);
    expect(link.poll(10, out)).toBe(-1);
    expect(link.stats).toMatchObject({ sent: 1, sentBytes: 3, delivered: 1, deliveredBytes: 3, held: 0, heldHighWater: 1 });
    expect(totalDropped(link.stats)).toBe(0);
  });

  it('keeps FIFO order among datagrams due at the same time, zero-length ones included', () => {
    const d = drive(new LinkModel({ delayMs: 5 }), [
      [0, 4],
      [0, 10],
      [0, 4],
      [1, 0],
    ]);
    expect(d.map((x) => [x.t, x.idx, x.len])).toEqual([
      [5, 0, 4],
      [5, 1, 10],
      [5, 2, 4],
      [6, -1, 0],
    ]);
  });
});

describe('LinkModel: loss', () => {
  it('measured Bernoulli loss is within 5 sigma of the configured rate (property)', () => {
    // 100 runs x 20,000 datagrams: 1000 runs would take a minute on 2 cores for no added power.
    fc.assert(
      fc.property(fc.double({ min: 0, max: 0.6, noNaN: true }), fc.integer({ min: 0, max: 0xffff_ffff }), (loss, seed) => {
        const link = new LinkModel({ loss, seed, capacity: 4 });
        const out = new Uint8Array(link.maxDatagram);
        const buf = new Uint8Array(64);
        const n = 20_000;
        for (let i = 0; i < n; i++) {
          link.send(buf, 0, 64, i);
          while (link.poll(i, out) >= 0);
        }
        const measured = link.stats.droppedLoss / n;
        const sigma = Math.sqrt((loss * (1 - loss)) / n);
        expect(Math.abs(measured - loss)).toBeLessThanOrEqual(5 * sigma + 1e-9);
        expect(link.stats.delivered + link.stats.droppedLoss).toBe(n);
        expect(link.stats.droppedBurst).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('loss = 0 never drops and loss = 1 drops everything', () => {
    const l0 = new LinkModel({ loss: 0, seed: 1 });
    const l1 = new LinkModel({ loss: 1, seed: 1 });
    const d0 = drive(l0, steady(1000, 1));
    const d1 = drive(l1, steady(1000, 1));
    expect(d0).toHaveLength(1000);
    expect(d1).toHaveLength(0);
    expect(l1.stats.droppedLoss).toBe(1000);
  });

  it('Gilbert-Elliott: mean burst length ~ 1/r and mean gap ~ 1/p (property)', () => {
    // 100 runs x 100,000 datagrams (about 1,000 bursts each): each run is a statistical test.
    fc.assert(
      fc.property(
        fc.double({ min: 0.005, max: 0.05, noNaN: true }),
        fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (p, r, seed) => {
          const link = new LinkModel({ burst: { p, r }, seed, capacity: 4 });
          const out = new Uint8Array(link.maxDatagram);
          const buf = new Uint8Array(16);
          const n = 100_000;
          let bursts = 0;
          let burstPackets = 0;
          let gaps = 0;
          let gapPackets = 0;
          let prevLost = false;
          for (let i = 0; i < n; i++) {
            const before = link.stats.droppedBurst;
            link.send(buf, 0, 16, i);
            const lost = link.stats.droppedBurst !== before;
            while (link.poll(i, out) >= 0);
            if (lost) {
              burstPackets++;
              if (!prevLost) bursts++;
            } else {
              gapPackets++;
              if (prevLost || i === 0) gaps++;
            }
            prevLost = lost;
          }
          const meanBurst = burstPackets / bursts;
          const meanGap = gapPackets / gaps;
          // Geometric run lengths: relative standard error sqrt(1-r)/sqrt(bursts); >= 600 bursts here.
          expect(bursts).toBeGreaterThan(300);
          expect(Math.abs(meanBurst * r - 1)).toBeLessThan(0.2);
          expect(Math.abs(meanGap * p - 1)).toBeLessThan(0.2);
          expect(link.stats.droppedLoss).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('Gilbert-Elliott: good-state loss counts as loss, bad-state loss as burst', () => {
    const link = new LinkModel({ loss: 0.1, burst: { p: 0.02, r: 0.2, lossBad: 0.5 }, seed: 99, capacity: 8 });
    const out = new Uint8Array(link.maxDatagram);
    const buf = new Uint8Array(16);
    const n = 200_000;
    let badSends = 0;
    for (let i = 0; i < n; i++) {
      if (link.inBurst) badSends++;
      link.send(buf, 0, 16, i);
      while (link.poll(i, out) >= 0);
    }
    const goodSends = n - badSends;
    // Stationary bad fraction p / (p + r) = 1/11.
    expect(Math.abs(badSends / n - 1 / 11)).toBeLessThan(0.01);
    expect(Math.abs(link.stats.droppedBurst / badSends - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(link.stats.droppedLoss / goodSends - 0.1)).toBeLessThan(0.005);
  });
});

describe('LinkModel: delay, jitter, reordering, duplication', () => {
  it('never delivers before send time + delay, nor later than the model allows (property)', () => {
    fc.assert(
      fc.property(impairmentArb, scheduleArb, (opts, schedule) => {
        const link = new LinkModel(opts);
        const d = drive(link, schedule);
        const delay = opts.delayMs ?? 0;
        const rate = opts.rateBps ?? 0;
        const maxQueueMs = rate > 0 ? ((opts.queueBytes ?? 65536) + 1500) * 8000 / rate : 0;
        const maxExtra = (opts.jitterMs ?? 0) + (opts.reorder ? (opts.reorderDelayMs ?? 20) : 0);
        for (const x of d) {
          const sentAt = (schedule[x.idx] as [number, number])[0];
          expect(x.t).toBeGreaterThanOrEqual(sentAt + delay);
          if (!opts.preserveOrder) {
            expect(x.t).toBeLessThanOrEqual(sentAt + delay + maxQueueMs + maxExtra + 1e-6);
          }
          expect(x.len).toBe((schedule[x.idx] as [number, number])[1]);
        }
        // Conservation: every offered datagram is delivered or dropped; accepted copies come on top.
        // (A dropped duplicate copy is counted in droppedFull/droppedQueue too, hence the range.)
        const s = link.stats;
        expect(s.sent).toBe(schedule.length);
        expect(s.delivered).toBeLessThanOrEqual(s.sent - totalDropped(s) + s.duplicated + s.droppedFull + s.droppedQueue);
        expect(s.delivered).toBeGreaterThanOrEqual(s.sent - totalDropped(s) + s.duplicated);
        expect(s.held).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('fixed delay without jitter delivers exactly at send + delay', () => {
    const d = drive(new LinkModel({ delayMs: 20 }), steady(10, 3.5));
    expect(d.map((x) => x.t)).toEqual(steady(10, 3.5).map(([t]) => t + 20));
  });

  it('jitter spreads delay uniformly over [delay, delay + jitter) and reorders close packets', () => {
    const link = new LinkModel({ delayMs: 10, jitterMs: 8, seed: 5, capacity: 4096 });
    const schedule = steady(20_000, 1);
    const d = drive(link, schedule);
    let sum = 0;
    for (const x of d) {
      const extra = x.t - (schedule[x.idx] as [number, number])[0] - 10;
      expect(extra).toBeGreaterThanOrEqual(0);
      expect(extra).toBeLessThan(8);
      sum += extra;
    }
    expect(Math.abs(sum / d.length - 4)).toBeLessThan(0.1);
    expect(link.stats.reordered).toBeGreaterThan(1000);
    // reordered counts exactly the deliveries that come after a later-sent datagram.
    let maxIdx = -1;
    let late = 0;
    for (const x of d) {
      if (x.idx < maxIdx) late++;
      else maxIdx = x.idx;
    }
    expect(link.stats.reordered).toBe(late);
  });

  it('preserveOrder keeps jitter from reordering', () => {
    const link = new LinkModel({ delayMs: 10, jitterMs: 8, preserveOrder: true, seed: 5, capacity: 4096 });
    const d = drive(link, steady(5000, 1));
    expect(d.map((x) => x.idx)).toEqual(d.map((_, i) => i));
    expect(link.stats.reordered).toBe(0);
  });

  it('explicit reorder holds the chosen fraction back by reorderDelayMs', () => {
    const link = new LinkModel({ delayMs: 5, reorder: 0.1, reorderDelayMs: 30, seed: 8, capacity: 4096 });
    const schedule = steady(20_000, 1);
    const d = drive(link, schedule);
    const held = d.filter((x) => x.t - (schedule[x.idx] as [number, number])[0] === 35).length;
    expect(held + d.filter((x) => x.t - (schedule[x.idx] as [number, number])[0] === 5).length).toBe(20_000);
    expect(Math.abs(held / 20_000 - 0.1)).toBeLessThan(0.01);
    expect(link.stats.reordered).toBe(held);
  });

  it('duplication adds copies with the configured probability; copies are not counted as reordered', () => {
    const link = new LinkModel({ duplicate: 0.05, delayMs: 1, jitterMs: 0.5, seed: 12, capacity: 4096 });
    const d = drive(link, steady(20_000, 1));
    expect(Math.abs(link.stats.duplicated / 20_000 - 0.05)).toBeLessThan(0.006);
    expect(d.length).toBe(20_000 + link.stats.duplicated);
    const seen = new Map<number, number>();
    for (const x of d) seen.set(x.idx, (seen.get(x.idx) ?? 0) + 1);
    expect([...seen.values()].filter((c) => c === 2).length).toBe(link.stats.duplicated);
    expect([...seen.values()].every((c) => c === 1 || c === 2)).toBe(true);
  });
});

describe('LinkModel: rate limit and queue', () => {
  it('respects the rate in virtual time: deliveries are spaced by serialisation time (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e5, max: 1e8, noNaN: true }),
        fc.integer({ min: 1500, max: 200_000 }),
        scheduleArb,
        (rateBps, queueBytes, schedule) => {
          const link = new LinkModel({ rateBps, queueBytes, delayMs: 7, seed: 1, capacity: 256 });
          const d = drive(link, schedule);
          for (let i = 1; i < d.length; i++) {
            const a = d[i - 1] as Delivery;
            const b = d[i] as Delivery;
            // FIFO through the bottleneck, and b needs its own serialisation time after a.
            expect(b.idx).toBeGreaterThan(a.idx);
            expect(b.t - a.t).toBeGreaterThanOrEqual((b.len * 8000) / rateBps - 1e-6);
          }
          // Over the whole run: bytes delivered in [first, last] fit in the rate.
          if (d.length > 1) {
            const first = d[0] as Delivery;
            const last = d[d.length - 1] as Delivery;
            const bytes = d.slice(1).reduce((s, x) => s + x.len, 0);
            expect(bytes * 8000).toBeLessThanOrEqual(rateBps * (last.t - first.t) * (1 + 1e-9) + 1e-3);
          }
          // Queueing delay is bounded by the queue: drop-tail, never unbounded.
          for (const x of d) {
            const sentAt = (schedule[x.idx] as [number, number])[0];
            expect(x.t - sentAt - 7).toBeLessThanOrEqual((queueBytes * 8000) / rateBps + 1e-6);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a sender at twice the bottleneck rate gets half through and the rest tail-dropped', () => {
    // 10 Mbit/s link, 1250-byte datagrams every 0.5 ms = 20 Mbit/s offered for 2 s.
    const link = new LinkModel({ rateBps: 10e6, queueBytes: 65536, delayMs: 20, capacity: 256 });
    const d = drive(link, steady(4000, 0.5, 1250));
    expect(link.stats.droppedQueue).toBeGreaterThan(1900);
    expect(Math.abs(d.length - 2000)).toBeLessThan(60);
    const last = d[d.length - 1] as Delivery;
    const bits = d.reduce((s, x) => s + x.len * 8, 0);
    expect(bits / ((last.t - 20) / 1000)).toBeLessThanOrEqual(10e6 * 1.001);
    expect(link.stats.delivered + link.stats.droppedQueue).toBe(4000);
  });
});

describe('LinkModel: outages, bounds and memory', () => {
  it('drops everything sent during a scheduled outage (relative to epochMs), delivers what was in flight', () => {
    const link = new LinkModel({ delayMs: 50, outages: [{ atMs: 100, durationMs: 50 }], epochMs: 1000 });
    const d = drive(
      link,
      steady(300, 1).map(([t, l]) => [t + 1000, l] as [number, number]),
    );
    expect(link.stats.droppedOutage).toBe(50);
    const idx = new Set(d.map((x) => x.idx));
    for (let i = 100; i < 150; i++) expect(idx.has(i)).toBe(false);
    expect(idx.has(99) && idx.has(150)).toBe(true);
    expect(d).toHaveLength(250);
  });

  it('holds at most `capacity` datagrams and counts the rest as droppedFull (property)', () => {
    fc.assert(
      fc.property(impairmentArb, scheduleArb, (opts, schedule) => {
        const account = new RecordingAccount();
        const link = new LinkModel({ ...opts, account });
        const reserved = account.reserved;
        expect(reserved).toBeGreaterThanOrEqual(link.capacity * link.maxDatagram);
        expect(account.capacityPackets).toBe(link.capacity);
        const out = new Uint8Array(link.maxDatagram);
        const buf = new Uint8Array(DEFAULT_LINK_MAX_DATAGRAM);
        for (const [t, len] of schedule) {
          link.send(buf, 0, len, t);
          expect(link.stats.held).toBeLessThanOrEqual(link.capacity);
          expect(account.usedPackets).toBe(link.stats.held);
          expect(account.usedBytes).toBe(link.heldBytes);
          if (len % 3 === 0) while (link.poll(t, out) >= 0);
        }
        expect(account.reserved).toBe(reserved); // no growth after construction
        link.close();
        expect(account.reserved).toBe(0);
        expect(account.usedBytes).toBe(0);
        expect(account.usedPackets).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('counts oversize datagrams and datagrams beyond capacity', () => {
    const link = new LinkModel({ capacity: 2, maxDatagram: 100, delayMs: 10 });
    const buf = new Uint8Array(200);
    link.send(buf, 0, 101, 0);
    link.send(buf, 0, 100, 0);
    link.send(buf, 0, 100, 0);
    link.send(buf, 0, 100, 0);
    expect(link.stats).toMatchObject({ sent: 4, droppedOversize: 1, droppedFull: 1, held: 2 });
    const out = new Uint8Array(100);
    expect(link.poll(10, out)).toBe(100);
    link.send(buf, 0, 50, 10);
    expect(link.stats.held).toBe(2);
  });

  it('stores large datagrams in chunks: byte-exact under reordering, bounded by bufferBytes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 3, noNaN: true })), { maxLength: 60 }),
        fc.integer({ min: 10_000, max: 40_000 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (items, bufferBytes, seed) => {
          const link = new LinkModel({ maxDatagram: 10_000, bufferBytes, capacity: 32, jitterMs: 5, duplicate: 0.1, seed });
          const out = new Uint8Array(10_000);
          const src = new Uint8Array(10_000);
          const fillFor = (i: number, len: number, buf: Uint8Array): void => {
            for (let k = 0; k < len; k++) buf[k] = (i * 31 + k * 7) & 0xff;
          };
          let t = 0;
          const check = (n: number): void => {
            // Which datagram? The length identifies it only with the index, so check the pattern
            // against every candidate index: the first byte gives i * 31 mod 256.
            if (n === 0) return;
            const first = out[0] as number;
            let ok = false;
            for (let i = 0; i < items.length && !ok; i++) {
              if (((i * 31) & 0xff) !== first || (items[i] as [number, number])[0] !== n) continue;
              fillFor(i, n, src);
              ok = out.subarray(0, n).every((b, k) => b === src[k]);
            }
            expect(ok).toBe(true);
          };
          for (let i = 0; i < items.length; i++) {
            const [len, gap] = items[i] as [number, number];
            t += gap;
            for (let n = link.poll(t, out); n >= 0; n = link.poll(t, out)) check(n);
            fillFor(i, len, src);
            link.send(src, 0, len, t);
            expect(link.heldBytes).toBeLessThanOrEqual(Math.ceil(bufferBytes / 2048) * 2048); // whole chunks
          }
          for (let tt = link.nextTimeout(); tt !== Infinity; tt = link.nextTimeout()) {
            for (let n = link.poll(tt, out); n >= 0; n = link.poll(tt, out)) check(n);
          }
          const st = link.stats;
          // Originals are delivered or dropped for lack of room; accepted copies come on top.
          expect(st.delivered).toBeLessThanOrEqual(st.sent + st.duplicated);
          expect(st.delivered).toBeGreaterThanOrEqual(st.sent + st.duplicated - st.droppedFull);
          expect(st.held).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a large maxDatagram does not multiply memory by capacity', () => {
    const account = new RecordingAccount();
    const link = new LinkModel({ maxDatagram: 65507, capacity: 8192, account });
    // 8192 x 2048-byte chunks (+ tables), not 8192 x 65507 (537 MB).
    expect(account.reserved).toBeLessThan(20_000_000);
    expect(account.capacityBytes).toBe(8192 * 2048);
    const big = new Uint8Array(65507).map((_, i) => i & 0xff);
    link.send(big, 0, big.length, 0);
    const out = new Uint8Array(65507);
    expect(link.poll(0, out)).toBe(65507);
    expect(out).toEqual(big);
    link.close();
    expect(account.reserved).toBe(0);
    expect(() => new LinkModel({ maxDatagram: 5000, bufferBytes: 4999 })).toThrow(/bufferBytes: expected an integer in \[5000, 2147483647\]/);
    const small = new LinkModel({ maxDatagram: 4096, bufferBytes: 8192, capacity: 16, delayMs: 1 });
    small.send(big, 0, 4096, 0);
    small.send(big, 0, 4096, 0);
    small.send(big, 0, 1, 0);
    expect(small.stats.droppedFull).toBe(1);
    expect(small.heldBytes).toBe(8192);
  });

  it('takes payload slots from a SlotSource and returns them all (on poll and on close)', () => {
    const slots = new TestSlots(3, 256);
    const link = new LinkModel({ slots, delayMs: 5, capacity: 8 });
    expect(link.maxDatagram).toBe(256);
    const buf = new Uint8Array([1, 2, 3, 4, 5]);
    for (let i = 0; i < 5; i++) link.send(buf, 0, 5, i);
    expect(slots.out).toBe(3);
    expect(link.stats.droppedFull).toBe(2);
    const out = new Uint8Array(256);
    expect(link.poll(5, out)).toBe(5);
    expect([...out.subarray(0, 5)]).toEqual([1, 2, 3, 4, 5]);
    expect(slots.out).toBe(2);
    link.close();
    expect(slots.out).toBe(0);
    expect(() => new LinkModel({ slots, maxDatagram: 257 })).toThrow(/maxDatagram: expected an integer in \[1, 256\]/);
  });

  it('poll into a too-short buffer throws and keeps the datagram; closed models throw', () => {
    const link = new LinkModel();
    link.send(new Uint8Array(10), 0, 10, 0);
    expect(() => link.poll(0, new Uint8Array(9))).toThrow(SluiceRangeError);
    expect(link.poll(0, new Uint8Array(10))).toBe(10);
    expect(() => link.send(new Uint8Array(4), 2, 3, 0)).toThrow(/send: expected integers offset/);
    link.close();
    link.close();
    expect(() => link.send(new Uint8Array(4), 0, 4, 0)).toThrow(SluiceStateError);
    expect(() => link.poll(0, new Uint8Array(10))).toThrow(SluiceStateError);
  });

  it('send and poll allocate (next to) nothing per datagram, measured in a fresh process', () => {
    // A fresh `node --expose-gc` process: inside the test worker, the properties above have fed
    // the JIT every option shape, and heap figures there mix in the runner's own garbage.
    // 500k datagrams through loss, jitter, reordering, a bottleneck and duplication; a path that
    // boxed one number per datagram would show 16 bytes per datagram, an object 32 or more.
    const code = `
      const { LinkModel } = await import('./src/core/link-model.ts');
      const link = new LinkModel({ loss: 0.1, delayMs: 5, jitterMs: 2.5, duplicate: 0.01, reorder: 0.01, rateBps: 1e7, seed: 3 });
      const out = new Uint8Array(link.maxDatagram);
      const buf = new Uint8Array(1200);
      const loop = (a, b) => { for (let i = a; i < b; i++) { link.send(buf, 0, 1200, i); while (link.poll(i, out) >= 0); } };
      loop(0, 100000);
      globalThis.gc();
      const h0 = process.memoryUsage().heapUsed;
      loop(100000, 600000);
      const h1 = process.memoryUsage().heapUsed;
      console.log(JSON.stringify({ bytesPerDatagram: (h1 - h0) / 500000, delivered: link.stats.delivered }));`;
    const root = join(import.meta.dirname, '..', '..');
    const stdout = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      encoding: 'utf8',
    });
    const r = JSON.parse(stdout.trim().split('\n').pop() as string) as { bytesPerDatagram: number; delivered: number };
    expect(r.delivered).toBeGreaterThan(400_000);
    expect(r.bytesPerDatagram).toBeLessThan(4); // measured ~1.4 (a heap number per ~12 datagrams)
  });
});

describe('LinkModel: determinism', () => {
  it('the same seed and calls give the same deliveries, byte for byte (property)', () => {
    fc.assert(
      fc.property(impairmentArb, scheduleArb, (opts, schedule) => {
        const a = drive(new LinkModel(opts), schedule);
        const b = drive(new LinkModel(opts), schedule);
        expect(b).toEqual(a);
      }),
      { numRuns: 300 },
    );
  });

  it('different seeds give different loss patterns', () => {
    const a = drive(new LinkModel({ loss: 0.2, seed: 1 }), steady(500, 1)).map((x) => x.idx);
    const b = drive(new LinkModel({ loss: 0.2, seed: 2 }), steady(500, 1)).map((x) => x.idx);
    expect(a).not.toEqual(b);
  });

  it('enabling jitter does not change which datagrams are lost (one PRNG stream per concern)', () => {
    const a = drive(new LinkModel({ loss: 0.2, seed: 4 }), steady(500, 1)).map((x) => x.idx);
    const b = drive(new LinkModel({ loss: 0.2, jitterMs: 3, seed: 4 }), steady(500, 1)).map((x) => x.idx);
    expect([...b].sort((x, y) => x - y)).toEqual(a);
  });
});

describe('LinkModel: option validation', () => {
  const cases: Array<[LinkModelOptions, RegExp]> = [
    [{ loss: 1.5 }, /loss: expected a number in \[0, 1\]/],
    [{ loss: -0.1 }, /loss/],
    [{ loss: Number.NaN }, /loss/],
    [{ burst: { p: 0.1, r: 0 } }, /burst\.r: expected a number in \(0, 1\]/],
    [{ burst: { p: 2, r: 0.1 } }, /burst\.p/],
    [{ burst: { p: 0.1, r: 0.1, lossBad: 3 } }, /burst\.lossBad/],
    [{ delayMs: -1 }, /delayMs/],
    [{ jitterMs: Infinity }, /jitterMs/],
    [{ reorder: 2 }, /reorder/],
    [{ reorderDelayMs: -5 }, /reorderDelayMs/],
    [{ duplicate: 1.01 }, /duplicate/],
    [{ rateBps: -1 }, /rateBps/],
    [{ queueBytes: 0 }, /queueBytes: expected an integer in \[1, 2147483647\]/],
    [{ seed: -1 }, /seed/],
    [{ capacity: 0 }, /capacity: expected an integer in \[1, 1048576\]/],
    [{ maxDatagram: 65536 }, /maxDatagram/],
    [{ outages: [{ atMs: 5, durationMs: 0 }] }, /outages\[0\]\.durationMs/],
    [{ outages: [{ atMs: -5, durationMs: 1 }] }, /outages\[0\]\.atMs/],
  ];
  it.each(cases)('rejects %j', (opts, re) => {
    expect(() => new LinkModel(opts)).toThrow(re);
    expect(() => new LinkModel(opts)).toThrow(SluiceRangeError);
  });
  it('rejects wrong types with SluiceTypeError', () => {
    expect(() => new LinkModel({ loss: '5%' as unknown as number })).toThrow(SluiceTypeError);
    expect(() => new LinkModel({ preserveOrder: 1 as unknown as boolean })).toThrow(SluiceTypeError);
    expect(() => new LinkModel({ burst: 5 as unknown as null })).toThrow(SluiceTypeError);
    expect(() => new LinkModel({ outages: {} as unknown as [] })).toThrow(SluiceTypeError);
    expect(() => new LinkModel(null as unknown as LinkModelOptions)).toThrow(SluiceTypeError);
  });
});

describe('LinkPair', () => {
  it('runs two independent directions with derived seeds and a joint timeout', () => {
    const account = new RecordingAccount();
    const pair = new LinkPair({ loss: 0.3, delayMs: 10, seed: 6, account });
    const buf = new Uint8Array(8);
    const out = new Uint8Array(1500);
    for (let i = 0; i < 200; i++) {
      pair.aToB.send(buf, 0, 8, i);
      pair.bToA.send(buf, 0, 8, i + 0.5);
    }
    expect(pair.nextTimeout()).toBe(Math.min(pair.aToB.nextTimeout(), pair.bToA.nextTimeout()));
    expect(pair.aToB.stats.droppedLoss).not.toBe(pair.bToA.stats.droppedLoss);
    let got = 0;
    for (let t = pair.nextTimeout(); t !== Infinity; t = pair.nextTimeout()) {
      while (pair.aToB.poll(t, out) >= 0) got++;
      while (pair.bToA.poll(t, out) >= 0) got++;
    }
    expect(got).toBe(400 - pair.aToB.stats.droppedLoss - pair.bToA.stats.droppedLoss);
    pair.close();
    expect(account.reserved).toBe(0);
  });

  it('takes explicit options per direction', () => {
    const pair = new LinkPair({ delayMs: 1 }, { delayMs: 50 });
    pair.aToB.send(new Uint8Array(1), 0, 1, 0);
    pair.bToA.send(new Uint8Array(1), 0, 1, 0);
    expect(pair.aToB.nextTimeout()).toBe(1);
    expect(pair.bToA.nextTimeout()).toBe(50);
    pair.close();
  });
});

describe('parseImpairment', () => {
  it('parses the documented example', () => {
    expect(parseImpairment('loss=5%,burst=0.01:0.1,delay=20,jitter=5,dup=1%,reorder=1%,rate=20mbit,seed=1')).toEqual({
      loss: 0.05,
      burst: { p: 0.01, r: 0.1 },
      delayMs: 20,
      jitterMs: 5,
      duplicate: 0.01,
      reorder: 0.01,
      rateBps: 20_000_000,
      seed: 1,
    });
  });

  it('parses units, spaces, every key and the empty spec', () => {
    expect(parseImpairment('')).toEqual({});
    expect(parseImpairment('none')).toEqual({});
    expect(
      parseImpairment(' loss = 0.5 , delay=1.5s, jitter=500us, queue=64k, rate=1.5gbit, outage=5s:1s+10s:250ms, reorder-delay=3, fifo=1, duplicate=0.2, burst=1%:10%:90% '),
    ).toEqual({
      loss: 0.5,
      delayMs: 1500,
      jitterMs: 0.5,
      queueBytes: 65536,
      rateBps: 1.5e9,
      outages: [
        { atMs: 5000, durationMs: 1000 },
        { atMs: 10000, durationMs: 250 },
      ],
      reorderDelayMs: 3,
      preserveOrder: true,
      duplicate: 0.2,
      burst: { p: 0.01, r: 0.1, lossBad: 0.9 },
    });
  });

  const bad: Array<[string, RegExp]> = [
    ['loss=5', /impairment loss: expected a probability in \[0, 1\].*write 5% for a percentage/],
    ['loss=150%', /impairment loss/],
    ['loss=abc', /impairment loss: expected a probability/],
    ['burst=0.1', /impairment burst: expected p:r/],
    ['burst=0.1:0', /impairment burst r/],
    ['delay=20 parsecs', /impairment delay: expected a duration/],
    ['delay=2h', /impairment delay/],
    ['rate=20MB', /impairment rate: expected a rate/],
    ['queue=0', /impairment queue/],
    ['seed=-1', /impairment seed/],
    ['seed=4294967296', /impairment seed/],
    ['outage=5s', /impairment outage: expected AT:DURATION/],
    ['outage=5s:0', /impairment outage: an outage must last/],
    ['fifo=maybe', /impairment fifo/],
    ['wobble=3', /unknown key "wobble"/],
    ['loss', /expected key=value/],
    ['loss=1%,loss=2%', /impairment loss: given more than once/],
  ];
  it.each(bad)('rejects %s', (spec, re) => {
    expect(() => parseImpairment(spec)).toThrow(re);
    expect(() => parseImpairment(spec)).toThrow(SluiceRangeError);
  });
  it('rejects a non-string spec with SluiceTypeError', () => {
    expect(() => parseImpairment(5 as unknown as string)).toThrow(SluiceTypeError);
  });

  it('value parsers', () => {
    expect(parseProbability('x', '5', 'percent')).toBe(0.05);
    expect(parseProbability('x', '0.5', 'percent')).toBe(0.005);
    expect(parseProbability('x', '5%', 'percent')).toBe(0.05);
    expect(parseProbability('x', '1e-3')).toBe(0.001);
    expect(parseDurationMs('x', '2m')).toBe(120_000);
    expect(parseRateBps('x', '500kbit')).toBe(500_000);
    expect(parseRateBps('x', '20Mbps')).toBe(20e6);
    expect(parseRateBps('x', '8000')).toBe(8000);
    expect(parseRateBps('x', 'off')).toBe(0);
    expect(parseBytes('x', '1mib')).toBe(1048576);
    expect(parseBurst('x', '0.01,0.1')).toEqual({ p: 0.01, r: 0.1 });
  });

  it('formatImpairment round-trips through parseImpairment (property)', () => {
    const prob = fc.integer({ min: 0, max: 10_000 }).map((x) => x / 10_000);
    const arb: fc.Arbitrary<ImpairmentOptions> = fc.record(
      {
        loss: prob,
        burst: fc.record({ p: prob, r: prob.filter((r) => r > 0) }),
        delayMs: fc.integer({ min: 0, max: 100_000 }),
        jitterMs: fc.integer({ min: 0, max: 1000 }),
        reorder: prob,
        duplicate: prob,
        rateBps: fc.integer({ min: 0, max: 1e9 }),
        queueBytes: fc.integer({ min: 1, max: 1e7 }),
        outages: fc.array(fc.record({ atMs: fc.integer({ min: 0, max: 1e6 }), durationMs: fc.integer({ min: 1, max: 1e5 }) }), { minLength: 1, maxLength: 3 }),
        preserveOrder: fc.boolean(),
        seed: fc.integer({ min: 0, max: 0xffff_ffff }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(arb, (o) => {
        const back = parseImpairment(formatImpairment(o));
        expect(Object.keys(back).sort()).toEqual(Object.keys(o).sort());
        for (const k of ['loss', 'reorder', 'duplicate', 'rateBps'] as const) {
          if (o[k] !== undefined) expect(Math.abs((back[k] as number) - (o[k] as number))).toBeLessThanOrEqual(1e-12 * Math.max(1, o[k] as number));
        }
        expect(back.burst).toEqual(o.burst);
        expect(back.delayMs).toEqual(o.delayMs);
        expect(back.outages).toEqual(o.outages);
        expect(back.seed).toEqual(o.seed);
        new LinkModel({ ...back, capacity: 1 }).close(); // what the parser accepts, the model accepts
      }),
    );
    expect(formatImpairment({})).toBe('none');
    expect(formatImpairment({ loss: 0.05, delayMs: 20 })).toBe('loss=5%,delay=20ms');
  });
});
