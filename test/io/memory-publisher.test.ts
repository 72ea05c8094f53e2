import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryAccountant, type MemorySnapshot } from '../../src/core/memory/accountant.js';
import {
  DEFAULT_PUBLISH_INTERVAL_MS,
  MEMORY_CHANNEL,
  MemoryPublisher,
  publishMemorySnapshot,
} from '../../src/io/memory-publisher.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError } from '../../src/core/errors.js';

function setup(): { acct: MemoryAccountant; pub: MemoryPublisher; t: { now: number } } {
  const acct = new MemoryAccountant({ budgetBytes: 1 << 20 });
  acct.account('conn.1.reorder').reserve(1000);
  const t = { now: 5000 };
  const pub = new MemoryPublisher(acct, { intervalMs: 100, clock: () => t.now, channelName: 'sluice:memory:test' });
  return { acct, pub, t };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryPublisher', () => {
  it('validates options', () => {
    const acct = new MemoryAccountant();
    expect(() => new MemoryPublisher(acct, { intervalMs: 5, start: false })).toThrow(SluiceRangeError);
    expect(() => new MemoryPublisher(acct, { intervalMs: 5 })).toThrow(/intervalMs: expected an integer in \[10, 86400000\], got 5/);
    expect(() => new MemoryPublisher(acct, { iteratorQueue: 0, start: false })).toThrow(SluiceRangeError);
    expect(() => new MemoryPublisher({} as MemoryAccountant)).toThrow(SluiceTypeError);
    expect(() => new MemoryPublisher(acct, { clock: 1 as unknown as () => number, start: false })).toThrow(SluiceTypeError);
    const p = new MemoryPublisher(acct, { start: false });
    expect(p.intervalMs).toBe(DEFAULT_PUBLISH_INTERVAL_MS);
    expect(p.channel.name).toBe(MEMORY_CHANNEL);
    expect(MEMORY_CHANNEL).toBe('sluice:memory');
    expect(p.running).toBe(false);
    p.close();
  });

  it('takes no snapshot when nobody listens', () => {
    vi.useFakeTimers();
    const { acct, pub } = setup();
    vi.advanceTimersByTime(1000);
    expect(pub.skipped).toBe(10);
    expect(pub.published).toBe(0);
    // The accountant's snapshot sequence shows none was taken.
    expect(acct.snapshot().seq).toBe(1);
    pub.close();
  });

  it('publishes on the diagnostics channel at the interval, stamped with the clock', () => {
    vi.useFakeTimers();
    const { pub, t } = setup();
    const got: MemorySnapshot[] = [];
    const onMsg = (m: unknown): void => {
      got.push(m as MemorySnapshot);
    };
    diagnostics_channel.subscribe('sluice:memory:test', onMsg);
    try {
      vi.advanceTimersByTime(100);
      t.now = 6000;
      vi.advanceTimersByTime(100);
      expect(got.map((s) => [s.seq, s.timeMs, s.reservedBytes])).toEqual([
        [1, 5000, 1000],
        [2, 6000, 1000],
      ]);
      expect(got[0]!.reconciled).toBe(true);
    } finally {
      diagnostics_channel.unsubscribe('sluice:memory:test', onMsg);
    }
    vi.advanceTimersByTime(100);
    expect(got).toHaveLength(2);
    expect(pub.skipped).toBe(1);
    pub.close();
  });

  it("emits 'snapshot' events; stop/start control the timer; close stops for good", () => {
    vi.useFakeTimers();
    const { pub } = setup();
    const seen: number[] = [];
    pub.on('snapshot', (s) => seen.push(s.seq));
    expect(pub.hasSubscribers).toBe(true);
    vi.advanceTimersByTime(300);
    expect(seen).toEqual([1, 2, 3]);
    pub.stop();
    expect(pub.running).toBe(false);
    vi.advanceTimersByTime(300);
    expect(seen).toHaveLength(3);
    pub.start().start();
    vi.advanceTimersByTime(100);
    expect(seen).toHaveLength(4);
    expect(pub.publish()!.seq).toBe(5); // an immediate tick
    pub.close();
    pub.close();
    vi.advanceTimersByTime(300);
    expect(seen).toHaveLength(5);
    expect(pub.publish()).toBeNull();
    expect(() => pub.start()).toThrow(SluiceStateError);
  });

  it('async iterator yields snapshots, buffers a bounded number, ends on break', async () => {
    vi.useFakeTimers();
    const { pub, acct } = setup();
    const it = pub.snapshots();
    expect(pub.hasSubscribers).toBe(true);
    const first = it.next();
    vi.advanceTimersByTime(100);
    expect((await first).value!.seq).toBe(1);
    // A slow consumer: 12 ticks, queue of 8 keeps the newest 8.
    vi.advanceTimersByTime(1200);
    expect(pub.dropped).toBe(4);
    const seqs: number[] = [];
    for (let i = 0; i < 8; i++) seqs.push((await it.next()).value!.seq);
    expect(seqs).toEqual([6, 7, 8, 9, 10, 11, 12, 13]);
    acct.account('conn.2.send').reserve(5);
    const p = it.next();
    vi.advanceTimersByTime(100);
    expect((await p).value!.reservedBytes).toBe(1005);
    await it.return!();
    expect(pub.hasSubscribers).toBe(false);
    expect(await it.next()).toEqual({ value: undefined, done: true });
    pub.close();
  });

  it('for await works and ends on abort and on close', async () => {
    vi.useFakeTimers();
    const { pub } = setup();
    const ac = new AbortController();
    const seen: number[] = [];
    const loop = (async () => {
      for await (const s of pub.snapshots({ signal: ac.signal })) {
        seen.push(s.seq);
        if (seen.length === 3) ac.abort();
      }
    })();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(100);
      await Promise.resolve();
      await Promise.resolve();
    }
    await loop;
    expect(seen).toEqual([1, 2, 3]);
    expect(pub.hasSubscribers).toBe(false);

    const aborted = AbortSignal.abort();
    expect(await pub.snapshots({ signal: aborted }).next()).toEqual({ value: undefined, done: true });

    const it = pub[Symbol.asyncIterator]();
    const pending = it.next();
    pub.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(await pub.snapshots().next()).toEqual({ value: undefined, done: true });
  });

  it('rejects overlapping next() calls', () => {
    const { pub } = setup();
    const it = pub.snapshots();
    void it.next();
    expect(() => it.next()).toThrow(SluiceStateError);
    pub.close();
  });

  it('the timer is unref()ed: it does not keep the process alive', () => {
    const count = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = count();
    const acct = new MemoryAccountant();
    const pub = new MemoryPublisher(acct, { intervalMs: 50 });
    expect(pub.running).toBe(true);
    expect(count()).toBe(before);
    const ref = setInterval(() => {}, 50);
    expect(count()).toBe(before + 1); // the probe does see a ref'd timer
    clearInterval(ref);
    pub.close();
  });
});

describe('publishMemorySnapshot', () => {
  it('publishes once on sluice:memory only when subscribed', () => {
    const acct = new MemoryAccountant();
    expect(publishMemorySnapshot(acct, 1)).toBe(false);
    expect(acct.snapshot().seq).toBe(1); // nothing taken above
    const got: MemorySnapshot[] = [];
    const fn = (m: unknown): void => {
      got.push(m as MemorySnapshot);
    };
    diagnostics_channel.subscribe(MEMORY_CHANNEL, fn);
    try {
      expect(publishMemorySnapshot(acct, 42)).toBe(true);
    } finally {
      diagnostics_channel.unsubscribe(MEMORY_CHANNEL, fn);
    }
    expect(got.map((s) => [s.seq, s.timeMs])).toEqual([[2, 42]]);
  });
});
