import { describe, expect, it } from 'vitest';
import * as auth from '../../../src/core/auth/index.js';
import { COOKIE_LENGTH } from '../../../src/core/auth/cookie.js';
import { NONCE_LENGTH } from '../../../src/core/auth/keys.js';
import { TAG_LENGTH } from '../../../src/core/auth/protector.js';
import * as wire from '../../../src/core/wire/constants.js';

describe('auth module surface', () => {
  it('agrees with the wire codec on the lengths both define', () => {
    expect(TAG_LENGTH).toBe(wire.TAG_LENGTH);
    expect(NONCE_LENGTH).toBe(wire.NONCE_LENGTH);
    expect(COOKIE_LENGTH).toBe(wire.COOKIE_LENGTH);
  });
  it('does not re-export names the wire module exports (they would clash in src/core/index.ts)', () => {
    const clash = Object.keys(auth).filter((k) => k in wire);
    expect(clash).toEqual([]);
  });
  it('exports the integration surface', () => {
    for (const name of ['deriveHandshakeKey', 'deriveSessionKeys', 'HmacProtector', 'createHmacProtector', 'ReplayWindow', 'CookieIssuer']) {
      expect(typeof (auth as Record<string, unknown>)[name]).toBe('function');
    }
  });
});
