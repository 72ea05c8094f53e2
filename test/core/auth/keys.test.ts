import { hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  C2S_INFO,
  HANDSHAKE_INFO,
  HANDSHAKE_SALT,
  S2C_INFO,
  deriveHandshakeKey,
  deriveSessionKeys,
  pskBytes,
} from '../../../src/core/auth/keys.js';
import { SluiceRangeError, SluiceTypeError } from '../../../src/core/errors.js';

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** Independent oracle: OpenSSL's HKDF through node:crypto. */
const refHkdf = (ikm: Uint8Array, salt: Uint8Array, info: string): string =>
  Buffer.from(hkdfSync('sha256', ikm, salt, enc.encode(info), 32)).toString('hex');

const PSK = 'sluice test pre-shared key';
const CN = Uint8Array.from({ length: 16 }, (_, i) => i);
const SN = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);

describe('key schedule constants', () => {
  it('are the strings of the lead brief', () => {
    expect([HANDSHAKE_SALT, HANDSHAKE_INFO, C2S_INFO, S2C_INFO]).toEqual([
      'sluice/1 handshake',
      'hs',
      'sluice/1 c2s',
      'sluice/1 s2c',
    ]);
  });
});

describe('deriveHandshakeKey', () => {
  it('equals HKDF-SHA256(psk, "sluice/1 handshake", "hs") computed by node:crypto', () => {
    const k = deriveHandshakeKey(PSK);
    expect(k.length).toBe(32);
    expect(hex(k)).toBe(refHkdf(enc.encode(PSK), enc.encode('sluice/1 handshake'), 'hs'));
  });
  it('treats a string and its UTF-8 bytes alike (multi-byte characters count as bytes)', () => {
    const s = 'éééééééé'; // 8 characters, 16 UTF-8 bytes
    expect(hex(deriveHandshakeKey(s))).toBe(hex(deriveHandshakeKey(enc.encode(s))));
  });
  it('gives different keys for different PSKs', () => {
    expect(hex(deriveHandshakeKey(PSK))).not.toBe(hex(deriveHandshakeKey(PSK + '!')));
  });
});

describe('deriveSessionKeys', () => {
  it('equals HKDF-SHA256(psk, clientNonce || serverNonce, "sluice/1 c2s" | "sluice/1 s2c")', () => {
    const { c2s, s2c } = deriveSessionKeys(PSK, CN, SN);
    const salt = new Uint8Array([...CN, ...SN]);
    expect(hex(c2s)).toBe(refHkdf(enc.encode(PSK), salt, 'sluice/1 c2s'));
    expect(hex(s2c)).toBe(refHkdf(enc.encode(PSK), salt, 'sluice/1 s2c'));
    expect(hex(c2s)).not.toBe(hex(s2c));
  });
  it('changes with either nonce and with their order', () => {
    const base = hex(deriveSessionKeys(PSK, CN, SN).c2s);
    const cn2 = CN.slice();
    cn2[15]! ^= 1;
    expect(hex(deriveSessionKeys(PSK, cn2, SN).c2s)).not.toBe(base);
    const sn2 = SN.slice();
    sn2[0]! ^= 0x80;
    expect(hex(deriveSessionKeys(PSK, CN, sn2).c2s)).not.toBe(base);
    expect(hex(deriveSessionKeys(PSK, SN, CN).c2s)).not.toBe(base);
  });
  it('does not modify the nonces', () => {
    const cn = CN.slice();
    const sn = SN.slice();
    deriveSessionKeys(PSK, cn, sn);
    expect(cn).toEqual(CN);
    expect(sn).toEqual(SN);
  });
  it('rejects nonces of the wrong length or type, naming them', () => {
    expect(() => deriveSessionKeys(PSK, new Uint8Array(15), SN)).toThrow(SluiceRangeError);
    expect(() => deriveSessionKeys(PSK, new Uint8Array(15), SN)).toThrow(/clientNonce.*length 16.*length=15/);
    expect(() => deriveSessionKeys(PSK, CN, new Uint8Array(17))).toThrow(/serverNonce/);
    expect(() => deriveSessionKeys(PSK, CN, 'x' as unknown as Uint8Array)).toThrow(SluiceTypeError);
  });
});

describe('PSK validation (option `key`)', () => {
  it('rejects PSKs shorter than 16 bytes with a SluiceRangeError naming key and the range', () => {
    for (const bad of ['', 'short', '123456789012345', new Uint8Array(15)]) {
      let err: unknown;
      try {
        deriveHandshakeKey(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SluiceRangeError);
      expect((err as SluiceRangeError).code).toBe('ERR_SLUICE_OUT_OF_RANGE');
      expect((err as Error).message).toMatch(/^key: .*16\.\.4096 bytes/);
    }
    expect(() => deriveSessionKeys('short', CN, SN)).toThrow(/^key: /);
  });
  it('accepts exactly 16 bytes and rejects more than 4096', () => {
    expect(pskBytes('0123456789abcdef').length).toBe(16);
    expect(() => pskBytes(new Uint8Array(4097))).toThrow(SluiceRangeError);
    expect(pskBytes(new Uint8Array(4096)).length).toBe(4096);
  });
  it('rejects non-string, non-bytes keys with a SluiceTypeError naming key', () => {
    for (const bad of [null, undefined, 42, {}, [1, 2, 3]]) {
      expect(() => pskBytes(bad)).toThrow(SluiceTypeError);
      expect(() => pskBytes(bad)).toThrow(/^key: /);
    }
  });
});

describe('known-answer values (computed with OpenSSL HKDF; for spec/vectors once the spec lands)', () => {
  it('psk "sluice test vector psk", clientNonce 00..0f, serverNonce f0..ff', () => {
    const psk = 'sluice test vector psk';
    const cn = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const sn = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 'hex');
    expect(hex(deriveHandshakeKey(psk))).toBe('6bd50453d7814b0894e4f95fc164b29a7d2bcb9f2ea20cbfb37e57f6cba87abc');
    const { c2s, s2c } = deriveSessionKeys(psk, cn, sn);
    expect(hex(c2s)).toBe('9441a38ca5bdbd22b00413514f8e04800b1bfd8f53c5d362cbd37e776071cb2e');
    expect(hex(s2c)).toBe('915c6cb58cf75ac256072eec46f50d7c4793bef3dfa3bdee3d6c6db3a8a4ed8c');
  });
});
