/**
 * Key schedule of sluice wire format v1: every constant that the protocol spec
 * (spec/protocol.md) states about keys lives in THIS file, so aligning with the spec is a
 * one-file change.
 *
 * - handshake key = HKDF-SHA256(ikm = psk, salt = utf8("sluice/1 handshake"), info = utf8("hs"), 32)
 * - session keys  = HKDF-SHA256(ikm = psk, salt = clientNonce(16) || serverNonce(16),
 *                               info = utf8("sluice/1 c2s") | utf8("sluice/1 s2c"), 32)
 * - cookie secret = 32 random bytes per listener, rotated every cookie bucket (see cookie.ts)
 *
 * HKDF is RFC 5869 (extract-then-expand) via `@noble/hashes/hkdf.js`. Both nonces enter the
 * salt so that each connection gets fresh keys even though the PSK is long-lived; the two
 * directions get independent keys so that packet number 0 in one direction never shares a
 * (key, nonce) pair with packet number 0 in the other.
 *
 * Key derivation runs once per handshake, not per packet: these functions allocate freely.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SluiceRangeError, SluiceTypeError } from '../errors.js';

/** Length in bytes of every derived key (handshake key, session keys, cookie secret). */
export const KEY_LENGTH = 32;
/** Length in bytes of the client and server handshake nonces. */
export const NONCE_LENGTH = 16;
/** Shortest pre-shared key accepted, in bytes (after UTF-8 encoding of a string key). */
export const MIN_PSK_LENGTH = 16;
/** Longest pre-shared key accepted, in bytes (a bound on what a caller can make us hash). */
export const MAX_PSK_LENGTH = 4096;

/** HKDF salt of the handshake key: `utf8("sluice/1 handshake")`. */
export const HANDSHAKE_SALT = 'sluice/1 handshake';
/** HKDF info of the handshake key: `utf8("hs")`. */
export const HANDSHAKE_INFO = 'hs';
/** HKDF info of the client-to-server session key: `utf8("sluice/1 c2s")`. */
export const C2S_INFO = 'sluice/1 c2s';
/** HKDF info of the server-to-client session key: `utf8("sluice/1 s2c")`. */
export const S2C_INFO = 'sluice/1 s2c';

/**
 * Direction of a packet, part of the per-packet nonce (see protector.ts):
 * 0 = client to server (the side that sent HELLO), 1 = server to client.
 */
export type Direction = 0 | 1;
/** Client to server. */
export const DIRECTION_C2S: Direction = 0;
/** Server to client. */
export const DIRECTION_S2C: Direction = 1;

/** A pre-shared key as users give it: a UTF-8 string or raw bytes. */
export type PreSharedKey = string | Uint8Array;

/** Per-direction session keys (32 bytes each, fresh arrays owned by the caller). */
export interface SessionKeys {
  /** Protects packets the client sends (client to server). */
  readonly c2s: Uint8Array;
  /** Protects packets the server sends (server to client). */
  readonly s2c: Uint8Array;
}

const _encoder = new TextEncoder();
const _handshakeSalt = _encoder.encode(HANDSHAKE_SALT);
const _handshakeInfo = _encoder.encode(HANDSHAKE_INFO);
const _c2sInfo = _encoder.encode(C2S_INFO);
const _s2cInfo = _encoder.encode(S2C_INFO);

/**
 * Validates a pre-shared key and returns its bytes (a string is UTF-8 encoded; a Uint8Array is
 * returned as is, not copied).
 * @param key - the `key` option: a string or a Uint8Array of 16..4096 bytes.
 * @throws SluiceTypeError when `key` is neither a string nor a Uint8Array.
 * @throws SluiceRangeError when the key is shorter than 16 or longer than 4096 bytes.
 * @example
 * pskBytes('correct horse battery staple'); // Uint8Array(28)
 */
export function pskBytes(key: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (typeof key === 'string') bytes = _encoder.encode(key);
  else if (key instanceof Uint8Array) bytes = key;
  else {
    throw new SluiceTypeError(
      `key: expected a string or a Uint8Array of ${MIN_PSK_LENGTH}..${MAX_PSK_LENGTH} bytes, got ${key === null ? 'null' : typeof key}`,
    );
  }
  if (bytes.length < MIN_PSK_LENGTH || bytes.length > MAX_PSK_LENGTH) {
    throw new SluiceRangeError(
      `key: expected a pre-shared key of ${MIN_PSK_LENGTH}..${MAX_PSK_LENGTH} bytes (UTF-8 for a string), got ${bytes.length} bytes`,
    );
  }
  return bytes;
}

function _checkNonce(name: string, nonce: unknown): Uint8Array {
  if (!(nonce instanceof Uint8Array)) {
    throw new SluiceTypeError(`${name}: expected a Uint8Array of length ${NONCE_LENGTH}, got ${nonce === null ? 'null' : typeof nonce}`);
  }
  if (nonce.length !== NONCE_LENGTH) {
    throw new SluiceRangeError(`${name}: expected a Uint8Array of length ${NONCE_LENGTH}, got length=${nonce.length}`);
  }
  return nonce;
}

/**
 * Derives the handshake key, which protects HELLO / COOKIE / ACCEPT / REJECT (both directions;
 * the direction in the per-packet nonce keeps them apart).
 * @param psk - pre-shared key: a string (UTF-8) or bytes, 16..4096 bytes.
 * @returns a fresh 32-byte key owned by the caller.
 * @throws SluiceTypeError / SluiceRangeError naming `key` for a bad PSK.
 * @example
 * const hk = deriveHandshakeKey('a pre-shared key of 16+ bytes');
 */
export function deriveHandshakeKey(psk: PreSharedKey): Uint8Array {
  return hkdf(sha256, pskBytes(psk), _handshakeSalt, _handshakeInfo, KEY_LENGTH);
}

/**
 * Derives the per-direction session keys of one connection from the PSK and both handshake
 * nonces (RFC 5869 HKDF-SHA256; salt = clientNonce || serverNonce).
 * @param psk - pre-shared key: a string (UTF-8) or bytes, 16..4096 bytes.
 * @param clientNonce - the 16-byte nonce of the client's HELLO (not retained).
 * @param serverNonce - the 16-byte nonce of the listener's ACCEPT (not retained).
 * @returns two fresh 32-byte keys owned by the caller.
 * @throws SluiceTypeError / SluiceRangeError naming `key`, `clientNonce` or `serverNonce`.
 * @example
 * const { c2s, s2c } = deriveSessionKeys(psk, helloNonce, acceptNonce);
 */
export function deriveSessionKeys(psk: PreSharedKey, clientNonce: Uint8Array, serverNonce: Uint8Array): SessionKeys {
  const ikm = pskBytes(psk);
  _checkNonce('clientNonce', clientNonce);
  _checkNonce('serverNonce', serverNonce);
  const salt = new Uint8Array(2 * NONCE_LENGTH);
  salt.set(clientNonce, 0);
  salt.set(serverNonce, NONCE_LENGTH);
  return {
    c2s: hkdf(sha256, ikm, salt, _c2sInfo, KEY_LENGTH),
    s2c: hkdf(sha256, ikm, salt, _s2cInfo, KEY_LENGTH),
  };
}
