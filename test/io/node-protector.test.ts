import { createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HmacProtector } from '../../src/core/auth/hmac-protector.js';
import { SluiceRangeError, SluiceStateError } from '../../src/core/errors.js';
import type { MemoryAccount } from '../../src/core/memory/types.js';
import { NODE_PROTECTOR_BYTES, NodeProtector, createNodeProtector, type AeadAlgorithm } from '../../src/io/node-protector.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 1) & 0xff);
const ALGS: AeadAlgorithm[] = ['chacha20-poly1305', 'aes-128-gcm'];

function packet(len: number, seed = 1): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len - 16; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe('NodeProtector, HMAC mode', () => {
  it('produces exactly the tags of the pure protector (interoperates both ways)', () => {
    for (const direction of [0, 1] as const) {
      const pure = new HmacProtector(KEY, { direction });
      const node = new NodeProtector(KEY, { direction });
      for (const index of [0, 1, 0xffff_ffff, 2 ** 32, 2 ** 40 + 3]) {
        const a = packet(1200, index + 7);
        const b = a.slice();
        pure.protect(a, 0, 1200, 24, index);
        node.protect(b, 0, 1200, 24, index);
        expect(b).toEqual(a);
        expect(node.open(a, 0, 1200, 24, index)).toBe(true);
        expect(pure.open(b, 0, 1200, 24, index)).toBe(true);
      }
    }
  });

  it('matches the pure protector for short and long keys, small and jumbo packets, regions at an offset; open leaves the buffer as it came', () => {
    const keys = [KEY.subarray(0, 16), KEY, Uint8Array.from({ length: 64 }, (_, i) => i), Uint8Array.from({ length: 100 }, (_, i) => 255 - i)];
    // 2000 and 3000 bytes straddle the one-shot scratch (2048 bytes of MAC input).
    for (const key of keys) {
      const pure = new HmacProtector(key, { direction: 1 });
      const node = new NodeProtector(key, { direction: 1 });
      for (const len of [16, 17, 28, 100, 1400, 2020, 2021, 2047, 3000, 9000]) {
        const a = packet(len + 10, len);
        const b = a.slice();
        pure.protect(a, 5, len, Math.min(5 + 24, 5 + len - 16), 99);
        node.protect(b, 5, len, Math.min(5 + 24, 5 + len - 16), 99);
        expect(b).toEqual(a);
        const before = b.slice();
        expect(node.open(b, 5, len, Math.min(5 + 24, 5 + len - 16), 99)).toBe(true);
        expect(b).toEqual(before);
        b[5 + len - 1]! ^= 1;
        const forged = b.slice();
        expect(node.open(b, 5, len, Math.min(5 + 24, 5 + len - 16), 99)).toBe(false);
        expect(b).toEqual(forged);
      }
    }
  });

  it('rejects every single-bit flip (exhaustive over 100 bytes)', () => {
    const p = new NodeProtector(KEY);
    const b = packet(100);
    p.protect(b, 0, 100, 24, 5);
    let rejected = 0;
    for (let bit = 0; bit < 800; bit++) {
      b[bit >> 3]! ^= 1 << (bit & 7);
      if (!p.open(b, 0, 100, 24, 5)) rejected++;
      b[bit >> 3]! ^= 1 << (bit & 7);
    }
    expect(rejected).toBe(800);
  });
});

describe.each(ALGS)('NodeProtector, AEAD mode %s', (aead) => {
  it('round-trips: header untouched, payload encrypted in place, decrypted back bit-exact', () => {
    const tx = new NodeProtector(KEY, { mode: 'aead', aead, direction: 1 });
    const rx = new NodeProtector(KEY, { mode: 'aead', aead, direction: 1 });
    const b = packet(1200, 3);
    const plain = b.slice();
    tx.protect(b, 0, 1200, 24, 42);
    expect(b.subarray(0, 24)).toEqual(plain.subarray(0, 24));
    let same = 0;
    for (let i = 24; i < 1184; i++) if (b[i] === plain[i]) same++;
    expect(same).toBeLessThan(30); // ~1160/256 expected by chance
    expect(rx.open(b, 0, 1200, 24, 42)).toBe(true);
    expect(b.subarray(0, 1184)).toEqual(plain.subarray(0, 1184));
  });

  it('uses nonce = direction u32 || index u64 and the header as AAD (decrypts with an independent decipher)', () => {
    const tx = new NodeProtector(KEY, { mode: 'aead', aead, direction: 1 });
    const b = packet(300, 9);
    const plain = b.slice();
    const index = 2 ** 32 + 0x1234;
    tx.protect(b, 0, 300, 24, index);
    const nonce = Buffer.from('00000001' + '00000001' + '00001234', 'hex');
    const key = aead === 'aes-128-gcm' ? KEY.subarray(0, 16) : KEY;
    const d =
      aead === 'aes-128-gcm'
        ? createDecipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 })
        : createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    d.setAuthTag(b.subarray(284, 300));
    d.setAAD(b.subarray(0, 24));
    const out = Buffer.concat([d.update(b.subarray(24, 284)), d.final()]);
    expect(new Uint8Array(out)).toEqual(plain.subarray(24, 284));
  });

  it('rejects every single-bit flip (header, ciphertext, tag) and leaves the buffer untouched', () => {
    const tx = new NodeProtector(KEY, { mode: 'aead', aead });
    const rx = new NodeProtector(KEY, { mode: 'aead', aead });
    const b = packet(100);
    tx.protect(b, 0, 100, 24, 8);
    const sealed = b.slice();
    let rejected = 0;
    for (let bit = 0; bit < 800; bit++) {
      b[bit >> 3]! ^= 1 << (bit & 7);
      if (!rx.open(b, 0, 100, 24, 8)) rejected++;
      b[bit >> 3]! ^= 1 << (bit & 7);
      if (bit % 97 === 0) expect(b).toEqual(sealed);
    }
    expect(rejected).toBe(800);
    expect(b).toEqual(sealed);
    expect(rx.open(b, 0, 100, 24, 8)).toBe(true);
  });

  it('rejects a wrong index (incl. one wrap later), a wrong direction, a wrong key, a moved payload boundary', () => {
    const tx = new NodeProtector(KEY, { mode: 'aead', aead });
    const b = packet(200);
    tx.protect(b, 0, 200, 24, 77);
    const other = KEY.slice();
    other[31]! ^= 1;
    other[0]! ^= 1;
    expect(new NodeProtector(KEY, { mode: 'aead', aead }).open(b.slice(), 0, 200, 24, 78)).toBe(false);
    expect(new NodeProtector(KEY, { mode: 'aead', aead }).open(b.slice(), 0, 200, 24, 77 + 2 ** 32)).toBe(false);
    expect(new NodeProtector(KEY, { mode: 'aead', aead, direction: 1 }).open(b.slice(), 0, 200, 24, 77)).toBe(false);
    expect(new NodeProtector(other, { mode: 'aead', aead }).open(b.slice(), 0, 200, 24, 77)).toBe(false);
    expect(new NodeProtector(KEY, { mode: 'aead', aead }).open(b.slice(), 0, 200, 28, 77)).toBe(false);
    expect(new NodeProtector(KEY, { mode: 'aead', aead }).open(b, 0, 200, 24, 77)).toBe(true);
  });

  it('handles an empty payload (header-only packets such as KEEPALIVE)', () => {
    const p = new NodeProtector(KEY, { mode: 'aead', aead });
    const b = packet(36);
    p.protect(b, 0, 36, 20, 1);
    expect(p.open(b, 0, 36, 20, 1)).toBe(true);
    b[3]! ^= 1;
    expect(p.open(b, 0, 36, 20, 1)).toBe(false);
  });

  it('property: random packets and flip positions; regions inside larger buffers', () => {
    const tx = new NodeProtector(KEY, { mode: 'aead', aead });
    const rx = new NodeProtector(KEY, { mode: 'aead', aead });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 1400 }),
        fc.nat(8),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (bytes, pad, flipSeed, payloadSeed, index) => {
          const len = bytes.length;
          const buf = new Uint8Array(len + 2 * pad).fill(0x5a);
          buf.set(bytes, pad);
          const payloadOffset = pad + (payloadSeed % (len - 16 + 1));
          tx.protect(buf, pad, len, payloadOffset, index);
          const sealed = buf.slice();
          const bit = flipSeed % (len * 8);
          buf[pad + (bit >> 3)]! ^= 1 << (bit & 7);
          if (rx.open(buf, pad, len, payloadOffset, index)) return false;
          buf[pad + (bit >> 3)]! ^= 1 << (bit & 7);
          if (!rx.open(buf, pad, len, payloadOffset, index)) return false;
          // Plaintext restored, tag slot and padding untouched.
          for (let i = 0; i < len - 16; i++) if (buf[pad + i] !== bytes[i]) return false;
          for (let i = 0; i < pad; i++) if (buf[i] !== 0x5a || buf[buf.length - 1 - i] !== 0x5a) return false;
          return buf.subarray(pad + len - 16, pad + len).every((v, i) => v === sealed[pad + len - 16 + i]);
        },
      ),
    );
  });
});

describe('NodeProtector, misuse and lifecycle', () => {
  it('open never throws on malformed regions', () => {
    const p = new NodeProtector(KEY, { mode: 'aead' });
    const b = packet(64);
    for (const [o, l, po, pn] of [
      [-1, 64, 12, 0],
      [0, 65, 12, 0],
      [0, 15, 0, 0],
      [0, 64, 49, 0],
      [0, 64, 12, -1],
      [0, 64, 12, NaN],
      [0.5, 32, 12, 0],
    ]) {
      expect(p.open(b, o as number, l as number, po as number, pn as number)).toBe(false);
    }
    expect(p.open(undefined as unknown as Uint8Array, 0, 64, 12, 0)).toBe(false);
  });

  it('validates options, naming them', () => {
    expect(() => new NodeProtector(KEY, { mode: 'xor' as 'hmac' })).toThrow(/^mode/);
    expect(() => new NodeProtector(KEY, { mode: 'aead', aead: 'aes-256-gcm' as AeadAlgorithm })).toThrow(/^aead/);
    expect(() => new NodeProtector(KEY, { direction: 3 as 0 })).toThrow(/^direction/);
    expect(() => new NodeProtector(new Uint8Array(16), { mode: 'aead' })).toThrow(SluiceRangeError);
    expect(() => new NodeProtector(new Uint8Array(16), { mode: 'aead' })).toThrow(/^key: chacha20-poly1305 needs .* 32 bytes/);
    expect(() => new NodeProtector(new Uint8Array(16), { mode: 'aead', aead: 'aes-128-gcm' })).not.toThrow();
    expect(() => new NodeProtector(new Uint8Array(8))).toThrow(/^key/);
    expect(() => new NodeProtector(KEY).protect(new Uint8Array(10), 0, 10, 0, 0)).toThrow(/^length/);
  });

  it('factory maps modes; account reserved and returned; closed protectors refuse', () => {
    let reserved = 0;
    const acc: MemoryAccount = {
      name: 't',
      reserve: (b) => void (reserved += b),
      unreserve: (b) => void (reserved -= b),
      setCapacity: () => {},
      use: () => {},
      setSpanMs: () => {},
    };
    const p = new NodeProtector(KEY, { account: acc });
    expect(reserved).toBe(NODE_PROTECTOR_BYTES);
    p.close();
    p.close();
    expect(reserved).toBe(0);
    expect(() => p.protect(packet(64), 0, 64, 12, 0)).toThrow(SluiceStateError);
    expect(p.open(packet(64), 0, 64, 12, 0)).toBe(false);
    const a = createNodeProtector(KEY, 'aead', 1);
    expect((a as NodeProtector).aead).toBe('chacha20-poly1305');
    expect((createNodeProtector(KEY, 'hmac') as NodeProtector).aead).toBeNull();
  });
});

describe('NodeProtector AEAD known answers (OpenSSL; same packet/key/index as the HMAC vector)', () => {
  const key = Buffer.from('915c6cb58cf75ac256072eec46f50d7c4793bef3dfa3bdee3d6c6db3a8a4ed8c', 'hex');
  it.each([
    ['chacha20-poly1305', '93964b1ef326b624', '1e38da1f3d9da0513c26481329499e69'],
    ['aes-128-gcm', '7bfe8cf2410d7ef0', 'ae30edf4fe179cae485ba0a688991a04'],
  ] as const)('%s', (aead, ct, tag) => {
    const pkt = new Uint8Array(36);
    pkt.set(Buffer.from('0109000000000007010203040000000a0000000b', 'hex'));
    new NodeProtector(key, { mode: 'aead', aead, direction: 1 }).protect(pkt, 0, 36, 12, 2 ** 32 + 0x01020304);
    expect(Buffer.from(pkt.subarray(0, 12)).toString('hex')).toBe('010900000000000701020304');
    expect(Buffer.from(pkt.subarray(12, 20)).toString('hex')).toBe(ct);
    expect(Buffer.from(pkt.subarray(20)).toString('hex')).toBe(tag);
  });
});
