/**
 * StreamingFecEncoder: Reed-Solomon repairs over a sliding window of DATA packets
 * (spec/fec.md). Pure: no clock, no I/O, no allocation per packet.
 */
import { checkInt, SluiceRangeError, SluiceStateError } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount, type SlotSource } from '../memory/types.js';
import { seqAdd } from '../seq.js';
import { cauchyCoefficient, FEC_MAX_WINDOW, FEC_REPAIR_INDEXES } from './cauchy.js';
import { FAST_KERNELS } from './kernels-generated.js';
import { FEC_MAX_PAYLOAD, fecSymbolLength, writeSourceSymbol } from './symbol.js';

/** Options of {@link StreamingFecEncoder}. */
export interface FecEncoderOptions {
  /** W: source packets covered by each repair, 1..128. Default {@link DEFAULT_FEC_WINDOW}. */
  window: number;
  /** N: repairs are emitted after every N source packets, 1..window. Default {@link DEFAULT_FEC_STEP}. Block mode: step = window. */
  step: number;
  /** R: repairs per emission, 1..128, with `repairs * ceil(window / step) <= 128`. Default {@link DEFAULT_FEC_REPAIRS}. */
  repairs: number;
  /** Largest DATA payload in bytes, 0..65492. Default {@link DEFAULT_FEC_MAX_PAYLOAD}. */
  maxPayload: number;
  /** Memory account charged for the symbol ring (default: detached). */
  account?: MemoryAccount;
  /**
   * Where the symbol ring comes from: a pool whose slots hold the whole ring
   * (`slotSize >= FecEncoder.ringBytes(options)`), so connections reuse rings instead of
   * allocating them. Without it (or when the pool is exhausted) the ring is allocated here.
   */
  ring?: SlotSource;
}

/** Default window W (source packets per repair). */
export const DEFAULT_FEC_WINDOW = 32;
/** Default step N (source packets between emissions). */
export const DEFAULT_FEC_STEP = 8;
/** Default repairs per emission R. */
export const DEFAULT_FEC_REPAIRS = 2;
/**
 * Default max payload: 1332 bytes, the largest DATA payload whose REPAIR still fits a 1400-byte
 * datagram (12 header + 12 REPAIR body + 1344 symbol + 16 tag = 1384).
 */
export const DEFAULT_FEC_MAX_PAYLOAD = 1332;

/**
 * Header fields of one repair, filled by {@link StreamingFecEncoder.pollRepair}: the REPAIR
 * packet body is `windowStart u32 | windowLength u16 | repairIndex u16 | symbolLength u16 |
 * reserved u16 | symbol`. A reusable view object: allocate one and pass it every time.
 */
export class RepairInfo {
  /** First source seq covered (u32). */
  windowStart = 0;
  /** Source packets covered, 1..128. */
  windowLength = 0;
  /** Cauchy row, 0..127. */
  repairIndex = 0;
  /** Bytes of symbol written (multiple of 32). */
  symbolLength = 0;
}

/** Counters of a {@link StreamingFecEncoder}. */
export interface FecEncoderStats {
  /** Source packets added. */
  sourcesAdded: number;
  /** Repairs written by pollRepair. */
  repairsEmitted: number;
  /** Repairs that were ready but never polled before the next emission replaced them. */
  repairsSkipped: number;
}

/**
 * Produces REPAIR symbols for a stream of DATA packets: after every `step` source packets,
 * `repairs` repairs become ready, each a Cauchy combination of the last `window` sources (fewer
 * at the start of the stream). Repairs are computed lazily in {@link pollRepair}, straight into
 * the caller's buffer (through one internal aligned scratch symbol).
 *
 * Memory: a ring of exactly `window + step` symbol slots of `fecSymbolLength(maxPayload)` bytes
 * (plus one scratch symbol), reserved on `account` in the constructor and returned by
 * {@link close}. Occupancy (`account.use`) counts the source symbols held.
 *
 * @example
 * const enc = new StreamingFecEncoder({ window: 16, step: 4, repairs: 2, maxPayload: 1200 });
 * const info = new RepairInfo();
 * const out = new Uint8Array(enc.maxSymbolLength);
 * if (enc.addSource(seq, flags, ts, frameLen, buf, 0, len) > 0) {
 *   let n;
 *   while ((n = enc.pollRepair(out, 0, info)) > 0) send(info, out.subarray(0, n));
 * }
 */
export class StreamingFecEncoder {
  /** Largest symbol a repair can carry: `fecSymbolLength(maxPayload)` bytes. Size `out` for it. */
  readonly maxSymbolLength: number;
  /** Window W. */
  readonly window: number;
  /** Step N. */
  readonly step: number;
  /** Repairs per emission R. */
  readonly repairs: number;
  /** Max payload in bytes. */
  readonly maxPayload: number;
  /** Counters (live object, read freely). */
  readonly stats: FecEncoderStats;

  private readonly _account: MemoryAccount;
  private readonly _reserved: number;
  /** Ring slots: window + step (the pending window plus the sources added before the next emission). */
  private readonly _slots: number;
  private readonly _slotWords: number;
  /** Source symbols, slot i at byte i * maxSymbolLength. Bytes past a symbol's length are 0. */
  private _ring: Uint8Array;
  /** The pool slot the ring lives in (null when allocated here), and its pool. */
  private _ringSlot: Uint8Array | null;
  private _ringPool: SlotSource | null;
  private _ring32: Uint32Array;
  /** Bytes of each slot that may be non-zero (for zeroing the tail when a slot is reused). */
  private _dirty: Uint16Array;
  /** Coded symbol length of each slot's source (fecSymbolLength of its payload). */
  private _symLen: Uint16Array;
  private _scratch: Uint8Array;
  private _scratch32: Uint32Array;
  /** `_scratchViews[b]` = the first b * 32 bytes of the scratch symbol. */
  private _scratchViews: Uint8Array[];
  private _started: boolean;
  /** Seq of the newest source added, and its ring slot (sources are consecutive, so slots are too). */
  private _last: number;
  private _lastSlot: number;
  /** Sources added so far, capped at window (to size the first windows). */
  private _held: number;
  /** Sources since the last emission. */
  private _sinceEmit: number;
  /** The pending emission: repairs [_pendingNext, _pRepairs) of window (_pStart, _pLen). */
  private _pendingNext: number;
  private _pRepairs: number;
  /** Geometry in use (setGeometry), within the constructed window, step and repairs. */
  private _wEff: number;
  private _sEff: number;
  private _rEff: number;
  private _pStart: number;
  /** Ring slot of `_pStart`. */
  private _pSlot: number;
  private _pLen: number;
  private _pSymLen: number;
  private _nextIndex: number;
  private _closed: boolean;

  /**
   * @throws SluiceTypeError / SluiceRangeError when an option is missing, not an integer or out
   *   of range (the message names it and the range), or when `repairs * ceil(window / step) > 128`.
   * @throws BudgetExceededError when `account` refuses the reservation.
   */
  /** Bytes of the symbol ring an encoder with these options holds (size a `ring` pool's slots with it). */
  static ringBytes(options: Pick<FecEncoderOptions, 'window' | 'step' | 'maxPayload'>): number {
    return (options.window + options.step) * fecSymbolLength(options.maxPayload);
  }

  constructor(options: FecEncoderOptions) {
    const window = checkInt('FecEncoderOptions.window', options.window ?? DEFAULT_FEC_WINDOW, 1, FEC_MAX_WINDOW);
    const step = checkInt('FecEncoderOptions.step', options.step ?? DEFAULT_FEC_STEP, 1, window);
    const repairs = checkInt('FecEncoderOptions.repairs', options.repairs ?? DEFAULT_FEC_REPAIRS, 1, FEC_REPAIR_INDEXES);
    const maxPayload = checkInt('FecEncoderOptions.maxPayload', options.maxPayload ?? DEFAULT_FEC_MAX_PAYLOAD, 0, FEC_MAX_PAYLOAD);
    const overlap = Math.ceil(window / step);
    if (repairs * overlap > FEC_REPAIR_INDEXES) {
      throw new SluiceRangeError(
        `FecEncoderOptions.repairs: expected repairs * ceil(window / step) <= ${FEC_REPAIR_INDEXES} (so overlapping repairs have distinct Cauchy rows), got ${repairs} * ${overlap}`,
      );
    }
    this.window = window;
    this.step = step;
    this.repairs = repairs;
    this.maxPayload = maxPayload;
    this.maxSymbolLength = fecSymbolLength(maxPayload);
    this.stats = { sourcesAdded: 0, repairsEmitted: 0, repairsSkipped: 0 };
    this._account = options.account ?? DETACHED_ACCOUNT;
    // window + step slots: the sources of the pending emission (at most `window`) stay intact
    // while the up to step - 1 sources added before the next emission are written. Not rounded
    // to a power of two (that cost a third more at the default 64 + 32): slots are indexed by a
    // running counter, which the consecutive sequence numbers allow.
    const slots = window + step;
    this._slots = slots;
    this._slotWords = this.maxSymbolLength >>> 2;
    const ringBytes = slots * this.maxSymbolLength;
    const pooled = options.ring !== undefined && options.ring.slotSize >= ringBytes ? options.ring.acquire() : null;
    // A pooled ring is reserved by the pool's account and held (used) by ours.
    this._reserved = (pooled === null ? ringBytes : 0) + this.maxSymbolLength + slots * 4;
    this._account.reserve(this._reserved);
    this._ringSlot = pooled;
    this._ringPool = pooled === null ? null : options.ring!;
    if (pooled !== null) {
      pooled.fill(0, 0, ringBytes);
      this._account.use(ringBytes, 0);
    }
    this._ring = pooled === null ? new Uint8Array(ringBytes) : pooled.subarray(0, ringBytes);
    this._ring32 = new Uint32Array(this._ring.buffer, this._ring.byteOffset, ringBytes >>> 2);
    this._dirty = new Uint16Array(slots);
    this._symLen = new Uint16Array(slots);
    this._scratch = new Uint8Array(this.maxSymbolLength);
    this._scratch32 = new Uint32Array(this._scratch.buffer);
    this._scratchViews = [];
    for (let b = 0; b <= this.maxSymbolLength >>> 5; b++) this._scratchViews.push(this._scratch.subarray(0, b * 32));
    this._account.setCapacity(window * this.maxSymbolLength, window);
    this._started = false;
    this._last = 0;
    this._lastSlot = slots - 1;
    this._held = 0;
    this._sinceEmit = 0;
    this._pendingNext = repairs;
    this._pRepairs = repairs;
    this._wEff = window;
    this._sEff = step;
    this._rEff = repairs;
    this._pStart = 0;
    this._pSlot = 0;
    this._pLen = 0;
    this._pSymLen = 0;
    this._nextIndex = 0;
    this._closed = false;
  }

  /**
   * Adds one DATA packet as sent (before the RETRANSMIT bit: only FIRST/LAST/KEYFRAME are kept).
   * The payload `payload[offset..offset+length)` is copied; the caller keeps ownership.
   * Retransmissions must NOT be added again (they carry the same seq).
   * @param seq u32, must be the previous seq + 1 (mod 2^32); any seq for the first call.
   * @param timestamp u32 media clock (us); frameLength u32.
   * @returns the number of repairs ready to poll (R right after every step-th source, else the
   *   number still unpolled).
   * @throws SluiceRangeError on a sequence gap, a payload longer than maxPayload or a bad range;
   *   SluiceStateError after close().
   */
  addSource(
    seq: number,
    flags: number,
    timestamp: number,
    frameLength: number,
    payload: Uint8Array,
    offset: number,
    length: number,
  ): number {
    if (this._closed) throw new SluiceStateError('StreamingFecEncoder.addSource: encoder is closed');
    if (length > this.maxPayload || length < 0 || offset < 0 || offset + length > payload.length) {
      throw new SluiceRangeError(
        `StreamingFecEncoder.addSource: expected length in [0, ${this.maxPayload}] within payload (length ${payload.length}), got offset ${offset} length ${length}`,
      );
    }
    if (this._started && seq !== seqAdd(this._last, 1)) {
      throw new SluiceRangeError(
        `StreamingFecEncoder.addSource: expected seq ${seqAdd(this._last, 1)} (previous + 1), got ${seq}`,
      );
    }
    this._started = true;
    this._last = seq >>> 0;
    const slot = this._lastSlot + 1 === this._slots ? 0 : this._lastSlot + 1;
    this._lastSlot = slot;
    const base = slot * this.maxSymbolLength;
    const written = writeSourceSymbol(this._ring, base, flags, timestamp >>> 0, frameLength >>> 0, payload, offset, length);
    const dirty = this._dirty[slot]!;
    if (dirty > written) this._ring.fill(0, base + written, base + dirty);
    this._dirty[slot] = written;
    this._symLen[slot] = fecSymbolLength(length);
    this.stats.sourcesAdded++;
    if (this._held < this.window) {
      this._held++;
      this._account.use(this.maxSymbolLength, 1);
    }
    if (++this._sinceEmit < this._sEff) return this._pRepairs - this._pendingNext;
    // A window covers at least every source since the previous emission: right after a switch
    // to a shorter window (setGeometry) those can outnumber it, and would be covered by nothing.
    const want = this._sinceEmit > this._wEff ? this._sinceEmit : this._wEff;
    this._sinceEmit = 0;
    if (this._pendingNext < this._pRepairs) this.stats.repairsSkipped += this._pRepairs - this._pendingNext;
    const len = this._held < want ? this._held : want;
    this._pLen = len;
    this._pStart = seqAdd(this._last, 1 - len);
    const first = slot + 1 - len;
    this._pSlot = first < 0 ? first + this._slots : first;
    let symLen = 0;
    for (let i = 0, k = this._pSlot; i < this._pLen; i++, k = k + 1 === this._slots ? 0 : k + 1) {
      const l = this._symLen[k]!;
      if (l > symLen) symLen = l;
    }
    this._pSymLen = symLen;
    this._pendingNext = 0;
    this._pRepairs = this._rEff;
    return this._rEff;
  }

  /**
   * Writes the next ready repair symbol into `out[offset .. offset + info.symbolLength)` and fills
   * `info` (the REPAIR header fields). `out` is caller-owned and overwritten in that range only.
   * @returns symbolLength (> 0), or 0 when no repair is ready (out and info untouched).
   * @throws SluiceRangeError when the symbol does not fit in `out` after `offset` (size `out` for
   *   {@link maxSymbolLength} to never see this); SluiceStateError after close().
   */
  pollRepair(out: Uint8Array, offset: number, info: RepairInfo): number {
    if (this._closed) throw new SluiceStateError('StreamingFecEncoder.pollRepair: encoder is closed');
    if (this._pendingNext >= this._pRepairs) return 0;
    const symLen = this._pSymLen;
    if (offset < 0 || offset + symLen > out.length) {
      throw new SluiceRangeError(
        `StreamingFecEncoder.pollRepair: expected ${symLen} bytes of room in out after offset, got offset ${offset} in ${out.length} bytes`,
      );
    }
    const index = this._nextIndex;
    this._nextIndex = (index + 1) & (FEC_REPAIR_INDEXES - 1);
    this._pendingNext++;
    const blocks = symLen >>> 5;
    const words = symLen >>> 2;
    const scratch32 = this._scratch32;
    scratch32.fill(0, 0, words);
    const ring32 = this._ring32;
    const start = this._pStart;
    const slots = this._slots;
    const slotWords = this._slotWords;
    for (let i = 0, k = this._pSlot; i < this._pLen; i++, k = k + 1 === slots ? 0 : k + 1) {
      const seq = (start + i) >>> 0;
      FAST_KERNELS[cauchyCoefficient(seq, index)]!(ring32, k * slotWords, scratch32, 0, blocks);
    }
    // A preallocated view per possible length: the copy out is a memcpy with no allocation.
    out.set(this._scratchViews[blocks]!, offset);
    info.windowStart = start;
    info.windowLength = this._pLen;
    info.repairIndex = index;
    info.symbolLength = symLen;
    this.stats.repairsEmitted++;
    return symLen;
  }

  /** Repairs ready to poll. */
  get pendingRepairs(): number {
    return this._pRepairs - this._pendingNext;
  }

  /** Window in use: source packets each emission covers (see {@link setGeometry}). */
  get geometryWindow(): number {
    return this._wEff;
  }

  /**
   * Changes the window, step and repairs of the emissions from the next one on, within what the
   * encoder was built for (the ring holds window + step of the constructed geometry): a sender
   * whose packet rate changes keeps its windows spanning the same time. The decoder takes each
   * repair's window from the REPAIR packet, so nothing is negotiated.
   * @throws SluiceRangeError when `window` is not in [1, this.window], `step` not in
   *   [1, window] or `window + step` exceeds the ring, or `repairs * ceil(window / step)`
   *   exceeds 128 or `repairs` is below 1.
   */
  setGeometry(window: number, step: number, repairs: number): void {
    window = checkInt('setGeometry window', window, 1, this.window);
    step = checkInt('setGeometry step', step, 1, Math.min(window, this._slots - window));
    repairs = checkInt('setGeometry repairs', repairs, 1, Math.floor(FEC_REPAIR_INDEXES / Math.ceil(window / step)));
    this._wEff = window;
    this._sEff = step;
    this._rEff = repairs;
  }

  /** Releases the ring and returns every reserved byte to the account. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._account.use(-this._held * this.maxSymbolLength, -this._held);
    this._held = 0;
    this._account.unreserve(this._reserved);
    if (this._ringSlot !== null) {
      this._account.use(-this._ring.length, 0);
      this._ringPool!.release(this._ringSlot);
      this._ringSlot = null;
    }
    this._ring = new Uint8Array(0);
    this._ring32 = new Uint32Array(0);
    this._scratch = new Uint8Array(0);
    this._scratch32 = new Uint32Array(0);
    this._scratchViews = [];
    this._dirty = new Uint16Array(0);
    this._symLen = new Uint16Array(0);
  }
}

