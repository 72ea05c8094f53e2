import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom, DEFAULT_RANDOM_SEED } from '../../src/core/random.js';
import { SluiceRangeError, SluiceTypeError } from '../../src/core/errors.js';

const seedArb = fc.integer({ min: 0, max: 0xffff_ffff });

describe('SeededRandom', () => {
  it('pins the output of seeds 0, 1 and 2^32-1 (changing these breaks every recorded seed)', () => {
    const r1 = new SeededRandom(1);
    expect([r1.next(), r1.next(), r1.next(), r1.next(), r1.next()]).toEqual([
      3658481128, 1318607818, 3686608092, 2664485040, 249967081,
    ]);
    const r0 = new SeededRandom(0);
    expect([r0.next(), r0.next(), r0.next()]).toEqual([397439147, 411086914, 3201314850]);
    const rm = new SeededRandom(0xffff_ffff);
    expect([rm.next(), rm.next(), rm.next()]).toEqual([3590300459, 200690104, 1796965383]);
    expect(new SeededRandom(1).derive('loss').next()).toBe(941444663);
    expect(new SeededRandom(1).nextFloat()).toBe(0.8518065162525498);
  });

  it('defaults to DEFAULT_RANDOM_SEED', () => {
    expect(new SeededRandom().seed).toBe(DEFAULT_RANDOM_SEED);
    expect(new SeededRandom().next()).toBe(new SeededRandom(DEFAULT_RANDOM_SEED).next());
  });

  it('same seed, same stream (property)', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const a = new SeededRandom(seed);
        const b = new SeededRandom(seed);
        for (let i = 0; i < 50; i++) expect(a.next()).toBe(b.next());
        expect(a.nextFloat()).toBe(b.nextFloat());
        expect(a.nextInt(1000)).toBe(b.nextInt(1000));
      }),
    );
  });

  it('neighbouring seeds give unrelated streams', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_fffe }), (seed) => {
        const a = new SeededRandom(seed);
        const b = new SeededRandom(seed + 1);
        let same = 0;
        for (let i = 0; i < 16; i++) if (a.next() === b.next()) same++;
        expect(same).toBeLessThan(2);
      }),
    );
  });

  it('next() returns uint32 and nextFloat() lies in [0, 1)', () => {
    const r = new SeededRandom(7);
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      expect(Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff).toBe(true);
      const f = r.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
    }
  });

  it('nextFloat() has mean ~1/2 and variance ~1/12 over 200k draws', () => {
    const r = new SeededRandom(11);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const f = r.nextFloat();
      sum += f;
      sq += f * f;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    // Standard error of the mean is sqrt(1/12/n) ~ 0.00065; allow 5 sigma.
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.0033);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
  });

  it('nextInt(n) is in [0, n) and passes a chi-square test for n = 10 and n = 3 * 2^30', () => {
    const r = new SeededRandom(3);
    const bins = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = r.nextInt(10);
      expect(x >= 0 && x < 10 && Number.isInteger(x)).toBe(true);
      bins[x] = (bins[x] as number) + 1;
    }
    const expected = n / 10;
    const chi2 = bins.reduce((s, b) => s + ((b - expected) ** 2) / expected, 0);
    // 9 degrees of freedom: P(chi2 > 27.88) = 0.001.
    expect(chi2).toBeLessThan(27.88);

    // n = 3 * 2^30: a biased `x % n` would put 2/3 of draws in the lower third; rejection does not.
    const big = 3 * 2 ** 30;
    let lowThird = 0;
    const m = 60_000;
    for (let i = 0; i < m; i++) {
      const x = r.nextInt(big);
      expect(x >= 0 && x < big).toBe(true);
      if (x < 2 ** 30) lowThird++;
    }
    expect(Math.abs(lowThird / m - 1 / 3)).toBeLessThan(0.01);
  });

  it('nextInt(1) is always 0 and nextInt(2^32) accepts the full range', () => {
    const r = new SeededRandom(5);
    for (let i = 0; i < 100; i++) expect(r.nextInt(1)).toBe(0);
    const x = r.nextInt(2 ** 32);
    expect(x >= 0 && x < 2 ** 32).toBe(true);
  });

  it('nextFloatInto writes exactly the draw nextFloat would return', () => {
    const a = new SeededRandom(31);
    const b = new SeededRandom(31);
    const out = new Float64Array(3);
    for (let i = 0; i < 1000; i++) {
      a.nextFloatInto(out, 1);
      expect(out[1]).toBe(b.nextFloat());
      expect(a.chance(0.5)).toBe(b.nextFloat() < 0.5);
    }
    expect(a.next()).toBe(b.next());
  });

  it('chance(p) never draws for p <= 0 or p >= 1', () => {
    const a = new SeededRandom(9);
    const b = new SeededRandom(9);
    expect(a.chance(0)).toBe(false);
    expect(a.chance(1)).toBe(true);
    expect(a.chance(-1)).toBe(false);
    expect(a.next()).toBe(b.next());
  });

  it('derive(label) depends on seed and label only, not on draws made', () => {
    fc.assert(
      fc.property(seedArb, fc.string(), fc.nat(20), (seed, label, draws) => {
        const a = new SeededRandom(seed);
        for (let i = 0; i < draws; i++) a.next();
        const d1 = a.derive(label);
        const d2 = new SeededRandom(seed).derive(label);
        expect(d1.next()).toBe(d2.next());
        expect(d1.seed).toBe(d2.seed);
      }),
    );
    const r = new SeededRandom(1);
    expect(r.derive('loss').next()).not.toBe(r.derive('jitter').next());
    expect(r.derive('loss').next()).not.toBe(new SeededRandom(2).derive('loss').next());
  });

  it('fork() advances the parent by one draw and is reproducible', () => {
    const a = new SeededRandom(21);
    const b = new SeededRandom(21);
    const fa = a.fork();
    const fb = b.fork();
    expect(fa.next()).toBe(fb.next());
    const c = new SeededRandom(21);
    c.next();
    expect(a.next()).toBe(c.next());
    expect(a.fork().seed).not.toBe(fa.seed);
  });

  it('uniform(lo, hi) stays in [lo, hi)', () => {
    const r = new SeededRandom(4);
    for (let i = 0; i < 10_000; i++) {
      const x = r.uniform(-5, 5);
      expect(x >= -5 && x < 5).toBe(true);
    }
  });

  it('rejects bad seeds, n and labels with errors naming the argument', () => {
    expect(() => new SeededRandom(-1)).toThrow(SluiceRangeError);
    expect(() => new SeededRandom(2 ** 32)).toThrow(/seed: expected an integer in \[0, 4294967295\]/);
    expect(() => new SeededRandom(1.5)).toThrow(SluiceRangeError);
    expect(() => new SeededRandom('1' as unknown as number)).toThrow(SluiceTypeError);
    const r = new SeededRandom(1);
    expect(() => r.nextInt(0)).toThrow(/n: expected an integer in \[1, 4294967296\]/);
    expect(() => r.nextInt(2.5)).toThrow(SluiceRangeError);
    expect(() => r.nextInt(2 ** 32 + 1)).toThrow(SluiceRangeError);
    expect(() => r.derive(3 as unknown as string)).toThrow(SluiceTypeError);
  });
});
