/**
 * {@link PacketProtector} on node:crypto (OpenSSL): the same HMAC-SHA256-128 tags as the pure
 * protector in src/core/auth (bit-identical; the two interoperate), about 2-3x faster, plus an
 * optional AEAD mode that also encrypts the payload.
 *
 * AEAD mode (RFC 5116 interface): ChaCha20-Poly1305 (RFC 8439; default, 32-byte key) or
 * AES-128-GCM (NIST SP 800-38D; the first 16 bytes of the 32-byte key, which is exactly what
 * HKDF-Expand would output for L = 16). Per packet:
 * - nonce (12 bytes) = direction u32 || packetIndex u64, big-endian (protector.ts);
 * - AAD = the header bytes `[offset, payloadOffset)`;
 * - plaintext = `[payloadOffset, offset+length-16)`, encrypted in place;
 * - the 16-byte AEAD tag goes into the tag slot.
 * Distinct keys per direction plus the direction word make a (key, nonce) pair unique as long
 * as packet indices never repeat under one key, which the index (not the 32-bit field) ensures.
 *
 * HMAC mode per packet: the MAC input (packet bytes before the tag, then the nonce) is copied
 * after the key's inner pad in a preallocated scratch buffer and hashed with the one-shot
 * `crypto.hash()` twice (inner, then outer pad || inner digest), digests returned as latin1
 * strings: RFC 2104 spelled out, the same tags as `createHmac`, without an Hmac object (a C++
 * object with its key set-up, freed by the garbage collector) nor an off-heap result Buffer per
 * packet: measured here 3.5 -> 1.8 us CPU per 1300-byte tag on a busy heap. Where
 * `crypto.hash` is missing (Node < 20.12) or a packet is larger than the scratch, `createHmac`.
 *
 * Allocation: node:crypto returns result Buffers (and in AEAD mode creates a Cipher object) per
 * packet; there is no into-the-caller's-buffer API. Keys are imported once. A forged AEAD packet
 * costs one caught exception (`final()` throws on a bad tag; Node offers no other signal).
 */
import * as nodeCrypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { SluiceRangeError, SluiceStateError } from '../core/errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount } from '../core/memory/types.js';
import { checkKey } from '../core/auth/prekeyed-hmac.js';
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
} from '../core/auth/protector.js';

/** AEAD algorithms of the node:crypto protector. */
export type AeadAlgorithm = 'chacha20-poly1305' | 'aes-128-gcm';
/** Default AEAD: ChaCha20-Poly1305 (constant-time in software, no AES-NI needed). */
export const DEFAULT_AEAD_ALGORITHM: AeadAlgorithm = 'chacha20-poly1305';
/** Default protection mode: authenticate only. */
export const DEFAULT_PROTECTION_MODE: ProtectionMode = 'hmac';
/** Largest MAC input (packet bytes before the tag + nonce) hashed through the scratch buffer. */
const MAC_SCRATCH_BYTES = 2048;
/** SHA-256 block size: the HMAC key pads. */
const SHA256_BLOCK = 64;
/** Bytes a {@link NodeProtector} reserves (nonce and tag scratch, the key, the HMAC scratch). */
export const NODE_PROTECTOR_BYTES = PACKET_NONCE_LENGTH + 2 * TAG_LENGTH + 32 + SHA256_BLOCK + MAC_SCRATCH_BYTES + SHA256_BLOCK + 32;

type OneShotHash = (algorithm: string, data: Uint8Array, outputEncoding: 'latin1') => string;
/** `crypto.hash` (Node >= 20.12 / 21.7), or null. */
const oneShotHash: OneShotHash | null =
  typeof (nodeCrypto as { hash?: unknown }).hash === 'function' ? ((nodeCrypto as unknown as { hash: OneShotHash }).hash) : null;

/** Options of {@link NodeProtector}. */
export interface NodeProtectorOptions {
  /** `'hmac'` (default) or `'aead'`. */
  readonly mode?: ProtectionMode;
  /** AEAD algorithm when `mode === 'aead'`; default `'chacha20-poly1305'`. */
  readonly aead?: AeadAlgorithm;
  /** Nonce direction word: 0 = client to server (default), 1 = server to client. */
  readonly direction?: 0 | 1;
  /** Account charged for the protector's state (default: detached). */
  readonly account?: MemoryAccount;
}

const _AEAD_OPTIONS = { authTagLength: TAG_LENGTH };

/**
 * node:crypto packet protector for one key and one direction.
 *
 * Ownership: `buf` is read and written (tag slot; payload in AEAD mode) during the call only.
 * @example
 * const tx = new NodeProtector(keys.c2s, { mode: 'aead', direction: 0 });
 * const rx = new NodeProtector(keys.c2s, { mode: 'aead', direction: 0 });
 * tx.protect(pkt, 0, pkt.length, 24, idx); // payload encrypted, tag written
 * rx.open(pkt, 0, pkt.length, 24, idx);    // true, payload decrypted in place
 */
export class NodeProtector implements PacketProtector {
  readonly tagLength = TAG_LENGTH;
  readonly mode: ProtectionMode;
  /** AEAD algorithm in use, or null in HMAC mode. */
  readonly aead: AeadAlgorithm | null;
  readonly direction: 0 | 1;
  private readonly _key: KeyObject;
  private readonly _nonce: Buffer;
  /** The received tag, kept aside while the nonce occupies its slot (open, HMAC mode). */
  private readonly _tag: Uint8Array;
  /** HMAC mode: key XOR ipad, then room for the MAC input. */
  private readonly _inner: Buffer;
  /** HMAC mode: key XOR opad, then the inner digest. */
  private readonly _outer: Buffer;
  /** HMAC mode: the truncated MAC of the last packet. */
  private readonly _mac16: Uint8Array;
  private readonly _account: MemoryAccount;
  private _closed: boolean;

  /**
   * @param key - at least 16 bytes for HMAC and AES-128-GCM, at least 32 for ChaCha20-Poly1305
   *   (sluice's derived keys are 32); copied, not retained.
   * @throws SluiceTypeError / SluiceRangeError naming `key`, `mode`, `aead` or `direction`.
   */
  constructor(key: Uint8Array, options: NodeProtectorOptions = {}) {
    const mode = options.mode ?? DEFAULT_PROTECTION_MODE;
    if (mode !== 'hmac' && mode !== 'aead') {
      throw new SluiceRangeError(`mode: expected 'hmac' or 'aead', got ${JSON.stringify(mode)}`);
    }
    const aead = options.aead ?? DEFAULT_AEAD_ALGORITHM;
    if (aead !== 'chacha20-poly1305' && aead !== 'aes-128-gcm') {
      throw new SluiceRangeError(`aead: expected 'chacha20-poly1305' or 'aes-128-gcm', got ${JSON.stringify(aead)}`);
    }
    const direction = options.direction ?? 0;
    if (direction !== 0 && direction !== 1) {
      throw new SluiceRangeError(`direction: expected 0 (client to server) or 1 (server to client), got ${String(direction)}`);
    }
    checkKey('key', key);
    let keyBytes = key;
    if (mode === 'aead') {
      const need = aead === 'chacha20-poly1305' ? 32 : 16;
      if (key.length < need) {
        throw new SluiceRangeError(`key: ${aead} needs a key of at least ${need} bytes, got length=${key.length}`);
      }
      keyBytes = key.subarray(0, need);
    }
    this.mode = mode;
    this.aead = mode === 'aead' ? aead : null;
    this.direction = direction;
    this._account = options.account ?? DETACHED_ACCOUNT;
    this._account.reserve(NODE_PROTECTOR_BYTES);
    this._key = createSecretKey(keyBytes);
    this._nonce = Buffer.alloc(PACKET_NONCE_LENGTH);
    this._tag = new Uint8Array(TAG_LENGTH);
    this._inner = Buffer.alloc(SHA256_BLOCK + MAC_SCRATCH_BYTES);
    this._outer = Buffer.alloc(SHA256_BLOCK + 32);
    this._mac16 = new Uint8Array(TAG_LENGTH);
    if (mode === 'hmac') {
      // RFC 2104: a key longer than the block is hashed first, a shorter one zero-padded.
      const k = key.length > SHA256_BLOCK ? nodeCrypto.createHash('sha256').update(key).digest() : key;
      for (let i = 0; i < SHA256_BLOCK; i++) {
        const b = i < k.length ? k[i]! : 0;
        this._inner[i] = b ^ 0x36;
        this._outer[i] = b ^ 0x5c;
      }
    }
    this._closed = false;
  }

  /** HMAC-SHA256 of `buf[from, to)`, its first 16 bytes into `this._mac16`. */
  private _macInto(buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    const mac16 = this._mac16;
    if (oneShotHash === null || n > MAC_SCRATCH_BYTES) {
      const mac = createHmac('sha256', this._key).update(buf.subarray(from, to)).digest();
      for (let i = 0; i < TAG_LENGTH; i++) mac16[i] = mac[i]!;
      return;
    }
    const inner = this._inner;
    inner.set(buf.subarray(from, to), SHA256_BLOCK);
    // Digests as latin1 strings (one char per byte, on the JS heap): a Buffer result would be
    // an off-heap allocation per call (measured: 3.0 -> 1.8 us per tag).
    const outer = this._outer;
    outer.write(oneShotHash('sha256', inner.subarray(0, SHA256_BLOCK + n), 'latin1'), SHA256_BLOCK, 32, 'latin1');
    const mac = oneShotHash('sha256', outer, 'latin1');
    for (let i = 0; i < TAG_LENGTH; i++) mac16[i] = mac.charCodeAt(i);
  }

  /**
   * Writes the tag (and in AEAD mode encrypts the payload region in place).
   * @throws SluiceRangeError / SluiceTypeError on a bad region or packet number;
   *   SluiceStateError after {@link close}.
   */
  protect(buf: Uint8Array, offset: number, length: number, payloadOffset: number, packetNumber: number): void {
    if (this._closed) throw new SluiceStateError('NodeProtector: protect() after close()');
    if (!validRegion(buf, offset, length, payloadOffset, packetNumber)) {
      throwBadRegion(buf, offset, length, payloadOffset, packetNumber);
    }
    const tagAt = offset + length - TAG_LENGTH;
    if (this.aead === null) {
      // MAC input = packet bytes before the tag || nonce. The nonce is written into the tag
      // slot so that the input is one contiguous region (one update() call, one view).
      writePacketNonce(buf, tagAt, this.direction, packetNumber);
      this._macInto(buf, offset, tagAt + PACKET_NONCE_LENGTH);
      const mac = this._mac16;
      for (let i = 0; i < TAG_LENGTH; i++) buf[tagAt + i] = mac[i]!;
      return;
    }
    writePacketNonce(this._nonce, 0, this.direction, packetNumber);
    const cipher =
      this.aead === 'aes-128-gcm'
        ? createCipheriv('aes-128-gcm', this._key, this._nonce, _AEAD_OPTIONS)
        : createCipheriv('chacha20-poly1305', this._key, this._nonce, _AEAD_OPTIONS);
    cipher.setAAD(buf.subarray(offset, payloadOffset));
    if (payloadOffset < tagAt) buf.set(cipher.update(buf.subarray(payloadOffset, tagAt)), payloadOffset);
    cipher.final();
    buf.set(cipher.getAuthTag(), tagAt);
  }

  /**
   * Verifies the tag in constant time; in AEAD mode decrypts the payload in place only after the
   * tag verified (a forged packet leaves `buf` untouched). Never throws.
   */
  open(buf: Uint8Array, offset: number, length: number, payloadOffset: number, packetNumber: number): boolean {
    if (this._closed || !validRegion(buf, offset, length, payloadOffset, packetNumber)) return false;
    const tagAt = offset + length - TAG_LENGTH;
    if (this.aead === null) {
      // As in protect(): the nonce goes into the tag slot for the MAC, the received tag is kept
      // aside and put back (the buffer is left as it came).
      const tag = this._tag;
      for (let i = 0; i < TAG_LENGTH; i++) tag[i] = buf[tagAt + i]!;
      writePacketNonce(buf, tagAt, this.direction, packetNumber);
      this._macInto(buf, offset, tagAt + PACKET_NONCE_LENGTH);
      for (let i = 0; i < PACKET_NONCE_LENGTH; i++) buf[tagAt + i] = tag[i]!;
      return constantTimeEqual(tag, 0, this._mac16, 0, TAG_LENGTH);
    }
    writePacketNonce(this._nonce, 0, this.direction, packetNumber);
    try {
      const decipher =
        this.aead === 'aes-128-gcm'
          ? createDecipheriv('aes-128-gcm', this._key, this._nonce, _AEAD_OPTIONS)
          : createDecipheriv('chacha20-poly1305', this._key, this._nonce, _AEAD_OPTIONS);
      decipher.setAuthTag(buf.subarray(tagAt, tagAt + TAG_LENGTH));
      decipher.setAAD(buf.subarray(offset, payloadOffset));
      const plain = payloadOffset < tagAt ? decipher.update(buf.subarray(payloadOffset, tagAt)) : null;
      decipher.final(); // throws on a bad tag (OpenSSL compares the tag in constant time)
      if (plain !== null) buf.set(plain, payloadOffset);
      return true;
    } catch {
      return false;
    }
  }

  /** Returns the reservation; further `protect` throws and `open` returns false. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._account.unreserve(NODE_PROTECTOR_BYTES);
  }
}

/**
 * {@link ProtectorFactory} backed by node:crypto. `'aead'` uses ChaCha20-Poly1305.
 * @example const tx = createNodeProtector(keys.c2s, 'aead', 0);
 */
export const createNodeProtector: ProtectorFactory = (key: Uint8Array, mode: ProtectionMode, direction: 0 | 1 = 0) =>
  new NodeProtector(key, { mode, direction });
