/**
 * decodePacket never reads outside `buf[offset, offset + length)`: every valid vector,
 * truncated at every length, is placed at a non-zero offset inside a larger buffer whose
 * surrounding bytes are garbage. Two oracles:
 * 1. a Proxy over the buffer records every index read: all must lie inside the datagram;
 * 2. the result (status and, when OK, every field) is the same for two different garbage fills.
 */
import { describe, expect, it } from 'vitest';
import { DECODE_STATUS_COUNT, DecodeStatus, PacketView, decodePacket, peekHeader } from '../../../src/core/wire/index.js';
import { fromHex, loadVectors, viewFields } from './fields.js';

const OFFSET = 7;
const TAIL = 9;

function embed(src: Uint8Array, len: number, garbage: number): Uint8Array {
  const buf = new Uint8Array(OFFSET + len + TAIL);
  for (let i = 0; i < buf.length; i++) buf[i] = (garbage + i * 151) & 0xff;
  buf.set(src.subarray(0, len), OFFSET);
  return buf;
}

/** Wraps `buf` so that every integer-indexed read is checked against [lo, hi). */
function guarded(buf: Uint8Array, lo: number, hi: number, bad: number[]): Uint8Array {
  return new Proxy(buf, {
    get(target, key, _receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) {
        const i = Number(key);
        if (i < lo || i >= hi) bad.push(i);
        return target[i];
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function outcome(view: PacketView, st: number): string {
  return st === DecodeStatus.OK ? JSON.stringify(viewFields(view)) : `status ${st}`;
}

describe('decodePacket stays inside the datagram', () => {
  const vectors = loadVectors().valid;
  it.each(vectors.map((v) => [v.name, v.hex] as const))('%s truncated at every length', (_name, hex) => {
    const src = fromHex(hex);
    const view = new PacketView();
    let oks = 0;
    for (let len = 0; len <= src.length; len++) {
      const bad: number[] = [];
      const a = embed(src, len, 0x33);
      const b = embed(src, len, 0xc4);
      const stA = decodePacket(view, guarded(a, OFFSET, OFFSET + len, bad), OFFSET, len);
      expect(bad, `read outside [${OFFSET}, ${OFFSET + len})`).toEqual([]);
      expect(stA >= 0 && stA < DECODE_STATUS_COUNT).toBe(true);
      // Re-decode from the unproxied buffer for field extraction (viewFields reads view.buf).
      expect(decodePacket(view, a, OFFSET, len)).toBe(stA);
      const outA = outcome(view, stA);
      const stB = decodePacket(view, b, OFFSET, len);
      expect(outcome(view, stB)).toBe(outA);
      if (stA === DecodeStatus.OK) oks++;
      // peekHeader too
      const badPeek: number[] = [];
      peekHeader(guarded(a, OFFSET, OFFSET + len, badPeek), OFFSET, len, view);
      expect(badPeek).toEqual([]);
    }
    // The full length decodes OK; a shorter one may too (DATA has no length field: the datagram
    // is the length, and only the tag catches a cut), which is why decode is never trusted alone.
    expect(oks).toBeGreaterThanOrEqual(1);
  });

  it('the guard itself records reads outside the window', () => {
    const bad: number[] = [];
    const g = guarded(new Uint8Array(10), 2, 5, bad);
    void g[1];
    void g[4];
    void g[5];
    expect(bad).toEqual([1, 5]);
    expect(g.length).toBe(10);
  });

  it('returns TRUNCATED for a window outside the buffer or bad arguments, without throwing', () => {
    const src = fromHex(vectors[0]!.hex);
    const view = new PacketView();
    expect(decodePacket(view, src, 1, src.length)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(view, src, -1, 10)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(view, src, 0, -5)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(view, src, 0.5, 10)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(view, src, Number.NaN, 10)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(view, src, 0, Number.POSITIVE_INFINITY)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(view, src, 2 ** 32, 0)).toBe(DecodeStatus.TRUNCATED);
    expect(decodePacket(view, src, 0, src.length)).toBe(DecodeStatus.OK);
  });
});
