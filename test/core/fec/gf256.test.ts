import { describe, expect, it } from 'vitest';
import { GF_BITMATRIX, bitMatrixWeight } from '../../../src/core/fec/bitmatrix.js';
import { GF_EXP, GF_INV, GF_LOG, GF_MUL, GF_POLY, gfDiv, gfInv, gfMul, gfPow } from '../../../src/core/fec/gf256.js';

/** Carry-less multiply, reduced modulo 0x11D: the definition, independent of the tables. */
function slowMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if ((b >> i) & 1) p ^= a << i;
  }
  for (let i = 15; i >= 8; i--) {
    if ((p >> i) & 1) p ^= GF_POLY << (i - 8);
  }
  return p;
}

describe('GF(2^8) with polynomial 0x11D', () => {
  it('the multiplication table equals carry-less multiplication mod 0x11D for all 65536 pairs', () => {
    let bad = 0;
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) if (GF_MUL[(a << 8) | b] !== slowMul(a, b)) bad++;
    expect(bad).toBe(0);
  });

  it('2 generates the multiplicative group; log and exp are inverse', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 255; i++) seen.add(GF_EXP[i]!);
    expect(seen.size).toBe(255);
    expect(seen.has(0)).toBe(false);
    for (let a = 1; a < 256; a++) expect(GF_EXP[GF_LOG[a]!]).toBe(a);
    for (let i = 0; i < 510; i++) expect(GF_EXP[i]).toBe(GF_EXP[i % 255]);
  });

  it('every non-zero element has an inverse and 0 has none', () => {
    for (let a = 1; a < 256; a++) {
      expect(GF_MUL[(a << 8) | GF_INV[a]!]).toBe(1);
      let count = 0;
      for (let b = 0; b < 256; b++) if (GF_MUL[(a << 8) | b] === 1) count++;
      expect(count).toBe(1);
    }
    for (let b = 0; b < 256; b++) expect(GF_MUL[b]).toBe(0);
  });

  it('identity, zero and commutativity over all pairs', () => {
    let bad = 0;
    for (let a = 0; a < 256; a++) {
      if (GF_MUL[(a << 8) | 1] !== a || GF_MUL[a << 8] !== 0) bad++;
      for (let b = 0; b < 256; b++) if (GF_MUL[(a << 8) | b] !== GF_MUL[(b << 8) | a]) bad++;
    }
    expect(bad).toBe(0);
  });

  it('associativity and distributivity over all 256^3 triples', () => {
    // Flat table lookups in one tight loop: 16.7M triples in well under a second.
    const M = GF_MUL;
    let bad = 0;
    for (let a = 0; a < 256; a++) {
      const ra = a << 8;
      for (let b = 0; b < 256; b++) {
        const ab = M[ra | b]!;
        const rab = ab << 8;
        const rb = b << 8;
        for (let c = 0; c < 256; c++) {
          if (M[rab | c] !== M[ra | M[rb | c]!]) bad++;
          if (M[ra | (b ^ c)] !== (ab ^ M[ra | c]!)) bad++;
        }
      }
    }
    expect(bad).toBe(0);
  });

  it('helpers agree with the tables', () => {
    expect(gfMul(2, 0x80)).toBe(0x1d);
    expect(gfPow(2, 8)).toBe(0x1d);
    expect(gfPow(0, 0)).toBe(1);
    expect(gfPow(0, 3)).toBe(0);
    for (let a = 0; a < 256; a++) {
      for (let b = 1; b < 256; b++) expect(gfMul(gfDiv(a, b), b)).toBe(a);
      if (a > 0) expect(gfMul(gfInv(a), a)).toBe(1);
      let p = 1;
      for (let n = 0; n < 10; n++) {
        expect(gfPow(a, n)).toBe(p);
        p = gfMul(p, a);
      }
    }
  });

  it('the bit matrix of c multiplies every element by c', () => {
    let bad = 0;
    for (let c = 0; c < 256; c++) {
      for (let e = 0; e < 256; e++) {
        let f = 0;
        for (let p = 0; p < 8; p++) {
          const row = GF_BITMATRIX[c * 8 + p]!;
          let bit = 0;
          for (let q = 0; q < 8; q++) bit ^= (row >> q) & (e >> q) & 1;
          f |= bit << p;
        }
        if (f !== GF_MUL[(c << 8) | e]) bad++;
      }
    }
    expect(bad).toBe(0);
    expect(bitMatrixWeight(0)).toBe(0);
    expect(bitMatrixWeight(1)).toBe(8);
  });
});
