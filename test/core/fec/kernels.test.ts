import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKernelSource } from '../../../src/core/fec/kernel-source.js';
import { FAST_KERNELS, mulAdd, mulAddElementwise, mulAddRef } from '../../../src/core/fec/kernels.js';

const GENERATED = join(import.meta.dirname, '..', '..', '..', 'src', 'core', 'fec', 'kernels-generated.ts');

function words(bytes: Uint8Array): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
}

describe('multiply-accumulate kernels', () => {
  it('kernels-generated.ts is what kernel-source.ts generates', () => {
    const want = generateKernelSource();
    if (process.env.SLUICE_REGEN_KERNELS === '1') writeFileSync(GENERATED, want);
    expect(readFileSync(GENERATED, 'utf8')).toBe(want);
    expect(FAST_KERNELS.length).toBe(256);
  });

  it('fast, reference and element-wise definitions agree for every coefficient', () => {
    const blocks = 3;
    const src = new Uint8Array(blocks * 32 + 64);
    for (let i = 0; i < src.length; i++) src[i] = (i * 73 + 11) & 0xff;
    for (let c = 0; c < 256; c++) {
      const a = new Uint8Array(src.length);
      const b = new Uint8Array(src.length);
      const d = new Uint8Array(src.length);
      for (let i = 0; i < a.length; i++) a[i] = b[i] = d[i] = (i * 5 + c) & 0xff;
      // Offsets of one block (8 words) on both sides; the bytes outside must not change.
      mulAdd(c, words(src), 8, words(a), 8, blocks);
      mulAddRef(c, words(src), 8, words(b), 8, blocks);
      mulAddElementwise(c, src, 32, d, 32, blocks);
      expect(a).toEqual(d);
      expect(b).toEqual(d);
      for (let i = 0; i < 32; i++) expect(a[i]).toBe((i * 5 + c) & 0xff);
      for (let i = 32 + blocks * 32; i < a.length; i++) expect(a[i]).toBe((i * 5 + c) & 0xff);
    }
  });

  it('linearity: (a*x) + (b*x) = (a^b)*x and a*(b*x) = (ab)*x on random symbols', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), (a, b, x) => {
        const x32 = words(new Uint8Array(x));
        const s1 = new Uint32Array(16);
        mulAdd(a, x32, 0, s1, 0, 2);
        mulAdd(b, x32, 0, s1, 0, 2);
        const s2 = new Uint32Array(16);
        mulAdd(a ^ b, x32, 0, s2, 0, 2);
        expect(s1).toEqual(s2);
        const t = new Uint32Array(16);
        mulAdd(b, x32, 0, t, 0, 2);
        const u = new Uint32Array(16);
        mulAdd(a, t, 0, u, 0, 2);
        const v = new Uint32Array(16);
        let ab = 0;
        for (let i = 0; i < 8; i++) if ((b >> i) & 1) ab ^= a << i;
        for (let i = 15; i >= 8; i--) if ((ab >> i) & 1) ab ^= 0x11d << (i - 8);
        mulAdd(ab, x32, 0, v, 0, 2);
        expect(u).toEqual(v);
      }),
    );
  });
});
