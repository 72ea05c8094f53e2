/**
 * HMAC-SHA256 with the key schedule done once: RFC 2104's inner and outer padded key blocks are
 * hashed at construction, and each message starts from a copy of those two SHA-256 midstates
 * (`_cloneInto` into a preallocated worker) instead of re-hashing two 64-byte key blocks. For a
 * 1200-byte packet that saves 2 of ~22 compression-function calls and, more importantly, every
 * per-message allocation noble would make for a fresh `hmac.create(...)`.
 *
 * What still allocates per message is inside `@noble/hashes` (a DataView over each input and
 * over the output, a subarray for the inner digest); those are short-lived and measured in
 * bench/auth.bench.ts.
 */
import { hmac, type _HMAC } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SluiceRangeError, SluiceTypeError, SluiceStateError } from '../errors.js';

/** HMAC-SHA256 output length in bytes. */
export const HMAC_SHA256_LENGTH = 32;
/**
 * Bytes a {@link PrekeyedHmac} holds (for memory accounting): two keyed HMAC states (template
 * and worker), each two SHA-256 states with a 64-byte block buffer and 8 state words, rounded up
 * for object headers.
 */
export const PREKEYED_HMAC_BYTES = 2 * 2 * (64 + 32 + 64);

/** Shortest key accepted: 16 bytes (RFC 2104 §3 wants >= L/2 for security; sluice keys are 32). */
export const MIN_HMAC_KEY_LENGTH = 16;

/**
 * Validates a MAC key (`name` is the option named in the error).
 * @throws SluiceTypeError when not a Uint8Array; SluiceRangeError when shorter than 16 bytes.
 */
export function checkKey(name: string, key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new SluiceTypeError(`${name}: expected a Uint8Array of at least ${MIN_HMAC_KEY_LENGTH} bytes, got ${key === null ? 'null' : typeof key}`);
  }
  if (key.length < MIN_HMAC_KEY_LENGTH) {
    throw new SluiceRangeError(`${name}: expected a Uint8Array of at least ${MIN_HMAC_KEY_LENGTH} bytes, got length=${key.length}`);
  }
  return key;
}

/**
 * One HMAC-SHA256 key, ready to MAC many messages without re-keying.
 *
 * Usage per message: `begin()`, any number of `update()`, then `digestInto(out)`.
 * Not reentrant: one message at a time.
 * @example
 * const mac = new PrekeyedHmac(key);
 * const out = new Uint8Array(32);
 * mac.begin().update(header).update(body).digestInto(out);
 */
export class PrekeyedHmac {
  private _template: _HMAC<any>;
  private _work: _HMAC<any>;
  private _disposed: boolean;

  /**
   * @param key - the MAC key (copied into the hash state; the array is not retained).
   * @throws SluiceTypeError / SluiceRangeError naming `key`.
   */
  constructor(key: Uint8Array) {
    checkKey('key', key);
    this._template = hmac.create(sha256, key);
    // The worker is a full clone so that later `_cloneInto(this._work)` reuses its objects.
    this._work = this._template.clone();
    this._disposed = false;
  }

  /** Replaces the key (cookie-secret rotation). Allocates; not for per-packet use. */
  rekey(key: Uint8Array): void {
    checkKey('key', key);
    this._template.destroy();
    this._template = hmac.create(sha256, key);
    this._template._cloneInto(this._work);
    this._disposed = false;
  }

  /**
   * Starts a new message from the keyed midstates (no allocation beyond noble's internals).
   * @throws SluiceStateError after {@link dispose}.
   */
  begin(): this {
    if (this._disposed) throw new SluiceStateError('PrekeyedHmac: used after dispose()');
    this._template._cloneInto(this._work);
    return this;
  }

  /** Feeds bytes of the current message. `data` is read, not retained. */
  update(data: Uint8Array): this {
    this._work.update(data);
    return this;
  }

  /** Finishes the message and writes the 32-byte MAC to `out[0, 32)` (`out.length >= 32`). */
  digestInto(out: Uint8Array): void {
    this._work.digestInto(out);
  }

  /** Wipes both keyed states; further use throws. Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._template.destroy();
    this._work.destroy();
  }
}
