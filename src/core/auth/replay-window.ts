/**
 * Anti-replay sliding window over 32-bit packet numbers (RFC 4303 §3.4.3, with the block-ring
 * bitmap of RFC 6479 so that sliding costs O(blocks crossed), not O(width) bit shifts).
 *
 * The window works on *packet indices* (see protector.ts): the 32-bit header field is extended
 * to the index closest to the highest index seen so far (`unwrap32` from seq.ts, RFC 1982
 * arithmetic; the ESP extended-sequence-number guess of RFC 4303 Appendix A works the same way).
 * So the window slides across 2^32 seamlessly, and a packet recorded 2^32 packets ago maps to an
 * index whose tag no longer verifies.
 *
 * Receive path, per packet:
 * ```ts
 * const idx = win.index(pn);              // full index, for the protector's nonce
 * if (!win.check(pn)) drop('replay');     // duplicate or older than the window
 * else if (!prot.open(buf, o, n, p, idx)) drop('auth');
 * else win.commit(pn);                    // record only what verified
 * ```
 * Only authenticated packets move the window, so a forger cannot push it forward and make
 * genuine packets look old.
 *
 * Packet indices of one key start at 0 (index = header value until the first wrap).
 */
import { checkPowerOfTwo, SluiceStateError } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount } from '../memory/types.js';
import { unwrap32 } from '../seq.js';

/** Default window width in packets. */
export const DEFAULT_REPLAY_WINDOW = 1024;
/** Smallest allowed width (one 32-bit block). */
export const MIN_REPLAY_WINDOW = 32;
/** Largest allowed width. */
export const MAX_REPLAY_WINDOW = 1 << 20;

/** Counters of a {@link ReplayWindow}; one object, updated in place. */
export interface ReplayWindowStats {
  /** Packets recorded by `commit`. */
  committed: number;
  /** `check` calls rejected because the packet was already recorded. */
  duplicates: number;
  /** `check` calls rejected because the packet is `width` or more behind the highest index. */
  tooOld: number;
  /** Highest index recorded, -1 before the first commit. */
  highest: number;
}

/**
 * Sliding anti-replay bitmap of `width` packets.
 *
 * Memory: a ring of `2 * width / 32` 32-bit words (256 bytes at the default width), reserved
 * on `account`. No allocation after construction.
 * @example
 * const win = new ReplayWindow(1024);
 * win.check(7); // true
 * win.commit(7);
 * win.check(7); // false (replay)
 */
export class ReplayWindow {
  /** Window width in packets (a power of two). */
  readonly width: number;
  /** Counters, updated in place (hold on to the object, it stays current). */
  readonly stats: ReplayWindowStats;
  private readonly _ring: Uint32Array;
  private readonly _mask: number;
  private readonly _account: MemoryAccount;
  private readonly _bytes: number;
  private _closed: boolean;

  /**
   * @param width - window width in packets, a power of two in [32, 2^20]; default 1024.
   * @param account - charged for the bitmap (default: detached).
   * @throws SluiceTypeError / SluiceRangeError naming `width`.
   */
  constructor(width: number = DEFAULT_REPLAY_WINDOW, account: MemoryAccount = DETACHED_ACCOUNT) {
    this.width = checkPowerOfTwo('width', width, MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW);
    // Twice the window in blocks: a power of two (mask indexing) with at least one spare block,
    // which RFC 6479 needs so the block holding the oldest in-window bit is never recycled by
    // the block the window slides into.
    const words = (2 * this.width) / 32;
    this._bytes = words * 4;
    this._account = account;
    account.reserve(this._bytes);
    this._ring = new Uint32Array(words);
    this._mask = words - 1;
    this._closed = false;
    this.stats = { committed: 0, duplicates: 0, tooOld: 0, highest: -1 };
  }

  /**
   * The packet index of header packet number `pn` (u32): the index nearest the highest
   * recorded one (equal to `pn` before anything is recorded). May be negative for a packet
   * "before index 0", which {@link check} rejects. Pure function of the state; no counting.
   */
  index(pn: number): number {
    const h = this.stats.highest;
    return h < 0 ? pn >>> 0 : unwrap32(h, pn >>> 0);
  }

  /**
   * True when `pn` is fresh: ahead of the window or inside it and not yet recorded. Records
   * nothing (call {@link commit} once the tag verified). Counts rejections in {@link stats}.
   * Never throws.
   */
  check(pn: number): boolean {
    const idx = this.index(pn);
    const h = this.stats.highest;
    if (idx > h) return true;
    if (idx < 0 || h - idx >= this.width) {
      this.stats.tooOld++;
      return false;
    }
    const word = this._ring[Math.floor(idx / 32) & this._mask] as number;
    if ((word >>> idx % 32) & 1) {
      this.stats.duplicates++;
      return false;
    }
    return true;
  }

  /**
   * Records `pn` as received, sliding the window forward when it is the new highest. Call only
   * after the packet authenticated. Recording a packet outside the window (or twice) is a no-op.
   * @throws SluiceStateError after {@link close}.
   */
  commit(pn: number): void {
    if (this._closed) throw new SluiceStateError('ReplayWindow: commit() after close()');
    const idx = this.index(pn);
    const h = this.stats.highest;
    const ring = this._ring;
    const block = Math.floor(idx / 32);
    if (idx > h) {
      // Clear the blocks the window slides into (RFC 6479 §2): each becomes the newest block.
      const oldBlock = h < 0 ? -1 : Math.floor(h / 32);
      const crossed = block - oldBlock;
      if (crossed >= ring.length) ring.fill(0);
      else for (let b = oldBlock + 1; b <= block; b++) ring[b & this._mask] = 0;
      this.stats.highest = idx;
    } else if (idx < 0 || h - idx >= this.width) {
      return;
    }
    const at = block & this._mask;
    const bit = 1 << idx % 32;
    if (((ring[at] as number) & bit) !== 0) return;
    ring[at] = (ring[at] as number) | bit;
    this.stats.committed++;
  }

  /** Returns the bitmap's reservation; further commits throw. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._account.unreserve(this._bytes);
  }
}
