import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HMAC_PROTECTOR_BYTES, HmacProtector, createHmacProtector } from '../../../src/core/auth/hmac-protector.js';
import { TAG_LENGTH } from '../../../src/core/auth/protector.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError } from '../../../src/core/errors.js';
import type { MemoryAccount } from '../../../src/core/memory/types.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const KEY2 = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 12) & 0xff);

function packet(len: number, seed = 1): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len - TAG_LENGTH; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Independent oracle: node:crypto HMAC over bytes || direction u32 || index u64 (big-endian). */
function refTag(key: Uint8Array, bytes: Uint8Array, direction: number, index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(direction, 0);
  n.writeUInt32BE(Math.floor(index / 2 ** 32), 4);
  n.writeUInt32BE(index >>> 0, 8);
  return createHmac('sha256', key).update(bytes).update(n).digest().subarray(0, 16);
}

class RecordingAccount implements MemoryAccount {
  readonly name = 'test';
  reserved = 0;
  reserve(b: number): void {
    this.reserved += b;
  }
  unreserve(b: number): void {
    this.reserved -= b;
  }
  setCapacity(): void {}
  use(): void {}
  setSpanMs(): void {}
}

describe('HmacProtector', () => {
  it('writes HMAC-SHA256(key, bytes || direction || index)[0..16) into the last 16 bytes', () => {
    for (const [direction, index] of [
      [0, 0],
      [1, 0],
      [0, 0xffff_ffff],
      [1, 2 ** 32 + 5],
      [0, Number.MAX_SAFE_INTEGER],
    ] as const) {
      const p = new HmacProtector(KEY, { direction });
      const b = packet(1200, index + 1);
      p.protect(b, 0, b.length, 24, index);
      expect(Buffer.from(b.subarray(1184)).toString('hex')).toBe(refTag(KEY, b.subarray(0, 1184), direction, index).toString('hex'));
    }
  });

  it('round-trips and leaves bytes outside the region untouched', () => {
    const p = new HmacProtector(KEY);
    const big = new Uint8Array(300).fill(0xaa);
    big.set(packet(100), 50);
    const before = big.slice();
    p.protect(big, 50, 100, 62, 77);
    expect(big.subarray(0, 134)).toEqual(before.subarray(0, 134));
    expect(big.subarray(150)).toEqual(before.subarray(150));
    expect(p.open(big, 50, 100, 62, 77)).toBe(true);
  });

  it('rejects every single-bit flip anywhere in a packet (header, body, tag): exhaustive over 100 bytes', () => {
    const tx = new HmacProtector(KEY);
    const rx = new HmacProtector(KEY);
    const b = packet(100);
    tx.protect(b, 0, 100, 24, 3);
    expect(rx.open(b, 0, 100, 24, 3)).toBe(true);
    let rejected = 0;
    for (let bit = 0; bit < 800; bit++) {
      b[bit >> 3]! ^= 1 << (bit & 7);
      if (!rx.open(b, 0, 100, 24, 3)) rejected++;
      b[bit >> 3]! ^= 1 << (bit & 7);
    }
    expect(rejected).toBe(800);
    expect(rx.open(b, 0, 100, 24, 3)).toBe(true);
  });

  it('rejects a forged tag, a wrong key, a wrong direction, a wrong index and the index 2^32 later', () => {
    const tx = new HmacProtector(KEY, { direction: 0 });
    const b = packet(200);
    tx.protect(b, 0, 200, 24, 9);
    const forged = b.slice();
    forged.fill(0, 184);
    expect(new HmacProtector(KEY).open(forged, 0, 200, 24, 9)).toBe(false);
    expect(new HmacProtector(KEY2).open(b, 0, 200, 24, 9)).toBe(false);
    expect(new HmacProtector(KEY, { direction: 1 }).open(b, 0, 200, 24, 9)).toBe(false);
    expect(new HmacProtector(KEY).open(b, 0, 200, 24, 10)).toBe(false);
    // Same 32-bit header value one wrap later: the epoch is bound, so a replay after wrap fails.
    expect(new HmacProtector(KEY).open(b, 0, 200, 24, 9 + 2 ** 32)).toBe(false);
    expect(new HmacProtector(KEY).open(b, 0, 200, 24, 9)).toBe(true);
  });

  it('rejects truncated and extended packets', () => {
    const tx = new HmacProtector(KEY);
    const b = new Uint8Array(201);
    b.set(packet(200));
    tx.protect(b, 0, 200, 24, 1);
    const rx = new HmacProtector(KEY);
    expect(rx.open(b, 0, 199, 24, 1)).toBe(false);
    expect(rx.open(b, 0, 201, 24, 1)).toBe(false);
    expect(rx.open(b, 1, 199, 24, 1)).toBe(false);
  });

  it('property: random packets, random flip position, random index -> authentic verifies, flipped never does', () => {
    const tx = new HmacProtector(KEY, { direction: 1 });
    const rx = new HmacProtector(KEY, { direction: 1 });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 1400 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (bytes, flipSeed, payloadSeed, index) => {
          const len = bytes.length;
          const payloadOffset = payloadSeed % (len - 16 + 1);
          tx.protect(bytes, 0, len, payloadOffset, index);
          if (!rx.open(bytes, 0, len, payloadOffset, index)) return false;
          const bit = flipSeed % (len * 8);
          bytes[bit >> 3]! ^= 1 << (bit & 7);
          return !rx.open(bytes, 0, len, payloadOffset, index);
        },
      ),
    );
  });

  it('open never throws and returns false on any malformed region or packet number', () => {
    const rx = new HmacProtector(KEY);
    const b = packet(64);
    new HmacProtector(KEY).protect(b, 0, 64, 12, 1);
    const nums = fc.oneof(fc.integer({ min: -5, max: 80 }), fc.constantFrom(NaN, Infinity, -Infinity, 1.5, 2 ** 53, -1));
    fc.assert(
      fc.property(nums, nums, nums, nums, (offset, length, payloadOffset, pn) => {
        const ok = rx.open(b, offset, length, payloadOffset, pn);
        const genuine = offset === 0 && length === 64 && pn === 1 && payloadOffset >= 0 && payloadOffset <= 48 && Number.isInteger(payloadOffset);
        return ok === genuine;
      }),
    );
    expect(rx.open(null as unknown as Uint8Array, 0, 64, 12, 1)).toBe(false);
  });

  it('protect throws on misuse, naming the argument and the allowed range', () => {
    const p = new HmacProtector(KEY);
    const b = new Uint8Array(64);
    expect(() => p.protect(b, 0, 15, 0, 0)).toThrow(SluiceRangeError);
    expect(() => p.protect(b, 0, 15, 0, 0)).toThrow(/^length: expected an integer in \[16, 64\]/);
    expect(() => p.protect(b, 0, 65, 0, 0)).toThrow(/^length/);
    expect(() => p.protect(b, -1, 20, 0, 0)).toThrow(/^offset/);
    expect(() => p.protect(b, 0, 64, 49, 0)).toThrow(/^payloadOffset: expected an integer in \[0, 48\]/);
    expect(() => p.protect(b, 0, 64, 12, -1)).toThrow(/^packetNumber/);
    expect(() => p.protect(b, 0, 64, 12, 2 ** 53)).toThrow(/^packetNumber/);
    expect(() => p.protect('x' as unknown as Uint8Array, 0, 64, 12, 0)).toThrow(SluiceTypeError);
  });

  it('validates key and direction', () => {
    expect(() => new HmacProtector(new Uint8Array(15))).toThrow(/^key: .*at least 16 bytes/);
    expect(() => new HmacProtector('k' as unknown as Uint8Array)).toThrow(SluiceTypeError);
    expect(() => new HmacProtector(KEY, { direction: 2 as 0 })).toThrow(/^direction/);
  });

  it('charges its state to the account and returns it on close; closed protectors refuse', () => {
    const acc = new RecordingAccount();
    const p = new HmacProtector(KEY, { account: acc });
    expect(acc.reserved).toBe(HMAC_PROTECTOR_BYTES);
    const b = packet(64);
    p.protect(b, 0, 64, 12, 0);
    p.close();
    p.close();
    expect(acc.reserved).toBe(0);
    expect(p.open(b, 0, 64, 12, 0)).toBe(false);
    expect(() => p.protect(b, 0, 64, 12, 0)).toThrow(SluiceStateError);
    // A key rejected in the constructor leaves nothing reserved.
    expect(() => new HmacProtector(new Uint8Array(3), { account: acc })).toThrow();
    expect(acc.reserved).toBe(0);
  });

  it('the factory builds HMAC protectors and refuses aead, naming mode', () => {
    const tx = createHmacProtector(KEY, 'hmac', 1);
    const b = packet(64);
    tx.protect(b, 0, 64, 12, 5);
    expect(new HmacProtector(KEY, { direction: 1 }).open(b, 0, 64, 12, 5)).toBe(true);
    expect(() => createHmacProtector(KEY, 'aead')).toThrow(/^mode: /);
  });

  it('does not keep a reference to the key', () => {
    const k = KEY.slice();
    const p = new HmacProtector(k);
    const b = packet(64);
    p.protect(b, 0, 64, 12, 5);
    k.fill(0);
    expect(p.open(b, 0, 64, 12, 5)).toBe(true);
  });

  it('known answer: s2c key of the keys.test.ts vector, 20-byte packet, index 2^32 + 0x01020304, direction 1', () => {
    const key = Buffer.from('915c6cb58cf75ac256072eec46f50d7c4793bef3dfa3bdee3d6c6db3a8a4ed8c', 'hex');
    const pkt = new Uint8Array(36);
    pkt.set(Buffer.from('0109000000000007010203040000000a0000000b', 'hex'));
    new HmacProtector(key, { direction: 1 }).protect(pkt, 0, 36, 12, 2 ** 32 + 0x01020304);
    expect(Buffer.from(pkt.subarray(20)).toString('hex')).toBe('0b7dbaa685225197261bac9c1d53df2d');
  });
});
