import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BufferPool,
  DEFAULT_MAX_SLOTS,
  DEFAULT_SLOT_SIZE,
  DEFAULT_SLOTS_PER_SLAB,
  ERR_POOL_DOUBLE_RELEASE,
  ERR_POOL_FOREIGN_BUFFER,
  PoolReleaseError,
  PoolSet,
} from '../../../src/core/memory/buffer-pool.js';
import { MemoryAccountant } from '../../../src/core/memory/accountant.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError } from '../../../src/core/errors.js';
import type { MemoryAccount } from '../../../src/core/memory/types.js';

/** A MemoryAccount that records reserve/unreserve and can refuse (throws like the accountant). */
class RecordingAccount implements MemoryAccount {
  readonly name = 'rec';
  reserved = 0;
  limit = Infinity;
  capacity: [number, number] = [0, 0];
  reserve(bytes: number): void {
    if (this.reserved + bytes > this.limit) {
      throw Object.assign(new Error('refused'), { code: 'ERR_SLUICE_BUDGET_EXCEEDED' });
    }
    this.reserved += bytes;
  }
  unreserve(bytes: number): void {
    this.reserved -= bytes;
  }
  setCapacity(bytes: number, packets: number): void {
    this.capacity = [bytes, packets];
  }
  use(): void {}
  setSpanMs(): void {}
}

const bookkeeping = (maxSlots: number, perSlab: number): number => maxSlots * 5 + Math.ceil(maxSlots / perSlab) * 4;

describe('BufferPool options', () => {
  it('uses the documented defaults', () => {
    const p = new BufferPool();
    expect(p.slotSize).toBe(DEFAULT_SLOT_SIZE);
    expect(p.slotSize).toBe(1472);
    expect(p.slotsPerSlab).toBe(DEFAULT_SLOTS_PER_SLAB);
    expect(p.maxSlots).toBe(DEFAULT_MAX_SLOTS);
    expect(p.devChecks).toBe(true);
    expect(p.scrub).toBe(false);
    expect(p.name).toBe('pool.1472');
    expect(p.stats().slabs).toBe(0);
  });

  it('rejects bad options naming the option and the range', () => {
    expect(() => new BufferPool({ slotSize: 0 })).toThrow(SluiceRangeError);
    expect(() => new BufferPool({ slotSize: 0 })).toThrow(/slotSize: expected an integer in \[1, 16777216\], got 0/);
    expect(() => new BufferPool({ slotSize: 1.5 })).toThrow(SluiceRangeError);
    expect(() => new BufferPool({ maxSlots: 0 })).toThrow(/maxSlots/);
    expect(() => new BufferPool({ maxSlots: 8, slotsPerSlab: 9 })).toThrow(/slotsPerSlab: expected an integer in \[1, 8\]/);
    expect(() => new BufferPool({ slotSize: '1472' as unknown as number })).toThrow(SluiceTypeError);
    expect(() => new BufferPool({ devChecks: 1 as unknown as boolean })).toThrow(SluiceTypeError);
    expect(() => new BufferPool({ initialSlabs: 5, maxSlots: 8, slotsPerSlab: 4 })).toThrow(/initialSlabs: expected an integer in \[0, 2\]/);
    expect(() => new BufferPool(null as unknown as object)).toThrow(SluiceTypeError);
  });

  it('clamps the default slab size to a small maxSlots', () => {
    expect(new BufferPool({ maxSlots: 10 }).slotsPerSlab).toBe(10);
  });
});

describe('BufferPool acquire/release', () => {
  it('hands out distinct slotSize views and reuses released ones without allocating', () => {
    const p = new BufferPool({ slotSize: 100, slotsPerSlab: 4, maxSlots: 8 });
    const a = p.acquire()!;
    const b = p.acquire()!;
    expect(a.byteLength).toBe(100);
    expect(b.byteLength).toBe(100);
    expect(a).not.toBe(b);
    expect(a.buffer).toBe(b.buffer); // same slab
    expect(b.byteOffset - a.byteOffset).toBe(100);
    p.release(a);
    // LIFO: the slot just released comes back, as the same object.
    expect(p.acquire()).toBe(a);
    const s = p.stats();
    expect(s).toMatchObject({ hits: 2, grows: 1, misses: 1, inUse: 2, highWater: 2, slabs: 1, slotsAllocated: 4, releases: 1 });
    expect(s.reuseRate).toBeCloseTo(2 / 3, 12);
  });

  it('grows slab by slab up to maxSlots, then returns null and counts refusedCap', () => {
    const p = new BufferPool({ slotSize: 16, slotsPerSlab: 3, maxSlots: 7 });
    const got: Uint8Array[] = [];
    for (let i = 0; i < 7; i++) got.push(p.acquire()!);
    expect(got.every((x) => x instanceof Uint8Array)).toBe(true);
    expect(new Set(got).size).toBe(7);
    expect(p.stats()).toMatchObject({ slabs: 3, slotsAllocated: 7, grows: 3, hits: 4, inUse: 7 });
    expect(p.acquire()).toBeNull();
    expect(p.acquire()).toBeNull();
    expect(p.stats()).toMatchObject({ refusedCap: 2, misses: 5 });
    // The last slab is short: 7 = 3 + 3 + 1.
    expect(got[6]!.buffer.byteLength).toBe(16);
    for (const g of got) p.release(g);
    expect(p.inUse).toBe(0);
    expect(p.available).toBe(7);
  });

  it('slots do not overlap: writes to one never show in another', () => {
    const p = new BufferPool({ slotSize: 8, slotsPerSlab: 4, maxSlots: 12 });
    const got: Uint8Array[] = [];
    for (let i = 0; i < 12; i++) {
      const b = p.acquire()!;
      b.fill(i + 1);
      got.push(b);
    }
    got.forEach((b, i) => expect([...b]).toEqual(new Array(8).fill(i + 1)));
  });

  it('scrub zeroes a slot on release; without scrub the contents stay', () => {
    const s = new BufferPool({ slotSize: 4, maxSlots: 1, scrub: true });
    const a = s.acquire()!;
    a.set([1, 2, 3, 4]);
    s.release(a);
    expect([...s.acquire()!]).toEqual([0, 0, 0, 0]);
    const n = new BufferPool({ slotSize: 4, maxSlots: 1 });
    const b = n.acquire()!;
    b.set([1, 2, 3, 4]);
    n.release(b);
    expect([...n.acquire()!]).toEqual([1, 2, 3, 4]);
  });

  it('detects double release: throws with devChecks, counts always', () => {
    const p = new BufferPool({ slotSize: 32, maxSlots: 4 });
    const a = p.acquire()!;
    p.release(a);
    let err: unknown;
    try {
      p.release(a);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PoolReleaseError);
    expect((err as PoolReleaseError).code).toBe(ERR_POOL_DOUBLE_RELEASE);
    expect((err as PoolReleaseError).code).toBe('ERR_SLUICE_POOL_DOUBLE_RELEASE');
    expect((err as Error).message).toMatch(/released twice/);
    expect(p.stats()).toMatchObject({ doubleReleases: 1, releases: 1, inUse: 0, hits: 0 });
    // The free list is unharmed: 4 distinct slots still come out.
    const out = [p.acquire(), p.acquire(), p.acquire(), p.acquire()];
    expect(new Set(out).size).toBe(4);
    expect(p.acquire()).toBeNull();

    const q = new BufferPool({ slotSize: 32, maxSlots: 4, devChecks: false });
    const b = q.acquire()!;
    q.release(b);
    expect(() => q.release(b)).not.toThrow();
    expect(q.stats()).toMatchObject({ doubleReleases: 1, releases: 1, inUse: 0 });
    expect(new Set([q.acquire(), q.acquire(), q.acquire(), q.acquire()]).size).toBe(4);
  });

  it('detects foreign buffers: other pools, subarrays, copies, wrong sizes', () => {
    const p = new BufferPool({ slotSize: 32, slotsPerSlab: 4, maxSlots: 8 });
    const other = new BufferPool({ slotSize: 32, maxSlots: 4 });
    const mine = p.acquire()!;
    const theirs = other.acquire()!;
    const cases: Uint8Array[] = [
      theirs,
      new Uint8Array(32),
      mine.slice(),
      new Uint8Array(mine.buffer, mine.byteOffset, 32), // same bytes, different view object
      new Uint8Array(mine.buffer, mine.byteOffset + 1, 32),
      mine.subarray(0, 16),
    ];
    for (const c of cases) {
      expect(() => p.release(c)).toThrow(PoolReleaseError);
      try {
        p.release(c);
      } catch (e) {
        expect((e as PoolReleaseError).code).toBe(ERR_POOL_FOREIGN_BUFFER);
        expect((e as PoolReleaseError).pool).toBe('pool.32');
      }
    }
    expect(p.stats().foreignReleases).toBe(cases.length * 2);
    expect(() => p.release(null as unknown as Uint8Array)).toThrow(PoolReleaseError);
    expect(p.inUse).toBe(1);
    expect(p.owns(mine)).toBe(true);
    expect(p.owns(theirs)).toBe(false);
    p.release(mine);
    expect(p.owns(mine)).toBe(false);
    expect(p.slotIdOf(mine)).toBe(0);

    const quiet = new BufferPool({ slotSize: 32, maxSlots: 4, devChecks: false });
    quiet.release(new Uint8Array(32));
    expect(quiet.stats().foreignReleases).toBe(1);
  });

  it('acquire on a hit allocates nothing: the same view objects cycle', () => {
    const p = new BufferPool({ slotSize: 64, slotsPerSlab: 8, maxSlots: 8, initialSlabs: 1 });
    const seen = new Set<Uint8Array>();
    for (let i = 0; i < 10_000; i++) {
      const a = p.acquire()!;
      const b = p.acquire()!;
      seen.add(a).add(b);
      p.release(b);
      p.release(a);
    }
    expect(seen.size).toBe(2);
    expect(p.stats()).toMatchObject({ grows: 0, hits: 20_000, misses: 0, reuseRate: 1, slabs: 1 });
  });
});

describe('BufferPool accounting', () => {
  it('reserves bookkeeping up front and each slab before allocating it; capacity = maxSlots x slotSize', () => {
    const acc = new RecordingAccount();
    const p = new BufferPool({ slotSize: 100, slotsPerSlab: 4, maxSlots: 10, account: acc });
    const bk = bookkeeping(10, 4);
    expect(acc.reserved).toBe(bk);
    expect(acc.capacity).toEqual([1000, 10]);
    const got: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) got.push(p.acquire()!);
    expect(acc.reserved).toBe(bk + 1000);
    expect(p.stats().reservedBytes).toBe(acc.reserved);
    for (const g of got) p.release(g);
    p.close();
    expect(acc.reserved).toBe(0);
    expect(acc.capacity).toEqual([0, 0]);
  });

  it('a budget refusal on growth returns null (counted), not an exception', () => {
    const acc = new RecordingAccount();
    const p = new BufferPool({ slotSize: 100, slotsPerSlab: 4, maxSlots: 12, account: acc });
    acc.limit = acc.reserved + 400; // exactly one slab
    const got: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) got.push(p.acquire()!);
    expect(p.acquire()).toBeNull();
    expect(p.stats()).toMatchObject({ refusedBudget: 1, refusedCap: 0, slabs: 1, misses: 2 });
    p.release(got.pop()!);
    expect(p.acquire()).not.toBeNull();
  });

  it('with an accountant, growth uses tryReserve and the budget applies', () => {
    const acct = new MemoryAccountant({ budgetBytes: bookkeeping(8, 2) + 2 * 50 * 2 });
    const p = acct.createPool({ slotSize: 50, slotsPerSlab: 2, maxSlots: 8 });
    const got = [p.acquire(), p.acquire(), p.acquire(), p.acquire()];
    expect(got.every((x) => x !== null)).toBe(true);
    expect(p.acquire()).toBeNull();
    expect(p.stats().refusedBudget).toBe(1);
    expect(acct.snapshot().budgetRefusals).toBe(1);
    expect(acct.remainingBytes).toBe(0);
  });

  it('initialSlabs reserves at construction and throws (reserving nothing) when refused', () => {
    const acc = new RecordingAccount();
    const p = new BufferPool({ slotSize: 10, slotsPerSlab: 5, maxSlots: 20, initialSlabs: 2, account: acc });
    expect(p.stats()).toMatchObject({ slabs: 2, slotsAllocated: 10, grows: 0 });
    expect(acc.reserved).toBe(bookkeeping(20, 5) + 100);
    const tight = new RecordingAccount();
    tight.limit = bookkeeping(20, 5) + 60;
    expect(() => new BufferPool({ slotSize: 10, slotsPerSlab: 5, maxSlots: 20, initialSlabs: 2, account: tight })).toThrow(/refused/);
    expect(tight.reserved).toBe(0);
  });

  it('trim frees empty slabs only and unreserves their bytes', () => {
    const acc = new RecordingAccount();
    const p = new BufferPool({ slotSize: 10, slotsPerSlab: 2, maxSlots: 6, account: acc });
    const s = [p.acquire()!, p.acquire()!, p.acquire()!, p.acquire()!, p.acquire()!];
    expect(p.stats().slabs).toBe(3);
    p.release(s[0]!);
    p.release(s[1]!); // slab 0 empty
    p.release(s[2]!); // slab 1 half empty
    const before = acc.reserved;
    expect(p.trim()).toBe(20);
    expect(acc.reserved).toBe(before - 20);
    expect(p.stats()).toMatchObject({ slabs: 2, slotsAllocated: 4, inUse: 2 });
    // A view of a trimmed slab is now foreign.
    expect(() => p.release(s[0]!)).toThrow(PoolReleaseError);
    // The free list holds only live slots: slab 1's released slot (LIFO), then slab 2's unused
    // slot, then a regrown slab 0 (fresh views, not the trimmed ones).
    expect(p.acquire()).toBe(s[2]);
    const spare = p.acquire()!;
    expect(spare.buffer).toBe(s[4]!.buffer);
    expect(p.stats()).toMatchObject({ slabs: 2, inUse: 4, grows: 3 });
    const fresh = p.acquire()!;
    expect(fresh).not.toBe(s[0]);
    expect(fresh).not.toBe(s[1]);
    expect(p.stats()).toMatchObject({ slabs: 3, inUse: 5, grows: 4 });
    for (const b of [fresh, spare, s[2]!, s[3]!, s[4]!]) p.release(b);
    p.close();
    expect(acc.reserved).toBe(0);
  });

  it('close() refuses while slots are out, then frees everything; use after close throws', () => {
    const acc = new RecordingAccount();
    const p = new BufferPool({ slotSize: 10, maxSlots: 4, account: acc });
    const a = p.acquire()!;
    expect(() => p.close()).toThrow(SluiceStateError);
    expect(() => p.close()).toThrow(/1 slot\(s\) still in use/);
    p.release(a);
    p.close();
    p.close(); // idempotent
    expect(acc.reserved).toBe(0);
    expect(p.closed).toBe(true);
    expect(() => p.acquire()).toThrow(SluiceStateError);
    expect(() => p.release(a)).toThrow(SluiceStateError);
    expect(p.trim()).toBe(0);
  });
});

describe('BufferPool properties', () => {
  it('any acquire/release sequence keeps inUse, free slots and reservations consistent', () => {
    fc.assert(
      fc.property(
        fc.record({
          slotSize: fc.integer({ min: 1, max: 64 }),
          perSlab: fc.integer({ min: 1, max: 8 }),
          maxSlots: fc.integer({ min: 1, max: 40 }),
        }),
        fc.array(fc.tuple(fc.constantFrom('acq', 'rel', 'dbl', 'trim'), fc.nat()), { maxLength: 120 }),
        ({ slotSize, perSlab, maxSlots }, ops) => {
          const acc = new RecordingAccount();
          const per = Math.min(perSlab, maxSlots);
          const p = new BufferPool({ slotSize, slotsPerSlab: per, maxSlots, account: acc, devChecks: false });
          const held: Uint8Array[] = [];
          const released: Uint8Array[] = [];
          let doubles = 0;
          let acquires = 0;
          for (const [op, k] of ops) {
            if (op === 'acq') {
              acquires++;
              const b = p.acquire();
              if (held.length < maxSlots) expect(b).not.toBeNull();
              else expect(b).toBeNull();
              if (b !== null) {
                expect(held.includes(b)).toBe(false);
                expect(b.byteLength).toBe(slotSize);
                held.push(b);
              }
            } else if (op === 'rel' && held.length > 0) {
              const b = held.splice(k % held.length, 1)[0]!;
              p.release(b);
              released.push(b);
            } else if (op === 'dbl' && released.length > 0) {
              const b = released[k % released.length]!;
              if (!held.includes(b) && p.slotIdOf(b) >= 0) {
                p.release(b);
                doubles++;
              }
            } else if (op === 'trim') {
              p.trim();
            }
            const s = p.stats();
            expect(s.inUse).toBe(held.length);
            expect(s.slotsAllocated).toBeLessThanOrEqual(maxSlots);
            expect(s.slotsAllocated - s.inUse).toBe(p.available);
            expect(acc.reserved).toBe(s.reservedBytes);
            expect(acc.reserved).toBe(bookkeeping(maxSlots, per) + s.slotsAllocated * slotSize);
            expect(s.doubleReleases).toBe(doubles);
            expect(s.hits + s.misses).toBe(acquires);
          }
          for (const b of held) p.release(b);
          p.close();
          expect(acc.reserved).toBe(0);
        },
      ),
    );
  });
});

describe('PoolSet', () => {
  it('defaults to the 1,472 and 2,048 classes and picks the smallest that fits', () => {
    const set = new PoolSet();
    expect(set.pools.map((p) => p.slotSize)).toEqual([1472, 2048]);
    expect(set.poolFor(1)!.slotSize).toBe(1472);
    expect(set.poolFor(1400)!.slotSize).toBe(1472);
    expect(set.poolFor(12 + 1360)!.slotSize).toBe(1472); // a default FEC source symbol
    expect(set.poolFor(1473)!.slotSize).toBe(2048);
    expect(set.poolFor(2049)).toBeNull();
    const a = set.acquire(1400)!;
    const b = set.acquire(2000)!;
    expect(a.byteLength).toBe(1472);
    expect(b.byteLength).toBe(2048);
    set.release(a);
    set.release(b);
    expect(set.stats().map((s) => s.releases)).toEqual([1, 1]);
    expect(() => set.acquire(4096)).toThrow(SluiceRangeError);
    expect(() => set.release(new Uint8Array(7))).toThrow(PoolReleaseError);
    expect(set.foreignReleases).toBe(1);
    set.close();
  });

  it('sorts classes, rejects duplicates and bad classes', () => {
    const set = new PoolSet({ classes: [{ slotSize: 512 }, { slotSize: 128, maxSlots: 4 }] });
    expect(set.pools.map((p) => p.slotSize)).toEqual([128, 512]);
    expect(set.pools[0]!.maxSlots).toBe(4);
    expect(() => new PoolSet({ classes: [{ slotSize: 64 }, { slotSize: 64 }] })).toThrow(/duplicate slotSize 64/);
    expect(() => new PoolSet({ classes: [] })).toThrow(SluiceTypeError);
    expect(() => new PoolSet({ classes: [{ slotSize: 0 }] })).toThrow(SluiceRangeError);
  });

  it('charges each class to its own account and closes all', () => {
    const accs = new Map<number, RecordingAccount>();
    const set = new PoolSet({
      classes: [{ slotSize: 100, maxSlots: 4, slotsPerSlab: 4 }, { slotSize: 200, maxSlots: 4, slotsPerSlab: 4 }],
      accountFor: (n) => {
        const a = new RecordingAccount();
        accs.set(n, a);
        return a;
      },
    });
    const x = set.acquire(150)!;
    expect(accs.get(200)!.reserved).toBe(bookkeeping(4, 4) + 800);
    expect(accs.get(100)!.reserved).toBe(bookkeeping(4, 4));
    expect(() => set.close()).toThrow(SluiceStateError);
    expect(accs.get(100)!.reserved).toBe(0); // the other class still closed
    set.release(x);
    set.close();
    expect(accs.get(200)!.reserved).toBe(0);
    expect(set.trim()).toBe(0);
  });
});
