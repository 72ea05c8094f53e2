/**
 * The portable packet protector: HMAC-SHA256 from `@noble/hashes`, truncated to 16 bytes,
 * pre-keyed (see prekeyed-hmac.ts). Pure: runs wherever the core runs. src/io/node-protector.ts
 * implements the same interface with node:crypto (faster, and with an AEAD mode).
 *
 * MAC input: `bytes[offset, offset+length-16) || direction u32 || packetIndex u64` (big-endian),
 * see protector.ts for why the index and direction are bound.
 */
import { DETACHED_ACCOUNT, type MemoryAccount } from '../memory/types.js';
import { SluiceRangeError, SluiceStateError } from '../errors.js';
import { HMAC_SHA256_LENGTH, PREKEYED_HMAC_BYTES, PrekeyedHmac } from './prekeyed-hmac.js';
import {
  PACKET_NONCE_LENGTH,
  TAG_LENGTH,
  constantTimeEqual,
  throwBadRegion,
  validRegion,
  writePacketNonce,
  type PacketProtector,
  type ProtectionMode,
  type ProtectorFactory,
} from './protector.js';

/** Options of {@link HmacProtector}. */
export interface HmacProtectorOptions {
  /** Nonce direction word: 0 = client to server (default), 1 = server to client. */
  readonly direction?: 0 | 1;
  /** Account charged for the protector's state (default: detached). */
  readonly account?: MemoryAccount;
}

/** Default direction of a protector: 0 (client to server). */
export const DEFAULT_DIRECTION = 0;

/** Bytes one {@link HmacProtector} reserves: keyed states plus its nonce and MAC scratch. */
export const HMAC_PROTECTOR_BYTES = PREKEYED_HMAC_BYTES + PACKET_NONCE_LENGTH + HMAC_SHA256_LENGTH;

/**
 * HMAC-SHA256-128 packet protector (pure).
 *
 * Ownership: `buf` is read (and its tag slot written by `protect`) during the call only.
 * @example
 * const p = new HmacProtector(keys.c2s, { direction: 0 });
 * p.protect(datagram, 0, datagram.length, 12, packetIndex); // writes the last 16 bytes
 * receiverSide.open(datagram, 0, datagram.length, 12, packetIndex); // true
 */
export class HmacProtector implements PacketProtector {
  readonly tagLength = TAG_LENGTH;
  /** Direction word of the nonce (0 or 1). */
  readonly direction: 0 | 1;
  private readonly _mac: PrekeyedHmac;
  private readonly _nonce: Uint8Array;
  private readonly _out: Uint8Array;
  private readonly _account: MemoryAccount;
  private _closed: boolean;

  /**
   * @param key - at least 16 bytes (sluice's derived keys are 32); not retained.
   * @throws SluiceTypeError / SluiceRangeError naming `key` or `direction`.
   */
  constructor(key: Uint8Array, options: HmacProtectorOptions = {}) {
    const direction = options.direction ?? DEFAULT_DIRECTION;
    if (direction !== 0 && direction !== 1) {
      throw new SluiceRangeError(`direction: expected 0 (client to server) or 1 (server to client), got ${String(direction)}`);
    }
    this.direction = direction;
    this._account = options.account ?? DETACHED_ACCOUNT;
    this._account.reserve(HMAC_PROTECTOR_BYTES);
    try {
      this._mac = new PrekeyedHmac(key);
    } catch (err) {
      this._account.unreserve(HMAC_PROTECTOR_BYTES);
      throw err;
    }
    this._nonce = new Uint8Array(PACKET_NONCE_LENGTH);
    this._out = new Uint8Array(HMAC_SHA256_LENGTH);
    this._closed = false;
  }

  /**
   * Writes the 16-byte tag of `buf[offset, offset+length-16)` into the last 16 bytes of the
   * region. `payloadOffset` is only validated (HMAC mode encrypts nothing).
   * @throws SluiceRangeError / SluiceTypeError on a bad region or packet number;
   *   SluiceStateError after {@link close}.
   */
  protect(buf: Uint8Array, offset: number, length: number, payloadOffset: number, packetNumber: number): void {
    if (this._closed) throw new SluiceStateError('HmacProtector: protect() after close()');
    if (!validRegion(buf, offset, length, payloadOffset, packetNumber)) {
      throwBadRegion(buf, offset, length, payloadOffset, packetNumber);
    }
    const tagAt = offset + length - TAG_LENGTH;
    this._compute(buf, offset, tagAt, packetNumber);
    buf.set(this._out.subarray(0, TAG_LENGTH), tagAt);
  }

  /**
   * Verifies the tag in constant time. Never throws; false for a forged, mangled or malformed
   * packet, a bad region, or after {@link close}.
   */
  open(buf: Uint8Array, offset: number, length: number, payloadOffset: number, packetNumber: number): boolean {
    if (this._closed || !validRegion(buf, offset, length, payloadOffset, packetNumber)) return false;
    const tagAt = offset + length - TAG_LENGTH;
    this._compute(buf, offset, tagAt, packetNumber);
    return constantTimeEqual(buf, tagAt, this._out, 0, TAG_LENGTH);
  }

  /** Wipes the key state and returns the reservation. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._mac.dispose();
    this._out.fill(0);
    this._account.unreserve(HMAC_PROTECTOR_BYTES);
  }

  private _compute(buf: Uint8Array, start: number, end: number, index: number): void {
    writePacketNonce(this._nonce, 0, this.direction, index);
    this._mac.begin();
    this._mac.update(buf.subarray(start, end));
    this._mac.update(this._nonce);
    this._mac.digestInto(this._out);
  }
}

/**
 * {@link ProtectorFactory} for the pure protector. Supports `'hmac'` only.
 * @throws SluiceRangeError naming `mode` for `'aead'` (use `createNodeProtector` from src/io).
 * @example const p = createHmacProtector(keys.s2c, 'hmac', 1);
 */
export const createHmacProtector: ProtectorFactory = (key: Uint8Array, mode: ProtectionMode, direction: 0 | 1 = 0) => {
  if (mode !== 'hmac') {
    throw new SluiceRangeError(
      `mode: the pure protector supports 'hmac' only, got ${JSON.stringify(mode)} (use the node:crypto protector for 'aead')`,
    );
  }
  return new HmacProtector(key, { direction });
};
