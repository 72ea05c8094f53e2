import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from '../../../src/core/auth/replay-window.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError } from '../../../src/core/errors.js';
import type { MemoryAccount } from '../../../src/core/memory/types.js';

const M = 2 ** 32;

/** Reference model: the set of recorded indices and the highest one, over unwrapped indices. */
class Model {
  readonly seen = new Set<number>();
  highest = -1;
  constructor(readonly width: number) {}
  fresh(idx: number): boolean {
    if (idx > this.highest) return true;
    if (idx < 0 || this.highest - idx >= this.width) return false;
    return !this.seen.has(idx);
  }
  commit(idx: number): void {
    if (!this.fresh(idx)) return;
    this.seen.add(idx);
    if (idx > this.highest) this.highest = idx;
  }
}

describe('ReplayWindow', () => {
  it('accepts a fresh packet once; the replay is rejected and counted', () => {
    const w = new ReplayWindow();
    expect(w.width).toBe(DEFAULT_REPLAY_WINDOW);
    expect(w.check(5)).toBe(true);
    expect(w.check(5)).toBe(true); // check alone records nothing
    w.commit(5);
    expect(w.check(5)).toBe(false);
    expect(w.stats).toEqual({ committed: 1, duplicates: 1, tooOld: 0, highest: 5 });
  });

  it('accepts out-of-order packets inside the window exactly once', () => {
    const w = new ReplayWindow(64);
    for (const pn of [10, 3, 7, 1, 9]) {
      expect(w.check(pn)).toBe(true);
      w.commit(pn);
    }
    for (const pn of [10, 3, 7, 1, 9]) expect(w.check(pn)).toBe(false);
    for (const pn of [0, 2, 4, 5, 6, 8, 11]) expect(w.check(pn)).toBe(true);
  });

  it('rejects packets width or more behind the highest (old beyond the window)', () => {
    const w = new ReplayWindow(64);
    w.commit(1000);
    expect(w.check(1000 - 63)).toBe(true);
    expect(w.check(1000 - 64)).toBe(false);
    expect(w.check(0)).toBe(false);
    expect(w.stats.tooOld).toBe(2);
    w.commit(1000 - 64); // committing outside the window is a no-op
    expect(w.stats.committed).toBe(1);
  });

  it('slides across 2^32: indices keep growing, replays of pre-wrap packets are caught', () => {
    const w = new ReplayWindow(128);
    for (let i = 0; i < 40; i++) {
      const pn = (0xffff_ffe0 + i) >>> 0;
      expect(w.check(pn)).toBe(true);
      w.commit(pn);
    }
    expect(w.stats.highest).toBe(M + 7);
    expect(w.index(3)).toBe(M + 3);
    expect(w.index(0xffff_fff0)).toBe(0xffff_fff0);
    expect(w.check(0xffff_fff0)).toBe(false); // pre-wrap duplicate
    expect(w.check(5)).toBe(false); // post-wrap duplicate
    expect(w.check(8)).toBe(true);
    expect(w.check(0xffff_ff60)).toBe(false); // 168 behind: beyond 128
    expect(w.stats.duplicates).toBe(2);
    expect(w.stats.tooOld).toBe(1);
  });

  it('maps a packet number "before index 0" to a negative index and rejects it', () => {
    const w = new ReplayWindow(64);
    w.commit(3);
    expect(w.index(0xffff_fffe)).toBe(-2);
    expect(w.check(0xffff_fffe)).toBe(false);
  });

  it('clears stale bits when the window jumps further than its ring', () => {
    const w = new ReplayWindow(32);
    for (let pn = 0; pn < 64; pn++) w.commit(pn);
    w.commit(10_000);
    for (let pn = 10_000 - 31; pn < 10_000; pn++) expect(w.check(pn)).toBe(true);
    // A jump by exactly one ring of blocks (2 * 32 bits) and one just short of it.
    w.commit(10_064);
    expect(w.check(10_040)).toBe(true);
    w.commit(10_127);
    expect(w.check(10_100)).toBe(true);
    expect(w.check(10_064)).toBe(false); // 63 behind a width of 32
  });

  it('property: agrees with a set-based model over random streams (reorder, duplicates, jumps, wrap)', () => {
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -40, max: 8 }) }, // near the front: reorder/dups
      { weight: 1, arbitrary: fc.integer({ min: -3000, max: 3000 }) }, // far behind/ahead
    );
    fc.assert(
      fc.property(
        fc.constantFrom(32, 64, 128, 1024),
        fc.oneof(fc.constant(0), fc.constant(M - 50), fc.integer({ min: 0, max: M - 1 })),
        fc.array(fc.tuple(op, fc.boolean()), { minLength: 50, maxLength: 400, size: 'max' }),
        (width, start, ops) => {
          const w = new ReplayWindow(width);
          const m = new Model(width);
          let cursor = start; // unwrapped index the sender is at
          for (const [delta, authentic] of ops) {
            const idx = cursor + delta;
            const pn = ((idx % M) + M) % M;
            const expectFresh = idx >= 0 ? m.fresh(idx) : false;
            // Before anything is committed the window maps pn to itself; only compare once the
            // model and the window agree on the index.
            if (m.highest >= 0 && w.index(pn) !== idx) return false;
            if (m.highest < 0 && idx !== pn) continue;
            if (w.check(pn) !== expectFresh) return false;
            if (expectFresh && authentic) {
              w.commit(pn);
              m.commit(idx);
              if (idx > cursor) cursor = idx;
            }
            if (w.stats.highest !== m.highest) return false;
          }
          return w.stats.committed === m.seen.size;
        },
      ),
    );
  });

  it('validates width: a power of two in [32, 2^20]', () => {
    expect(() => new ReplayWindow(16)).toThrow(SluiceRangeError);
    expect(() => new ReplayWindow(1000)).toThrow(/^width: expected a power of two in \[32, 1048576\]/);
    expect(() => new ReplayWindow(2 ** 21)).toThrow(/^width/);
    expect(() => new ReplayWindow('1024' as unknown as number)).toThrow(SluiceTypeError);
  });

  it('reserves its bitmap on the account and returns it on close', () => {
    let reserved = 0;
    const acc: MemoryAccount = {
      name: 't',
      reserve: (b) => void (reserved += b),
      unreserve: (b) => void (reserved -= b),
      setCapacity: () => {},
      use: () => {},
      setSpanMs: () => {},
    };
    const w = new ReplayWindow(1024, acc);
    expect(reserved).toBe(256);
    w.close();
    w.close();
    expect(reserved).toBe(0);
    expect(() => w.commit(1)).toThrow(SluiceStateError);
  });
});
