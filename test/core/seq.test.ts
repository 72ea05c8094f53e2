import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  SEQ_HALF,
  SEQ_MAX,
  seqAdd,
  seqDiff,
  seqGt,
  seqGte,
  seqInRange,
  seqLt,
  seqLte,
  seqMax,
  seqMin,
  seqNext,
  unwrap32,
} from '../../src/core/seq.js';

/** Reference: RFC 1982 §3.2 with BigInt-free exact arithmetic on safe integers. */
function refLt(a: number, b: number): boolean {
  return (a < b && b - a < SEQ_HALF) || (a > b && a - b > SEQ_HALF);
}

describe('seq (32-bit serial arithmetic)', () => {
  it('wraps at 2^32', () => {
    expect(seqNext(SEQ_MAX)).toBe(0);
    expect(seqAdd(SEQ_MAX, 2)).toBe(1);
    expect(seqAdd(0, -1)).toBe(SEQ_MAX);
    expect(seqDiff(SEQ_MAX, 1)).toBe(2);
    expect(seqDiff(1, SEQ_MAX)).toBe(-2);
    expect(seqLt(SEQ_MAX, 0)).toBe(true);
    expect(seqLt(0, SEQ_MAX)).toBe(false);
  });

  it('treats distance 2^31 as unordered in both directions', () => {
    expect(seqLt(0, SEQ_HALF)).toBe(false);
    expect(seqLt(SEQ_HALF, 0)).toBe(false);
    expect(seqLte(0, SEQ_HALF)).toBe(false);
    expect(seqLte(SEQ_HALF, 0)).toBe(false);
    expect(seqDiff(0, SEQ_HALF)).toBe(-SEQ_HALF);
  });

  it('matches RFC 1982 exhaustively in a band around the wrap and around 2^31', () => {
    // Every pair (a, b) with a and b within 300 of 0/2^32 or of 2^31: 1,200^2 = 1.44M pairs.
    const anchors: number[] = [];
    for (let d = -300; d < 300; d++) anchors.push(seqAdd(0, d), seqAdd(SEQ_HALF, d));
    let checked = 0;
    for (const a of anchors) {
      for (const b of anchors) {
        const lt = refLt(a, b);
        if (seqLt(a, b) !== lt) throw new Error(`seqLt(${a}, ${b}) expected ${lt}`);
        if (seqGt(b, a) !== lt) throw new Error(`seqGt(${b}, ${a}) expected ${lt}`);
        const lte = lt || a === b;
        if (seqLte(a, b) !== lte) throw new Error(`seqLte(${a}, ${b}) expected ${lte}`);
        if (seqGte(b, a) !== lte) throw new Error(`seqGte(${b}, ${a}) expected ${lte}`);
        if (seqAdd(a, seqDiff(a, b)) !== b) throw new Error(`seqAdd(a, seqDiff(a,b)) != b for ${a}, ${b}`);
        checked++;
      }
    }
    expect(checked).toBe(anchors.length ** 2);
  });

  it('agrees with the reference on arbitrary pairs', () => {
    fc.assert(
      fc.property(fc.nat({ max: SEQ_MAX }), fc.nat({ max: SEQ_MAX }), (a, b) => {
        expect(seqLt(a, b)).toBe(refLt(a, b));
        expect(seqAdd(a, seqDiff(a, b))).toBe(b);
        const d = seqDiff(a, b);
        expect(d >= -SEQ_HALF && d < SEQ_HALF).toBe(true);
      }),
    );
  });

  it('min/max/inRange behave across the wrap', () => {
    expect(seqMax(SEQ_MAX, 3)).toBe(3);
    expect(seqMin(SEQ_MAX, 3)).toBe(SEQ_MAX);
    expect(seqInRange(1, SEQ_MAX - 1, 4)).toBe(true);
    expect(seqInRange(2, SEQ_MAX - 1, 4)).toBe(false);
    expect(seqInRange(SEQ_MAX - 2, SEQ_MAX - 1, 4)).toBe(false);
    fc.assert(
      fc.property(fc.nat({ max: SEQ_MAX }), fc.nat({ max: 1 << 20 }), fc.nat({ max: 1 << 21 }), (s, c, k) => {
        expect(seqInRange(seqAdd(s, k), s, c)).toBe(k < c);
      }),
    );
  });

  it('unwrap32 recovers the nearest unwrapped value', () => {
    expect(unwrap32(0x1_0000_0005, 0xffff_fff0)).toBe(0xffff_fff0);
    expect(unwrap32(0xffff_fff0, 5)).toBe(0x1_0000_0005);
    expect(unwrap32(10, 4)).toBe(4);
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 44 }), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (ref, d) => {
        const v = ref + d;
        fc.pre(v >= 0);
        expect(unwrap32(ref, v % 2 ** 32)).toBe(v);
      }),
    );
  });
});
