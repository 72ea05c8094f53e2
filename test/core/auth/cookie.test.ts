import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COOKIE_ISSUER_BYTES, CookieIssuer, type RandomFill } from '../../../src/core/auth/cookie.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError } from '../../../src/core/errors.js';
import type { MemoryAccount } from '../../../src/core/memory/types.js';

/** Seeded xorshift fill: deterministic secrets for tests (the core never draws its own). */
function seeded(seed: number): RandomFill {
  let x = seed >>> 0 || 1;
  return (out) => {
    for (let i = 0; i < out.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
  };
}

const ADDR4 = new Uint8Array([192, 0, 2, 7]);
const ADDR4B = new Uint8Array([192, 0, 2, 8]);
const ADDR6 = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
const NONCE = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);
const CID = 0xdead_beef;
const BUCKET = 5000;

function mint(jar: CookieIssuer, now: number, addr = ADDR4, port = 4000, cid = CID, nonce = NONCE): Uint8Array {
  const out = new Uint8Array(32);
  jar.mint(out, 0, addr, port, cid, nonce, 0, now);
  return out;
}

describe('CookieIssuer', () => {
  it('accepts a cookie in its own bucket and in the next one, rejects it two buckets later', () => {
    const jar = new CookieIssuer({ random: seeded(1), bucketMs: BUCKET });
    const c = mint(jar, 12_000); // bucket 2
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 12_000)).toBe(true);
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 14_999.9)).toBe(true);
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 15_000)).toBe(true); // previous bucket
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 19_999)).toBe(true);
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 20_000)).toBe(false); // two buckets on
    expect(jar.stats).toMatchObject({ minted: 1, accepted: 4, rejected: 1, rotations: 2 });
  });

  it('a clock jump of two buckets or more expires the previous secret too', () => {
    const jar = new CookieIssuer({ random: seeded(2), bucketMs: BUCKET });
    const c = mint(jar, 1000);
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 11_000)).toBe(false);
    // And a cookie of the new current bucket works at once.
    const d = mint(jar, 11_000);
    expect(jar.verify(d, 0, ADDR4, 4000, CID, NONCE, 0, 11_001)).toBe(true);
  });

  it('rejects another address, port, connection id or nonce', () => {
    const jar = new CookieIssuer({ random: seeded(3) });
    const c = mint(jar, 0);
    const nonce2 = NONCE.slice();
    nonce2[15]! ^= 1;
    expect(jar.verify(c, 0, ADDR4B, 4000, CID, NONCE, 0, 1)).toBe(false);
    expect(jar.verify(c, 0, ADDR6, 4000, CID, NONCE, 0, 1)).toBe(false);
    expect(jar.verify(c, 0, ADDR4, 4001, CID, NONCE, 0, 1)).toBe(false);
    expect(jar.verify(c, 0, ADDR4, 4000, CID ^ 1, NONCE, 0, 1)).toBe(false);
    expect(jar.verify(c, 0, ADDR4, 4000, CID, nonce2, 0, 1)).toBe(false);
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 1)).toBe(true);
  });

  it('binds the address length (an IPv4 address is not a prefix of an IPv6 one)', () => {
    const jar = new CookieIssuer({ random: seeded(4) });
    const prefix = ADDR6.subarray(0, 4);
    const c = mint(jar, 0, prefix);
    expect(jar.verify(c, 0, ADDR6, 4000, CID, NONCE, 0, 0)).toBe(false);
    expect(jar.verify(c, 0, prefix, 4000, CID, NONCE, 0, 0)).toBe(true);
  });

  it('cookies of another listener (other secret) do not verify; same seeded source gives the same cookie', () => {
    const a = new CookieIssuer({ random: seeded(5) });
    const b = new CookieIssuer({ random: seeded(6) });
    const a2 = new CookieIssuer({ random: seeded(5) });
    const c = mint(a, 100);
    expect(b.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 100)).toBe(false);
    expect(mint(a2, 100)).toEqual(c);
  });

  it('reads the nonce and cookie at offsets inside larger datagrams', () => {
    const jar = new CookieIssuer({ random: seeded(7) });
    const hello = new Uint8Array(1200);
    hello.set(NONCE, 100);
    const out = new Uint8Array(64);
    jar.mint(out, 20, ADDR4, 9, 1, hello, 100, 0);
    expect(out.subarray(0, 20).every((x) => x === 0)).toBe(true);
    expect(out.subarray(52).every((x) => x === 0)).toBe(true);
    const reply = new Uint8Array(1200);
    reply.set(out.subarray(20, 52), 500);
    expect(jar.verify(reply, 500, ADDR4, 9, 1, NONCE, 0, 10)).toBe(true);
  });

  it('property: any flipped bit of the cookie, or any other client tuple, is rejected', () => {
    const jar = new CookieIssuer({ random: seeded(8), bucketMs: 1000 });
    const tuple = fc.record({
      addr: fc.uint8Array({ minLength: 4, maxLength: 16 }),
      port: fc.integer({ min: 0, max: 0xffff }),
      cid: fc.integer({ min: 0, max: 0xffff_ffff }),
      nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    });
    let now = 0;
    fc.assert(
      fc.property(tuple, tuple, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2500 }), (t, u, bit, age) => {
        now += 7;
        const c = new Uint8Array(32);
        jar.mint(c, 0, t.addr, t.port, t.cid, t.nonce, 0, now);
        const mintedBucket = Math.floor(now / 1000);
        now += age;
        const valid = Math.floor(now / 1000) - mintedBucket <= 1;
        if (jar.verify(c, 0, t.addr, t.port, t.cid, t.nonce, 0, now) !== valid) return false;
        if (!valid) return true;
        const same =
          u.port === t.port && u.cid === t.cid && Buffer.compare(u.addr, t.addr) === 0 && Buffer.compare(u.nonce, t.nonce) === 0;
        if (!same && jar.verify(c, 0, u.addr, u.port, u.cid, u.nonce, 0, now)) return false;
        c[bit >> 3]! ^= 1 << (bit & 7);
        return !jar.verify(c, 0, t.addr, t.port, t.cid, t.nonce, 0, now);
      }),
    );
  });

  it('verify never throws on garbage arguments', () => {
    const jar = new CookieIssuer({ random: seeded(9) });
    const junk = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.integer({ min: -10, max: 70_000 }),
      fc.double(),
      fc.uint8Array({ maxLength: 40 }),
      fc.string(),
    );
    fc.assert(
      fc.property(junk, junk, junk, junk, junk, junk, junk, junk, (a, b, c, d, e, f, g, h) => {
        const r = jar.verify(a as Uint8Array, b as number, c as Uint8Array, d as number, e as number, f as Uint8Array, g as number, h as number);
        return typeof r === 'boolean';
      }),
    );
  });

  it('mint throws on misuse, naming the argument', () => {
    const jar = new CookieIssuer({ random: seeded(10) });
    const out = new Uint8Array(32);
    expect(() => jar.mint(out, 1, ADDR4, 1, 1, NONCE, 0, 0)).toThrow(/^outOffset: expected an integer in \[0, 0\]/);
    expect(() => jar.mint(out, 0, new Uint8Array(0), 1, 1, NONCE, 0, 0)).toThrow(/^addr/);
    expect(() => jar.mint(out, 0, ADDR4, 70_000, 1, NONCE, 0, 0)).toThrow(/^port: expected an integer in \[0, 65535\]/);
    expect(() => jar.mint(out, 0, ADDR4, 1, -1, NONCE, 0, 0)).toThrow(/^connectionId/);
    expect(() => jar.mint(out, 0, ADDR4, 1, 1, NONCE, 1, 0)).toThrow(/^nonceOffset/);
    expect(() => jar.mint(out, 0, ADDR4, 1, 1, NONCE, 0, NaN)).toThrow(/^now/);
    expect(() => jar.mint(out, 0, 'x' as unknown as Uint8Array, 1, 1, NONCE, 0, 0)).toThrow(SluiceTypeError);
  });

  it('validates options', () => {
    expect(() => new CookieIssuer({} as never)).toThrow(/^random: expected a function/);
    expect(() => new CookieIssuer({ random: seeded(1), bucketMs: 50 })).toThrow(SluiceRangeError);
    expect(() => new CookieIssuer({ random: seeded(1), bucketMs: 50 })).toThrow(/^bucketMs: expected an integer in \[100, 3600000\]/);
    expect(() => new CookieIssuer(undefined as never)).toThrow(SluiceTypeError);
  });

  it('charges its state to the account, returns it on close, refuses after close', () => {
    let reserved = 0;
    const acc: MemoryAccount = {
      name: 't',
      reserve: (b) => void (reserved += b),
      unreserve: (b) => void (reserved -= b),
      setCapacity: () => {},
      use: () => {},
      setSpanMs: () => {},
    };
    const jar = new CookieIssuer({ random: seeded(11), account: acc });
    expect(reserved).toBe(COOKIE_ISSUER_BYTES);
    const c = mint(jar, 0);
    jar.close();
    jar.close();
    expect(reserved).toBe(0);
    expect(jar.verify(c, 0, ADDR4, 4000, CID, NONCE, 0, 0)).toBe(false);
    expect(() => mint(jar, 0)).toThrow(SluiceStateError);
  });
});
