import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cauchyCoefficient, FEC_MAX_WINDOW } from '../../../src/core/fec/cauchy.js';
import { gfInv, gfMul } from '../../../src/core/fec/gf256.js';

/** Rank of a square matrix over GF(2^8) (plain Gaussian elimination, the oracle). */
function rank(m: number[][]): number {
  const a = m.map((r) => r.slice());
  const n = a.length;
  const cols = a[0]?.length ?? 0;
  let r = 0;
  for (let c = 0; c < cols && r < n; c++) {
    const p = a.findIndex((row, i) => i >= r && row[c] !== 0);
    if (p < 0) continue;
    [a[p], a[r]] = [a[r]!, a[p]!];
    const inv = gfInv(a[r]![c]!);
    a[r] = a[r]!.map((v) => gfMul(v, inv));
    for (let i = 0; i < n; i++) {
      if (i === r || a[i]![c] === 0) continue;
      const f = a[i]![c]!;
      a[i] = a[i]!.map((v, k) => v ^ gfMul(f, a[r]![k]!));
    }
    r++;
  }
  return r;
}

describe('Cauchy coefficients', () => {
  it('pins the construction: 1 / ((128 + j) xor (seq mod 128))', () => {
    expect(cauchyCoefficient(0, 0)).toBe(gfInv(128));
    expect(cauchyCoefficient(5, 3)).toBe(gfInv(131 ^ 5));
    expect(cauchyCoefficient(0xffff_ffff, 0)).toBe(gfInv(128 ^ 127));
    expect(cauchyCoefficient(128 + 7, 2)).toBe(cauchyCoefficient(7, 2));
    // First row and column, as printed in spec/fec.md.
    expect([0, 1, 2, 3].map((s) => cauchyCoefficient(s, 0))).toEqual([0x1b, 0x54, 0xa1, 0x1d]);
  });

  it('no coefficient is zero', () => {
    for (let s = 0; s < 128; s++) for (let j = 0; j < 128; j++) expect(cauchyCoefficient(s, j)).not.toBe(0);
  });

  it('every square submatrix (distinct rows, distinct seqs within 128 consecutive) is non-singular', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }).chain((r) =>
          fc.tuple(
            fc.uniqueArray(fc.integer({ min: 0, max: 127 }), { minLength: r, maxLength: r }),
            fc.uniqueArray(fc.integer({ min: 0, max: FEC_MAX_WINDOW - 1 }), { minLength: r, maxLength: r }),
            fc.integer({ min: 0, max: 0xffff_ffff }),
          ),
        ),
        ([rows, offs, base]) => {
          const m = rows.map((j) => offs.map((o) => cauchyCoefficient((base + o) >>> 0, j)));
          expect(rank(m)).toBe(rows.length);
        },
      ),
    );
  });
});
