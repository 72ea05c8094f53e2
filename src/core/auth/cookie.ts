/**
 * Stateless handshake cookies (the listener's side of HELLO -> COOKIE -> HELLO+cookie).
 *
 * A cookie is a MAC the listener can recompute from the second HELLO alone, so it keeps no
 * per-client state until the client has proved it receives packets at its claimed address
 * (the idea of DTLS HelloVerifyRequest, RFC 6347 §4.2.1, and QUIC Retry tokens, RFC 9000 §8.1):
 *
 * ```
 * cookie = HMAC-SHA256(secret[bucket],
 *            addrLen u8 || addr || port u16 || clientConnectionId u32 || clientNonce(16) || bucket u32)
 * bucket = floor(now / bucketMs)   (u32 on the wire of the MAC input, modulo 2^32)
 * ```
 *
 * The secret is 32 random bytes drawn from the injected random source and rotated at every
 * bucket change; the listener keeps the current and the previous secret, so a cookie stays
 * valid from the moment it is minted until the end of the next bucket (between 1 and 2
 * `bucketMs`). A clock that jumps two buckets or more drops both secrets.
 *
 * Memory: two keyed MAC states and a 282-byte scratch input, reserved on the account. Minting
 * and verifying allocate nothing of their own (noble's internals aside, see prekeyed-hmac.ts),
 * which matters because HELLO floods are exactly when this code runs hot.
 */
import { SluiceRangeError, SluiceStateError, SluiceTypeError, checkInt } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount } from '../memory/types.js';
import { KEY_LENGTH, NONCE_LENGTH } from './keys.js';
import { HMAC_SHA256_LENGTH, PREKEYED_HMAC_BYTES, PrekeyedHmac } from './prekeyed-hmac.js';
import { constantTimeEqual } from './protector.js';

/** Length of a cookie in bytes. */
export const COOKIE_LENGTH = 32;
/** Default bucket length: a cookie is valid for 5 to 10 seconds. */
export const DEFAULT_COOKIE_BUCKET_MS = 5000;
/** Shortest allowed bucket length in ms. */
export const MIN_COOKIE_BUCKET_MS = 100;
/** Longest allowed bucket length in ms (one hour). */
export const MAX_COOKIE_BUCKET_MS = 3_600_000;
/** Longest client address accepted, in bytes (IPv4 is 4, IPv6 16). */
export const MAX_COOKIE_ADDRESS_LENGTH = 255;

/**
 * Fills `out` entirely with cryptographically random bytes. The io layer passes
 * `(b) => crypto.getRandomValues(b)`; tests pass a seeded generator.
 */
export type RandomFill = (out: Uint8Array) => void;

/** Options of {@link CookieIssuer}. */
export interface CookieIssuerOptions {
  /** Source of the rotating secrets. Required: the core has no randomness of its own. */
  readonly random: RandomFill;
  /** Length of one time bucket in ms, integer in [100, 3_600_000]; default 5000. */
  readonly bucketMs?: number;
  /** Account charged for the issuer's state (default: detached). */
  readonly account?: MemoryAccount;
}

/** Counters of a {@link CookieIssuer}; one object, updated in place. */
export interface CookieStats {
  /** Cookies written by `mint`. */
  minted: number;
  /** Cookies that verified (current or previous bucket). */
  accepted: number;
  /** Cookies that did not verify (wrong address/port/id/nonce, expired, forged, malformed). */
  rejected: number;
  /** Secret rotations performed. */
  rotations: number;
}

const _INPUT_BYTES = 1 + MAX_COOKIE_ADDRESS_LENGTH + 2 + 4 + NONCE_LENGTH + 4;
/** Bytes one {@link CookieIssuer} reserves. */
export const COOKIE_ISSUER_BYTES = 2 * PREKEYED_HMAC_BYTES + _INPUT_BYTES + HMAC_SHA256_LENGTH + KEY_LENGTH;

/**
 * Mints and verifies stateless cookies for one listener.
 * @example
 * const jar = new CookieIssuer({ random: (b) => crypto.getRandomValues(b) });
 * const cookie = new Uint8Array(32);
 * jar.mint(cookie, 0, addr4, 5000, clientConnId, helloNonce, 0, now);
 * jar.verify(cookie, 0, addr4, 5000, clientConnId, helloNonce, 0, now + 3000); // true
 */
export class CookieIssuer {
  /** Bucket length in ms. */
  readonly bucketMs: number;
  /** Counters, updated in place. */
  readonly stats: CookieStats;
  private readonly _random: RandomFill;
  private readonly _account: MemoryAccount;
  private readonly _input: Uint8Array;
  private readonly _out: Uint8Array;
  private readonly _secret: Uint8Array;
  private _current: PrekeyedHmac;
  private _previous: PrekeyedHmac;
  /** Current bucket number, -1 before the first call. */
  private _bucket: number;
  private _previousValid: boolean;
  private _closed: boolean;

  /**
   * @throws SluiceTypeError naming `random` when it is not a function; SluiceRangeError /
   *   SluiceTypeError naming `bucketMs`.
   */
  constructor(options: CookieIssuerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new SluiceTypeError(`options: expected an object with a 'random' function, got ${options === null ? 'null' : typeof options}`);
    }
    if (typeof options.random !== 'function') {
      throw new SluiceTypeError(`random: expected a function (out: Uint8Array) => void filling out with random bytes, got ${typeof options.random}`);
    }
    this.bucketMs = checkInt('bucketMs', options.bucketMs ?? DEFAULT_COOKIE_BUCKET_MS, MIN_COOKIE_BUCKET_MS, MAX_COOKIE_BUCKET_MS);
    this._random = options.random;
    this._account = options.account ?? DETACHED_ACCOUNT;
    this._account.reserve(COOKIE_ISSUER_BYTES);
    this._input = new Uint8Array(_INPUT_BYTES);
    this._out = new Uint8Array(HMAC_SHA256_LENGTH);
    this._secret = new Uint8Array(KEY_LENGTH);
    // Both states start keyed with fresh secrets; `_previousValid` says whether the previous
    // one may be used (not before a genuine rotation).
    this._current = new PrekeyedHmac(this._fresh());
    this._previous = new PrekeyedHmac(this._fresh());
    this._secret.fill(0);
    this._bucket = -1;
    this._previousValid = false;
    this._closed = false;
    this.stats = { minted: 0, accepted: 0, rejected: 0, rotations: 0 };
  }

  /**
   * Writes the 32-byte cookie for this client into `out[outOffset, outOffset + 32)`.
   * @param addr - the client's address bytes as seen by the socket (4 for IPv4, 16 for IPv6;
   *   any 1..255 bytes accepted), read only.
   * @param port - the client's UDP port, integer in [0, 65535].
   * @param connectionId - the client's source connection id (u32).
   * @param nonce - buffer holding the client's 16-byte HELLO nonce at `nonceOffset`.
   * @param now - monotonic time in ms (may be fractional).
   * @throws SluiceRangeError / SluiceTypeError on bad arguments (the codec validated the HELLO
   *   already, so this is caller misuse); SluiceStateError after {@link close}.
   */
  mint(
    out: Uint8Array,
    outOffset: number,
    addr: Uint8Array,
    port: number,
    connectionId: number,
    nonce: Uint8Array,
    nonceOffset: number,
    now: number,
  ): void {
    if (this._closed) throw new SluiceStateError('CookieIssuer: mint() after close()');
    if (!(out instanceof Uint8Array)) throw new SluiceTypeError('out: expected a Uint8Array');
    checkInt('outOffset', outOffset, 0, out.length - COOKIE_LENGTH);
    if (!this._validInput(addr, port, connectionId, nonce, nonceOffset, now)) {
      this._throwBadInput(addr, port, connectionId, nonce, nonceOffset, now);
    }
    this._advance(now);
    this._mac(this._current, addr, port, connectionId, nonce, nonceOffset, this._bucket);
    out.set(this._out, outOffset);
    this.stats.minted++;
  }

  /**
   * True when `cookie[cookieOffset, cookieOffset + 32)` was minted by this issuer for exactly
   * this address, port, connection id and nonce during the current or the previous bucket.
   * Never throws: malformed arguments and calls after {@link close} return false.
   */
  verify(
    cookie: Uint8Array,
    cookieOffset: number,
    addr: Uint8Array,
    port: number,
    connectionId: number,
    nonce: Uint8Array,
    nonceOffset: number,
    now: number,
  ): boolean {
    if (
      this._closed ||
      !(cookie instanceof Uint8Array) ||
      !Number.isInteger(cookieOffset) ||
      cookieOffset < 0 ||
      cookieOffset + COOKIE_LENGTH > cookie.length ||
      !this._validInput(addr, port, connectionId, nonce, nonceOffset, now)
    ) {
      this.stats.rejected++;
      return false;
    }
    this._advance(now);
    this._mac(this._current, addr, port, connectionId, nonce, nonceOffset, this._bucket);
    // Both candidates are always computed and compared so that the time taken does not say
    // which bucket (if any) matched.
    let ok = constantTimeEqual(cookie, cookieOffset, this._out, 0, COOKIE_LENGTH);
    this._mac(this._previous, addr, port, connectionId, nonce, nonceOffset, this._bucket - 1);
    const okPrevious = constantTimeEqual(cookie, cookieOffset, this._out, 0, COOKIE_LENGTH);
    ok = ok || (okPrevious && this._previousValid);
    if (ok) this.stats.accepted++;
    else this.stats.rejected++;
    return ok;
  }

  /** Wipes both secrets and returns the reservation. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._current.dispose();
    this._previous.dispose();
    this._input.fill(0);
    this._out.fill(0);
    this._account.unreserve(COOKIE_ISSUER_BYTES);
  }

  private _fresh(): Uint8Array {
    this._random(this._secret);
    return this._secret;
  }

  /** Rotates secrets when `now` entered a later bucket. A clock going backwards keeps the current bucket. */
  private _advance(now: number): void {
    const b = Math.floor(now / this.bucketMs);
    if (this._bucket < 0) {
      this._bucket = b;
      return;
    }
    if (b <= this._bucket) return;
    // The current secret becomes the previous one (still valid for one bucket) only when the
    // clock moved exactly one bucket; a longer gap expires it too.
    const spare = this._previous;
    this._previous = this._current;
    this._previousValid = b === this._bucket + 1;
    spare.rekey(this._fresh());
    this._secret.fill(0);
    this._current = spare;
    this._bucket = b;
    this.stats.rotations++;
  }

  private _validInput(addr: Uint8Array, port: number, connectionId: number, nonce: Uint8Array, nonceOffset: number, now: number): boolean {
    return (
      addr instanceof Uint8Array &&
      addr.length >= 1 &&
      addr.length <= MAX_COOKIE_ADDRESS_LENGTH &&
      Number.isInteger(port) &&
      port >= 0 &&
      port <= 0xffff &&
      Number.isInteger(connectionId) &&
      connectionId >= 0 &&
      connectionId <= 0xffff_ffff &&
      nonce instanceof Uint8Array &&
      Number.isInteger(nonceOffset) &&
      nonceOffset >= 0 &&
      nonceOffset + NONCE_LENGTH <= nonce.length &&
      typeof now === 'number' &&
      Number.isFinite(now) &&
      now >= 0
    );
  }

  private _throwBadInput(addr: unknown, port: number, connectionId: number, nonce: unknown, nonceOffset: number, now: number): never {
    if (!(addr instanceof Uint8Array)) throw new SluiceTypeError(`addr: expected a Uint8Array of 1..${MAX_COOKIE_ADDRESS_LENGTH} bytes`);
    if (addr.length < 1 || addr.length > MAX_COOKIE_ADDRESS_LENGTH) {
      throw new SluiceRangeError(`addr: expected 1..${MAX_COOKIE_ADDRESS_LENGTH} bytes, got length=${addr.length}`);
    }
    checkInt('port', port, 0, 0xffff);
    checkInt('connectionId', connectionId, 0, 0xffff_ffff);
    if (!(nonce instanceof Uint8Array)) throw new SluiceTypeError('nonce: expected a Uint8Array');
    checkInt('nonceOffset', nonceOffset, 0, nonce.length - NONCE_LENGTH);
    throw new SluiceRangeError(`now: expected a finite time in ms >= 0, got ${String(now)}`);
  }

  private _mac(
    mac: PrekeyedHmac,
    addr: Uint8Array,
    port: number,
    connectionId: number,
    nonce: Uint8Array,
    nonceOffset: number,
    bucket: number,
  ): void {
    const inp = this._input;
    let p = 0;
    inp[p++] = addr.length;
    inp.set(addr, p);
    p += addr.length;
    inp[p++] = port >>> 8;
    inp[p++] = port & 0xff;
    inp[p++] = connectionId >>> 24;
    inp[p++] = (connectionId >>> 16) & 0xff;
    inp[p++] = (connectionId >>> 8) & 0xff;
    inp[p++] = connectionId & 0xff;
    for (let i = 0; i < NONCE_LENGTH; i++) inp[p++] = nonce[nonceOffset + i] as number;
    // Buckets below 0 only occur as "previous of bucket 0"; `>>> 0` maps them to a value the
    // current bucket can never take within 2^32 buckets, and `_previousValid` is false then.
    const b = bucket >>> 0;
    inp[p++] = b >>> 24;
    inp[p++] = (b >>> 16) & 0xff;
    inp[p++] = (b >>> 8) & 0xff;
    inp[p++] = b & 0xff;
    mac.begin().update(inp.subarray(0, p)).digestInto(this._out);
  }
}
