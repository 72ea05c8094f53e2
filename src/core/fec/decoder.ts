/**
 * StreamingFecDecoder: recovers lost DATA packets from REPAIR packets of the sliding-window
 * Cauchy code (spec/fec.md). Pure: no clock, no I/O, no allocation per packet.
 *
 * How it works (spec/fec.md, "Decoding"):
 * - Source symbols received (or recovered) are kept in a ring of `span` slots: the decoder needs
 *   them to subtract known packets out of repairs.
 * - A repair whose window lost nothing is counted as useless and dropped at once: no payload work.
 *   Otherwise it becomes a pending equation (its symbol is copied into an equation slot).
 * - A source that arrives (original or retransmission) only decrements the unknown count of the
 *   equations that cover it; an equation left with no unknown is dropped, again with no payload
 *   work. Known packets are subtracted from an equation lazily, just before it is used.
 * - After every change that can make something solvable, the decoder runs Gauss-Jordan
 *   elimination over GF(2^8) on the coefficient matrix of ALL pending equations (unknown columns
 *   only, augmented with the identity to remember the row operations). An unknown u is
 *   determined exactly when its reduced row is the unit vector e_u; each such u is computed as
 *   the combination of the (reduced) repair symbols the row operations name, then checked and
 *   queued for {@link StreamingFecDecoder.pollRecovered}. One pass recovers everything the held
 *   equations determine.
 * - State is bounded: `maxRepairs` equations (oldest evicted first, counted) and `span` source
 *   slots; an equation whose window falls behind the span with an unknown still in the part left
 *   behind is evicted and counted.
 * - Symbol memory: either a dedicated ring (`span` source symbols and `maxRepairs` equation
 *   symbols, allocated or taken whole from a `ring` pool), or, with `slots`, one pool slot per
 *   symbol actually held, taken when a source, repair or recovered packet is stored and given
 *   back when it is forgotten. The second follows occupancy: a receiver that forgets sources as
 *   it delivers them (after the latency) holds `latency x packet rate` of them, not `span`, and
 *   equation symbols only while something is lost. Recovery is the same either way.
 */
import { checkInt, checkPowerOfTwo, SluiceRangeError, SluiceStateError } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount, type SlotSource } from '../memory/types.js';
import { seqAdd, seqDiff, seqLt } from '../seq.js';
import { cauchyCoefficient, FEC_MAX_WINDOW, FEC_REPAIR_INDEXES } from './cauchy.js';
import { GF_INV, GF_MUL } from './gf256.js';
import { FAST_KERNELS } from './kernels-generated.js';
import {
  copyBytes,
  FEC_MAX_PAYLOAD,
  FEC_PROTECTED_FLAGS,
  FEC_SYMBOL_ALIGN,
  FEC_SYMBOL_PREFIX,
  fecSymbolLength,
  writeSourceSymbol,
} from './symbol.js';

/** Options of {@link StreamingFecDecoder}. */
export interface FecDecoderOptions {
  /** Largest window a repair may cover, 1..128 (the session's fec window). */
  maxWindow: number;
  /** Largest DATA payload in bytes, 0..65492 (the peer's encoder maxPayload). */
  maxPayload: number;
  /** Pending equations held at most, 1..256; the oldest is evicted (and counted) when full. Default {@link DEFAULT_FEC_MAX_REPAIRS}. */
  maxRepairs: number;
  /**
   * Source packets (sequence numbers) kept for elimination: a power of two in
   * [nextPow2(maxWindow), 4096]. Default: nextPow2(2 * maxWindow), at least 64.
   */
  span?: number;
  /** Memory account charged for all the state (default: detached). */
  account?: MemoryAccount;
  /**
   * Where the source ring comes from: a pool whose slots hold the whole ring
   * (`slotSize >= StreamingFecDecoder.ringBytes(options)`), so connections reuse rings instead
   * of allocating them. Without it (or when the pool is exhausted) the ring is allocated here.
   * Ignored when `slots` is given.
   */
  ring?: SlotSource;
  /**
   * Per-symbol storage: every source, recovered packet and pending equation symbol held lives in
   * its own slot of this source (`slotSize >= StreamingFecDecoder.slotBytes(options)` and a
   * multiple of 4; slots must be 4-byte aligned, as BufferPool slots of such a size are), taken
   * when stored and released when forgotten, so memory follows what is held instead of `span`.
   * No symbol ring is allocated then. When the source is exhausted the symbol is not stored
   * (counted in `sourcesNoMemory` / `repairsNoMemory` / `recoveredNoMemory`): a source not
   * stored stays unknown to the decoder, as if lost. Charged to `account` as used, one slot each.
   */
  slots?: SlotSource;
}

/** Default pending-equation capacity. */
export const DEFAULT_FEC_MAX_REPAIRS = 32;
/** Upper bound of `maxRepairs`. */
export const FEC_MAX_REPAIRS_LIMIT = 256;
/** Upper bound of `span`. */
export const FEC_MAX_SPAN = 4096;
/** Local DATA flag set on recovered packets (never on the wire). */
export const FEC_RECOVERED_FLAG = 0x10;

/** Outcome of {@link StreamingFecDecoder.addRepair}; each value has a counter in `stats`. */
export const FecRepairStatus = {
  /** Held as a pending equation (and possibly already used to recover packets). */
  Accepted: 0,
  /** Every source in its window is already known: dropped, no payload work. */
  Useless: 1,
  /** Same window and repair index as a pending equation. */
  Duplicate: 2,
  /** Window starts before the oldest sequence the decoder still holds. */
  TooOld: 3,
  /** windowLength is 0 or larger than maxWindow. */
  InvalidWindow: 4,
  /** repairIndex > 127. */
  InvalidIndex: 5,
  /** symbol length 0, not a multiple of 32, or larger than the max symbol length. */
  InvalidLength: 6,
  /** offset + length runs past the end of the given buffer. */
  Truncated: 7,
  /** Contradicts what is known (a known source longer than the repair symbol). */
  Inconsistent: 8,
  /** No slot for its symbol (`slots` exhausted): not held. */
  NoMemory: 9,
} as const;
/** Numeric type of {@link FecRepairStatus} values. */
export type FecRepairStatus = (typeof FecRepairStatus)[keyof typeof FecRepairStatus];
/** Counter names in `stats` for each {@link FecRepairStatus}, indexed by the status value. */
export const FEC_REPAIR_STATUS_COUNTERS = [
  'repairsAccepted',
  'repairsUseless',
  'repairsDuplicate',
  'repairsTooOld',
  'repairsInvalidWindow',
  'repairsInvalidIndex',
  'repairsInvalidLength',
  'repairsTruncated',
  'repairsInconsistent',
  'repairsNoMemory',
] as const;

/** Outcome of {@link StreamingFecDecoder.addSource}; each value has a counter in `stats`. */
export const FecSourceStatus = {
  /** Stored. */
  Accepted: 0,
  /** Already received or recovered. */
  Duplicate: 1,
  /** Before the oldest sequence the decoder holds (forgotten or out of span). */
  TooOld: 2,
  /** Payload longer than maxPayload: ignored. */
  TooLong: 3,
  /** No slot for it (`slots` exhausted): not stored, the decoder treats it as unknown. */
  NoMemory: 4,
} as const;
/** Numeric type of {@link FecSourceStatus} values. */
export type FecSourceStatus = (typeof FecSourceStatus)[keyof typeof FecSourceStatus];
/** Counter names in `stats` for each {@link FecSourceStatus}. */
export const FEC_SOURCE_STATUS_COUNTERS = ['sourcesAccepted', 'sourcesDuplicate', 'sourcesTooOld', 'sourcesTooLong', 'sourcesNoMemory'] as const;

/** Fields of one recovered packet, filled by {@link StreamingFecDecoder.pollRecovered}. Reusable. */
export class RecoveredPacket {
  /** Sequence number (u32). */
  seq = 0;
  /** DATA flags: the protected FIRST/LAST/KEYFRAME bits plus {@link FEC_RECOVERED_FLAG}. */
  flags = 0;
  /** Sender media timestamp (u32, us). */
  timestamp = 0;
  /** Total bytes of the frame this fragment belongs to. */
  frameLength = 0;
}

/** Counters of a {@link StreamingFecDecoder} (a live object; every field is a plain number). */
export interface FecDecoderStats {
  /** Every addRepair call. */
  repairsReceived: number;
  repairsAccepted: number;
  repairsUseless: number;
  repairsDuplicate: number;
  repairsTooOld: number;
  repairsInvalidWindow: number;
  repairsInvalidIndex: number;
  repairsInvalidLength: number;
  repairsTruncated: number;
  repairsInconsistent: number;
  /** Repairs not held for want of a slot (`slots` exhausted). */
  repairsNoMemory: number;
  /** Malformed repairs: InvalidWindow + InvalidIndex + InvalidLength + Truncated + Inconsistent. */
  rejected: number;
  sourcesAccepted: number;
  sourcesDuplicate: number;
  sourcesTooOld: number;
  sourcesTooLong: number;
  /** Sources not stored for want of a slot (`slots` exhausted). */
  sourcesNoMemory: number;
  /** Packets recovered (queued for pollRecovered). */
  recovered: number;
  /** Recovered packets dropped before being polled (forgotten, out of span or queue full). */
  recoveredExpired: number;
  /** Solutions not stored for want of a slot (`slots` exhausted); retried on the next solve. */
  recoveredNoMemory: number;
  /** Pending equations evicted: capacity (oldest first) or window left behind with an unknown. */
  evictedEquations: number;
  /** Solutions whose decoded prefix was impossible (bad repairs): the equations used are dropped. */
  decodeFailures: number;
  /** Gauss-Jordan runs on the coefficient matrix. */
  solveAttempts: number;
  /** Multiply-accumulate kernel calls on symbols (payload work). 0 while nothing is lost. */
  payloadOps: number;
}

function _nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/** Placeholder symbol view of a position that holds no slot (per-symbol storage). */
const _NONE8 = new Uint8Array(0);
const _NONE32 = new Uint32Array(0);

/**
 * Whole-slab 32-bit views, by slab: the kernels address symbols as (Uint32Array, word offset), and
 * a pool slot is a Uint8Array view into its slab. One view per slab, made the first time one of
 * its slots is seen (never per packet); weak, so a trimmed slab is not kept alive.
 */
const _SLAB_WORDS = new WeakMap<ArrayBufferLike, Uint32Array>();

/** Word offset of a 4-byte-aligned slot view inside its slab. */
function _wordOffset(v: Uint8Array): number {
  if ((v.byteOffset & 3) !== 0) {
    throw new SluiceRangeError(`FecDecoderOptions.slots: expected 4-byte-aligned slots, got byteOffset ${v.byteOffset}`);
  }
  return v.byteOffset >>> 2;
}

function _slabWords(v: Uint8Array): Uint32Array {
  const b = v.buffer;
  let w = _SLAB_WORDS.get(b);
  if (w === undefined) {
    w = new Uint32Array(b, 0, b.byteLength >>> 2);
    _SLAB_WORDS.set(b, w);
  }
  return w;
}

const _STATE_EMPTY = 0;
const _STATE_RECEIVED = 1;
const _STATE_RECOVERED = 2;

/**
 * Receiver side of sluice's FEC. Feed it every DATA packet ({@link addSource}) and every REPAIR
 * ({@link addRepair}), drain {@link pollRecovered} after each call, and call {@link forgetBefore}
 * as the reorder buffer delivers or gives up.
 *
 * @example
 * const dec = new StreamingFecDecoder({ maxWindow: 16, maxPayload: 1200, maxRepairs: 32 });
 * const rec = new RecoveredPacket();
 * const out = new Uint8Array(1200);
 * dec.addSource(seq, flags, ts, frameLen, buf, off, len);
 * dec.addRepair(windowStart, windowLength, repairIndex, dgram, symOff, symLen);
 * let n;
 * while ((n = dec.pollRecovered(out, 0, rec)) >= 0) deliver(rec, out.subarray(0, n));
 */
export class StreamingFecDecoder {
  /** Max symbol length (bytes) = fecSymbolLength(maxPayload). */
  readonly maxSymbolLength: number;
  readonly maxWindow: number;
  readonly maxPayload: number;
  readonly maxRepairs: number;
  /** Source slots (sequence numbers held for elimination). */
  readonly span: number;
  /** Counters (live object). */
  readonly stats: FecDecoderStats;

  private readonly _account: MemoryAccount;
  private readonly _reserved: number;
  private readonly _mask: number;
  private readonly _slot: number;
  private readonly _slotWords: number;
  private _closed: boolean;
  private _started: boolean;
  /** Newest seq in the ring; sources live in [_floor, _high]. */
  private _high: number;
  /** Oldest seq held (anything before is forgotten). */
  private _floor: number;
  private _srcHeld: number;

  // Source ring.
  private _srcSeq: Uint32Array;
  private _srcState: Uint8Array;
  /** Coded symbol length (multiple of 32) of each held source. */
  private _srcLen: Uint16Array;
  private _srcDirty: Uint16Array;
  private _src8: Uint8Array;
  /** The pool slot the source ring lives in (null when allocated here), and its pool. */
  private _ringSlot: Uint8Array | null;
  private _ringPool: SlotSource | null;
  private _src32: Uint32Array;
  /** Per-symbol storage (null: dedicated ring), and the bytes charged per symbol held. */
  private readonly _slots: SlotSource | null;
  private readonly _unit: number;
  /**
   * Where each position's symbol lives: bytes `_srcB[i]` from `_srcBo[i]`, words `_srcW[i]` from
   * `_srcWo[i]`. With a dedicated ring every entry is the ring itself at `i x slot`; with `slots`,
   * the slot held (its slab's word view, looked up on first kernel use) or the `_NONE` placeholders.
   */
  private _srcB: Uint8Array[];
  private _srcW: Uint32Array[];
  private readonly _srcBo: Int32Array;
  private readonly _srcWo: Int32Array;

  // Equations.
  private _eqActive: Uint8Array;
  private _eqStart: Uint32Array;
  private _eqLen: Uint8Array;
  private _eqIndex: Uint8Array;
  private _eqSymLen: Uint16Array;
  private _eqMissing: Uint8Array;
  /** 4 words (128 bits) per equation: window positions already subtracted out of its symbol. */
  private _eqReduced: Uint32Array;
  private _eqAge: Float64Array;
  private _eqDirty: Uint16Array;
  private _eq8: Uint8Array;
  private _eq32: Uint32Array;
  /** Where each equation's symbol lives (as `_srcB` etc. for sources). */
  private _eqB: Uint8Array[];
  private _eqW: Uint32Array[];
  private readonly _eqBo: Int32Array;
  private readonly _eqWo: Int32Array;
  private _eqCount: number;
  private _eqClock: number;

  // Solver scratch.
  private readonly _width: number;
  private readonly _stride: number;
  private _mat: Uint8Array;
  private _rowEq: Int16Array;
  private _colSeq: Uint32Array;
  private _colOfSlot: Int16Array;
  private _pivotCol: Int16Array;
  private _needEq: Uint8Array;
  private _scratch8: Uint8Array;
  private _scratch32: Uint32Array;

  // Recovered queue (seqs).
  private _recQ: Uint32Array;
  private _recHead: number;
  private _recCount: number;

  /**
   * @throws SluiceTypeError / SluiceRangeError for a missing or out-of-range option (the message
   *   names it and the allowed range). @throws BudgetExceededError when `account` refuses.
   */
  /** Smallest `slotSize` of a `slots` source for these options: one coded symbol, `fecSymbolLength(maxPayload)`. */
  static slotBytes(options: Pick<FecDecoderOptions, 'maxPayload'>): number {
    return fecSymbolLength(options.maxPayload);
  }

  /** Bytes of the source ring a decoder with these options holds (size a `ring` pool's slots with it). */
  static ringBytes(options: Pick<FecDecoderOptions, 'maxWindow' | 'maxPayload' | 'span'>): number {
    const span = options.span ?? Math.max(64, _nextPow2(2 * options.maxWindow));
    return span * fecSymbolLength(options.maxPayload);
  }

  constructor(options: FecDecoderOptions) {
    const maxWindow = checkInt('FecDecoderOptions.maxWindow', options.maxWindow, 1, FEC_MAX_WINDOW);
    const maxPayload = checkInt('FecDecoderOptions.maxPayload', options.maxPayload, 0, FEC_MAX_PAYLOAD);
    const maxRepairs = checkInt('FecDecoderOptions.maxRepairs', options.maxRepairs ?? DEFAULT_FEC_MAX_REPAIRS, 1, FEC_MAX_REPAIRS_LIMIT);
    const minSpan = _nextPow2(maxWindow);
    const span = checkPowerOfTwo(
      'FecDecoderOptions.span',
      options.span ?? Math.max(64, _nextPow2(2 * maxWindow)),
      minSpan,
      FEC_MAX_SPAN,
    );
    this.maxWindow = maxWindow;
    this.maxPayload = maxPayload;
    this.maxRepairs = maxRepairs;
    this.span = span;
    this.maxSymbolLength = fecSymbolLength(maxPayload);
    this.stats = {
      repairsReceived: 0,
      repairsAccepted: 0,
      repairsUseless: 0,
      repairsDuplicate: 0,
      repairsTooOld: 0,
      repairsInvalidWindow: 0,
      repairsInvalidIndex: 0,
      repairsInvalidLength: 0,
      repairsTruncated: 0,
      repairsInconsistent: 0,
      repairsNoMemory: 0,
      rejected: 0,
      sourcesAccepted: 0,
      sourcesDuplicate: 0,
      sourcesTooOld: 0,
      sourcesTooLong: 0,
      sourcesNoMemory: 0,
      recovered: 0,
      recoveredExpired: 0,
      recoveredNoMemory: 0,
      evictedEquations: 0,
      decodeFailures: 0,
      solveAttempts: 0,
      payloadOps: 0,
    };
    this._account = options.account ?? DETACHED_ACCOUNT;
    const slot = this.maxSymbolLength;
    this._slot = slot;
    this._slotWords = slot >>> 2;
    this._mask = span - 1;
    // Unknown columns lie in [floor, high] and in some window: at most min(span, E * W).
    this._width = Math.min(span, maxRepairs * maxWindow);
    this._stride = this._width + maxRepairs;
    const E = maxRepairs;
    const slots = options.slots ?? null;
    if (slots !== null) {
      const size = slots.slotSize;
      if (!(size >= slot) || (size & 3) !== 0) {
        throw new SluiceRangeError(
          `FecDecoderOptions.slots: expected slotSize >= ${slot} (one symbol of maxPayload ${maxPayload}) and a multiple of 4, got ${size}`,
        );
      }
    }
    this._slots = slots;
    this._unit = slots === null ? slot : slots.slotSize;
    const ringBytes = span * slot;
    const pooled =
      slots === null && options.ring !== undefined && options.ring.slotSize >= ringBytes ? options.ring.acquire() : null;
    this._reserved =
      (slots === null && pooled === null ? ringBytes : 0) + // source ring (a pooled one is reserved by the pool's account)
      (slots === null ? E * slot : 0) + // equation symbols (per-symbol slots are reserved by their pool)
      span * (4 + 1 + 2 + 2 + 2 + 4 + 4 + 4) + // colOfSlot, recovered queue, per-slot tables, symbol offsets
      E * (4 + 1 + 1 + 2 + 1 + 16 + 8 + 2 + 1 + 2 + 2 + 4 + 4) + // equations, rowEq/needEq/pivotCol, symbol offsets
      E * this._stride + // elimination matrix
      this._width * 4 + // colSeq
      slot; // scratch symbol
    this._account.reserve(this._reserved);
    this._account.setCapacity((span + E) * this._unit, span + E);

    this._closed = false;
    this._started = false;
    this._high = 0;
    this._floor = 0;
    this._srcHeld = 0;
    this._srcSeq = new Uint32Array(span);
    this._srcState = new Uint8Array(span);
    this._srcLen = new Uint16Array(span);
    this._srcDirty = new Uint16Array(span);
    this._ringSlot = pooled;
    this._ringPool = pooled === null ? null : options.ring!;
    if (pooled !== null) {
      pooled.fill(0, 0, ringBytes);
      this._account.use(ringBytes, 0);
    }
    this._src8 = slots !== null ? _NONE8 : pooled === null ? new Uint8Array(ringBytes) : pooled.subarray(0, ringBytes);
    this._src32 = slots !== null ? _NONE32 : new Uint32Array(this._src8.buffer, this._src8.byteOffset, ringBytes >>> 2);
    this._srcB = new Array<Uint8Array>(span).fill(this._src8);
    this._srcW = new Array<Uint32Array>(span).fill(this._src32);
    this._srcBo = new Int32Array(span);
    this._srcWo = new Int32Array(span);
    if (slots === null) {
      for (let i = 0; i < span; i++) {
        this._srcBo[i] = i * slot;
        this._srcWo[i] = i * this._slotWords;
      }
    }
    this._eqActive = new Uint8Array(E);
    this._eqStart = new Uint32Array(E);
    this._eqLen = new Uint8Array(E);
    this._eqIndex = new Uint8Array(E);
    this._eqSymLen = new Uint16Array(E);
    this._eqMissing = new Uint8Array(E);
    this._eqReduced = new Uint32Array(E * 4);
    this._eqAge = new Float64Array(E);
    this._eqDirty = new Uint16Array(E);
    this._eq8 = slots !== null ? _NONE8 : new Uint8Array(E * slot);
    this._eq32 = slots !== null ? _NONE32 : new Uint32Array(this._eq8.buffer);
    this._eqB = new Array<Uint8Array>(E).fill(this._eq8);
    this._eqW = new Array<Uint32Array>(E).fill(this._eq32);
    this._eqBo = new Int32Array(E);
    this._eqWo = new Int32Array(E);
    if (slots === null) {
      for (let e = 0; e < E; e++) {
        this._eqBo[e] = e * slot;
        this._eqWo[e] = e * this._slotWords;
      }
    }
    this._eqCount = 0;
    this._eqClock = 0;
    this._mat = new Uint8Array(E * this._stride);
    this._rowEq = new Int16Array(E);
    this._colSeq = new Uint32Array(this._width);
    this._colOfSlot = new Int16Array(span).fill(-1);
    this._pivotCol = new Int16Array(E);
    this._needEq = new Uint8Array(E);
    this._scratch8 = new Uint8Array(slot);
    this._scratch32 = new Uint32Array(this._scratch8.buffer);
    this._recQ = new Uint32Array(span);
    this._recHead = 0;
    this._recCount = 0;
  }

  /** Pending equations held now. */
  get pendingEquations(): number {
    return this._eqCount;
  }

  /** Recovered packets waiting in {@link pollRecovered}'s queue. */
  get pendingRecovered(): number {
    return this._recCount;
  }

  /**
   * A DATA packet was received (original or retransmission). The payload is copied; the caller
   * keeps ownership. Duplicates, packets older than the held range and payloads longer than
   * maxPayload are ignored and counted (network input never throws).
   * @throws SluiceRangeError when `offset`/`length` do not lie inside `payload` (caller bug);
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
  ): FecSourceStatus {
    if (this._closed) throw new SluiceStateError('StreamingFecDecoder.addSource: decoder is closed');
    if (offset < 0 || length < 0 || offset + length > payload.length) {
      throw new SluiceRangeError(
        `StreamingFecDecoder.addSource: expected offset/length inside payload (length ${payload.length}), got offset ${offset} length ${length}`,
      );
    }
    seq = seq >>> 0;
    if (length > this.maxPayload) {
      this.stats.sourcesTooLong++;
      return FecSourceStatus.TooLong;
    }
    if (!this._started) this._start(seq);
    if (seqLt(seq, this._floor)) {
      this.stats.sourcesTooOld++;
      return FecSourceStatus.TooOld;
    }
    if (seqLt(this._high, seq)) this._advance(seq);
    const slot = seq & this._mask;
    if (this._srcState[slot] !== _STATE_EMPTY && this._srcSeq[slot] === seq) {
      this.stats.sourcesDuplicate++;
      return FecSourceStatus.Duplicate;
    }
    if (this._srcB[slot] === _NONE8 && !this._takeSourceSlot(slot)) {
      this.stats.sourcesNoMemory++;
      return FecSourceStatus.NoMemory;
    }
    const b8 = this._srcB[slot]!;
    const base = this._srcBo[slot]!;
    const written = writeSourceSymbol(b8, base, flags, timestamp >>> 0, frameLength >>> 0, payload, offset, length);
    const dirty = this._srcDirty[slot]!;
    if (dirty > written) b8.fill(0, base + written, base + dirty);
    this._srcDirty[slot] = written;
    const symLen = fecSymbolLength(length);
    this._srcLen[slot] = symLen;
    this._srcSeq[slot] = seq;
    this._srcState[slot] = _STATE_RECEIVED;
    this._srcHeld++;
    this._account.use(this._unit, 1);
    this.stats.sourcesAccepted++;
    if (this._eqCount > 0 && this._onKnown(seq, symLen)) this._solve();
    return FecSourceStatus.Accepted;
  }

  /**
   * A REPAIR packet was received: `symbol[offset .. offset + length)` is its symbol (copied).
   * Never throws on bad input: returns a {@link FecRepairStatus} and counts it.
   * @throws SluiceStateError after close() (misuse, not input).
   */
  addRepair(
    windowStart: number,
    windowLength: number,
    repairIndex: number,
    symbol: Uint8Array,
    offset: number,
    length: number,
  ): FecRepairStatus {
    if (this._closed) throw new SluiceStateError('StreamingFecDecoder.addRepair: decoder is closed');
    const st = this.stats;
    st.repairsReceived++;
    if (!(windowLength >= 1 && windowLength <= this.maxWindow) || (windowLength | 0) !== windowLength) {
      return this._reject(FecRepairStatus.InvalidWindow);
    }
    if (!(repairIndex >= 0 && repairIndex < FEC_REPAIR_INDEXES) || (repairIndex | 0) !== repairIndex) {
      return this._reject(FecRepairStatus.InvalidIndex);
    }
    if (!(length >= FEC_SYMBOL_ALIGN && length <= this._slot) || (length & (FEC_SYMBOL_ALIGN - 1)) !== 0) {
      return this._reject(FecRepairStatus.InvalidLength);
    }
    if (!(offset >= 0) || (offset | 0) !== offset || offset + length > symbol.length) {
      return this._reject(FecRepairStatus.Truncated);
    }
    windowStart = windowStart >>> 0;
    const windowEnd = seqAdd(windowStart, windowLength - 1);
    if (!this._started) this._start(windowEnd);
    if (seqLt(windowStart, this._floor)) {
      st.repairsTooOld++;
      return FecRepairStatus.TooOld;
    }
    if (seqLt(this._high, windowEnd)) this._advance(windowEnd);
    // Count unknowns; a known source longer than the symbol contradicts the repair.
    let missing = 0;
    for (let i = 0; i < windowLength; i++) {
      const seq = (windowStart + i) >>> 0;
      const slot = seq & this._mask;
      if (this._srcState[slot] !== _STATE_EMPTY && this._srcSeq[slot] === seq) {
        if (this._srcLen[slot]! > length) return this._reject(FecRepairStatus.Inconsistent);
      } else {
        missing++;
      }
    }
    if (missing === 0) {
      st.repairsUseless++;
      return FecRepairStatus.Useless;
    }
    for (let e = 0; e < this.maxRepairs; e++) {
      if (
        this._eqActive[e] === 1 &&
        this._eqStart[e] === windowStart &&
        this._eqLen[e] === windowLength &&
        this._eqIndex[e] === repairIndex
      ) {
        st.repairsDuplicate++;
        return FecRepairStatus.Duplicate;
      }
    }
    let e = -1;
    if (this._eqCount === this.maxRepairs) {
      let oldest = 0;
      for (let k = 1; k < this.maxRepairs; k++) if (this._eqAge[k]! < this._eqAge[oldest]!) oldest = k;
      this._dropEq(oldest);
      st.evictedEquations++;
      e = oldest;
    } else {
      for (let k = 0; k < this.maxRepairs; k++) {
        if (this._eqActive[k] === 0) {
          e = k;
          break;
        }
      }
    }
    if (this._eqB[e] === _NONE8) {
      const v = this._slots!.acquire();
      if (v === null) {
        st.repairsNoMemory++;
        return FecRepairStatus.NoMemory;
      }
      this._eqB[e] = v;
      this._eqW[e] = _slabWords(v);
      this._eqBo[e] = 0;
      this._eqWo[e] = _wordOffset(v);
      this._eqDirty[e] = this._slot;
    }
    const eq8 = this._eqB[e]!;
    const base = this._eqBo[e]!;
    copyBytes(eq8, base, symbol, offset, length);
    const dirty = this._eqDirty[e]!;
    if (dirty > length) eq8.fill(0, base + length, base + dirty);
    this._eqDirty[e] = length;
    this._eqActive[e] = 1;
    this._eqStart[e] = windowStart;
    this._eqLen[e] = windowLength;
    this._eqIndex[e] = repairIndex;
    this._eqSymLen[e] = length;
    this._eqMissing[e] = missing;
    const r = e * 4;
    this._eqReduced[r] = 0;
    this._eqReduced[r + 1] = 0;
    this._eqReduced[r + 2] = 0;
    this._eqReduced[r + 3] = 0;
    this._eqAge[e] = this._eqClock++;
    this._eqCount++;
    this._account.use(this._unit, 1);
    st.repairsAccepted++;
    this._solve();
    return FecRepairStatus.Accepted;
  }

  /**
   * Pops one recovered packet: its payload is copied into `out[offset..]` (caller-owned) and its
   * fields into `rec`. Recovered packets come out in the order they were solved.
   * @returns the payload length (>= 0), or -1 when none is waiting.
   * @throws SluiceRangeError when the payload does not fit in `out` after `offset` (size `out` for
   *   maxPayload); the packet stays queued then. SluiceStateError after close().
   */
  pollRecovered(out: Uint8Array, offset: number, rec: RecoveredPacket): number {
    if (this._closed) throw new SluiceStateError('StreamingFecDecoder.pollRecovered: decoder is closed');
    while (this._recCount > 0) {
      const seq = this._recQ[this._recHead]!;
      const slot = seq & this._mask;
      if (this._srcState[slot] !== _STATE_RECOVERED || this._srcSeq[slot] !== seq || seqLt(seq, this._floor)) {
        this._recHead = (this._recHead + 1) & this._mask;
        this._recCount--;
        this.stats.recoveredExpired++;
        continue;
      }
      const src = this._srcB[slot]!;
      const base = this._srcBo[slot]!;
      const len = (src[base + 2]! << 8) | src[base + 3]!;
      if (offset < 0 || offset + len > out.length) {
        throw new SluiceRangeError(
          `StreamingFecDecoder.pollRecovered: expected ${len} bytes of room in out after offset, got offset ${offset} in ${out.length} bytes`,
        );
      }
      this._recHead = (this._recHead + 1) & this._mask;
      this._recCount--;
      rec.seq = seq;
      rec.flags = (src[base]! & FEC_PROTECTED_FLAGS) | FEC_RECOVERED_FLAG;
      rec.timestamp = ((src[base + 4]! << 24) | (src[base + 5]! << 16) | (src[base + 6]! << 8) | src[base + 7]!) >>> 0;
      rec.frameLength = ((src[base + 8]! << 24) | (src[base + 9]! << 16) | (src[base + 10]! << 8) | src[base + 11]!) >>> 0;
      // A memcpy through one temporary view (see copyBytes): recovered packets only exist after
      // a loss, and a JavaScript byte loop here cost more than the whole decode.
      copyBytes(out, offset, src, base + FEC_SYMBOL_PREFIX, len);
      return len;
    }
    return -1;
  }

  /**
   * Drops all state for sequences before `seq` (delivered or given up): their source symbols,
   * recovered packets not yet polled, and pending equations that still have an unknown before
   * `seq` (counted in evictedEquations). Equations whose part before `seq` is fully known keep
   * working: those sources are subtracted out first. Moving backwards is a no-op.
   * @throws SluiceStateError after close().
   */
  forgetBefore(seq: number): void {
    if (this._closed) throw new SluiceStateError('StreamingFecDecoder.forgetBefore: decoder is closed');
    seq = seq >>> 0;
    if (!this._started) this._start(seqAdd(seq, -1));
    if (!seqLt(this._floor, seq)) return;
    if (seqLt(this._high, seqAdd(seq, -1))) this._advance(seqAdd(seq, -1));
    if (seqLt(this._floor, seq)) this._advanceFloor(seq);
  }

  /** Releases every buffer and returns all reserved bytes to the account. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._account.use(-(this._srcHeld + this._eqCount) * this._unit, -(this._srcHeld + this._eqCount));
    this._srcHeld = 0;
    this._eqCount = 0;
    this._recCount = 0;
    if (this._slots !== null) {
      for (let i = 0; i < this.span; i++) if (this._srcB[i] !== _NONE8) this._releaseSourceSlot(i);
      for (let e = 0; e < this.maxRepairs; e++) if (this._eqB[e] !== _NONE8) this._releaseEqSlot(e);
    }
    this._account.unreserve(this._reserved);
    if (this._ringSlot !== null) {
      this._account.use(-this._src8.length, 0);
      this._ringPool!.release(this._ringSlot);
      this._ringSlot = null;
    }
    this._src8 = _NONE8;
    this._src32 = _NONE32;
    this._srcB = [];
    this._srcW = [];
    this._eq8 = _NONE8;
    this._eq32 = _NONE32;
    this._eqB = [];
    this._eqW = [];
    this._mat = new Uint8Array(0);
    this._scratch8 = new Uint8Array(0);
    this._scratch32 = new Uint32Array(0);
  }

  // ---------------------------------------------------------------------------------------

  private _reject(status: FecRepairStatus): FecRepairStatus {
    const st = this.stats;
    st.rejected++;
    switch (status) {
      case FecRepairStatus.InvalidWindow:
        st.repairsInvalidWindow++;
        break;
      case FecRepairStatus.InvalidIndex:
        st.repairsInvalidIndex++;
        break;
      case FecRepairStatus.InvalidLength:
        st.repairsInvalidLength++;
        break;
      case FecRepairStatus.Truncated:
        st.repairsTruncated++;
        break;
      default:
        st.repairsInconsistent++;
    }
    return status;
  }

  private _start(high: number): void {
    this._started = true;
    this._high = high >>> 0;
    this._floor = seqAdd(high, 1 - this.span);
  }

  /** Moves the newest seq to `high` (after it), and the floor with it. */
  private _advance(high: number): void {
    this._high = high;
    const nf = seqAdd(high, 1 - this.span);
    if (seqLt(this._floor, nf)) this._advanceFloor(nf);
  }

  private _isKnown(seq: number): boolean {
    const slot = seq & this._mask;
    return this._srcState[slot] !== _STATE_EMPTY && this._srcSeq[slot] === seq;
  }

  /** Moves the floor to `nf`: equations first (they may need the sources), then the slots. */
  private _advanceFloor(nf: number): void {
    if (this._eqCount > 0) {
      for (let e = 0; e < this.maxRepairs; e++) {
        if (this._eqActive[e] !== 1) continue;
        const start = this._eqStart[e]!;
        if (!seqLt(start, nf)) continue;
        const len = this._eqLen[e]!;
        // Positions of this window before nf: all must be known (then subtract them now).
        const behind = Math.min(len, seqDiff(start, nf));
        let ok = true;
        for (let i = 0; i < behind; i++) {
          if (!this._isReduced(e, i) && !this._isKnown((start + i) >>> 0)) {
            ok = false;
            break;
          }
        }
        if (ok && behind === len) ok = false; // nothing left ahead: cannot be pending (defensive)
        if (!ok) {
          this._dropEq(e);
          this.stats.evictedEquations++;
          continue;
        }
        this._reduceRange(e, behind);
      }
    }
    const d = seqDiff(this._floor, nf);
    const n = d > this.span ? this.span : d;
    for (let i = 0; i < n; i++) {
      const seq = (this._floor + i) >>> 0;
      const slot = seq & this._mask;
      if (this._srcState[slot] !== _STATE_EMPTY && this._srcSeq[slot] === seq) {
        this._srcState[slot] = _STATE_EMPTY;
        this._srcHeld--;
        this._account.use(-this._unit, -1);
        if (this._slots !== null) this._releaseSourceSlot(slot);
      }
    }
    this._floor = nf;
    if (seqLt(this._high, seqAdd(nf, -1))) this._high = seqAdd(nf, -1);
  }

  private _isReduced(e: number, i: number): boolean {
    return ((this._eqReduced[e * 4 + (i >>> 5)]! >>> (i & 31)) & 1) === 1;
  }

  private _dropEq(e: number): void {
    this._eqActive[e] = 0;
    this._eqCount--;
    this._account.use(-this._unit, -1);
    if (this._slots !== null) this._releaseEqSlot(e);
  }

  /** Per-symbol storage: takes a slot for source position `slot`; false when none is left. */
  private _takeSourceSlot(slot: number): boolean {
    const v = this._slots!.acquire();
    if (v === null) return false;
    this._srcB[slot] = v;
    // The word view is looked up only when a kernel reads this source (after a loss, see
    // _reduceRange): the packet path pays one acquire and one release, nothing more.
    this._srcBo[slot] = 0;
    // A reused slot holds someone else's bytes: all of it may be non-zero.
    this._srcDirty[slot] = this._slot;
    return true;
  }

  private _releaseSourceSlot(slot: number): void {
    const v = this._srcB[slot]!;
    this._srcB[slot] = _NONE8;
    this._srcW[slot] = _NONE32;
    this._slots!.release(v);
  }

  private _releaseEqSlot(e: number): void {
    const v = this._eqB[e]!;
    this._eqB[e] = _NONE8;
    this._eqW[e] = _NONE32;
    this._slots!.release(v);
  }

  /** Subtracts every known, not yet subtracted source among window positions [0, upTo) of eq e. */
  private _reduceRange(e: number, upTo: number): void {
    const start = this._eqStart[e]!;
    const idx = this._eqIndex[e]!;
    const blocks = this._eqSymLen[e]! >>> 5;
    const eqW = this._eqW[e]!;
    const dst = this._eqWo[e]!;
    const red = this._eqReduced;
    for (let i = 0; i < upTo; i++) {
      const w = e * 4 + (i >>> 5);
      const bit = 1 << (i & 31);
      if ((red[w]! & bit) !== 0) continue;
      const seq = (start + i) >>> 0;
      const slot = seq & this._mask;
      if (this._srcState[slot] === _STATE_EMPTY || this._srcSeq[slot] !== seq) continue;
      let srcW = this._srcW[slot]!;
      if (srcW === _NONE32) {
        const v = this._srcB[slot]!;
        srcW = _slabWords(v);
        this._srcW[slot] = srcW;
        this._srcWo[slot] = _wordOffset(v);
      }
      FAST_KERNELS[cauchyCoefficient(seq, idx)]!(srcW, this._srcWo[slot]!, eqW, dst, blocks);
      this.stats.payloadOps++;
      red[w] = red[w]! | bit;
    }
  }

  /**
   * A source became known: decrement the equations covering it (dropping those left with no
   * unknown, or contradicted by a source longer than their symbol). Returns true when an
   * equation with unknowns left changed (a solve may now succeed).
   */
  private _onKnown(seq: number, symLen: number): boolean {
    let changed = false;
    for (let e = 0; e < this.maxRepairs; e++) {
      if (this._eqActive[e] !== 1) continue;
      const i = seqDiff(this._eqStart[e]!, seq);
      if (i < 0 || i >= this._eqLen[e]!) continue;
      if (symLen > this._eqSymLen[e]!) {
        this._dropEq(e);
        this.stats.repairsInconsistent++;
        this.stats.rejected++;
        continue;
      }
      const m = this._eqMissing[e]! - 1;
      this._eqMissing[e] = m;
      if (m === 0) this._dropEq(e);
      else changed = true;
    }
    return changed;
  }

  /** Gauss-Jordan over all pending equations; recovers every determined unknown. */
  private _solve(): void {
    if (this._eqCount === 0) return;
    this.stats.solveAttempts++;
    const mat = this._mat;
    const stride = this._stride;
    const width = this._width;
    const colOfSlot = this._colOfSlot;
    const colSeq = this._colSeq;
    const rowEq = this._rowEq;
    const mask = this._mask;
    // 1. Rows = pending equations, columns = their unknown sources. Rows are cleared up to the
    //    column count of the widest possible system (all unknowns of all windows), bounded below.
    const lastCols = this._maxCols();
    let rows = 0;
    let cols = 0;
    for (let e = 0; e < this.maxRepairs; e++) {
      if (this._eqActive[e] !== 1) continue;
      const r = rows++;
      rowEq[r] = e;
      const ro = r * stride;
      mat.fill(0, ro, ro + lastCols);
      mat.fill(0, ro + width, ro + width + this._eqCount);
      mat[ro + width + r] = 1;
      const start = this._eqStart[e]!;
      const len = this._eqLen[e]!;
      const idx = this._eqIndex[e]!;
      for (let i = 0; i < len; i++) {
        if (this._isReduced(e, i)) continue;
        const seq = (start + i) >>> 0;
        const slot = seq & mask;
        if (this._srcState[slot] !== _STATE_EMPTY && this._srcSeq[slot] === seq) continue;
        let c = colOfSlot[slot]!;
        if (c < 0) {
          c = cols++;
          colOfSlot[slot] = c;
          colSeq[c] = seq;
        }
        mat[ro + c] = cauchyCoefficient(seq, idx);
      }
    }
    // 2. Gauss-Jordan to reduced row echelon form. The row operations are mirrored on the
    //    identity part, so identity column k of a reduced row says how much of ORIGINAL row k
    //    (equation rowEq[k], which is never permuted) it contains.
    let rank = 0;
    const idEnd = width + rows;
    for (let c = 0; c < cols && rank < rows; c++) {
      let p = -1;
      for (let r = rank; r < rows; r++) {
        if (mat[r * stride + c] !== 0) {
          p = r;
          break;
        }
      }
      if (p < 0) continue;
      if (p !== rank) {
        const a = p * stride;
        const b = rank * stride;
        for (let k = c; k < cols; k++) {
          const t = mat[a + k]!;
          mat[a + k] = mat[b + k]!;
          mat[b + k] = t;
        }
        for (let k = width; k < idEnd; k++) {
          const t = mat[a + k]!;
          mat[a + k] = mat[b + k]!;
          mat[b + k] = t;
        }
      }
      // Only the live columns: unknowns [c, cols) and the identity part [width, width + rows).
      const pr = rank * stride;
      const inv = GF_INV[mat[pr + c]!]! << 8;
      for (let k = c; k < cols; k++) mat[pr + k] = GF_MUL[inv | mat[pr + k]!]!;
      for (let k = width; k < idEnd; k++) mat[pr + k] = GF_MUL[inv | mat[pr + k]!]!;
      for (let r = 0; r < rows; r++) {
        if (r === rank) continue;
        const ro = r * stride;
        const f = mat[ro + c]!;
        if (f === 0) continue;
        const fm = f << 8;
        for (let k = c; k < cols; k++) mat[ro + k] = mat[ro + k]! ^ GF_MUL[fm | mat[pr + k]!]!;
        for (let k = width; k < idEnd; k++) mat[ro + k] = mat[ro + k]! ^ GF_MUL[fm | mat[pr + k]!]!;
      }
      this._pivotCol[rank] = c;
      rank++;
    }
    // 3. Determined unknowns: pivot rows with no other non-zero unknown column.
    const need = this._needEq;
    need.fill(0);
    let solvable = 0;
    for (let r = 0; r < rank; r++) {
      const ro = r * stride;
      const pc = this._pivotCol[r]!;
      let alone = true;
      for (let c = pc + 1; c < cols; c++) {
        if (mat[ro + c] !== 0) {
          alone = false;
          break;
        }
      }
      if (!alone) {
        this._pivotCol[r] = -1;
        continue;
      }
      solvable++;
      for (let k = 0; k < rows; k++) if (mat[ro + width + k] !== 0) need[rowEq[k]!] = 1;
    }
    if (solvable > 0) {
      // 4. Bring every equation used up to date (subtract the known sources), THEN combine:
      //    recovering a packet must not change the equations mid-pass.
      for (let e = 0; e < this.maxRepairs; e++) if (need[e] === 1) this._reduceRange(e, this._eqLen[e]!);
      for (let r = 0; r < rank; r++) {
        const pc = this._pivotCol[r]!;
        if (pc < 0) continue;
        this._recover(r, colSeq[pc]!, rows);
      }
    }
    for (let c = 0; c < cols; c++) colOfSlot[colSeq[c]! & mask] = -1;
    if (solvable > 0) {
      // 5. Account the recovered sources in the equations (drops those left with no unknown).
      for (let r = 0; r < rank; r++) {
        const pc = this._pivotCol[r]!;
        if (pc < 0) continue;
        const seq = colSeq[pc]!;
        const slot = seq & mask;
        if (this._srcState[slot] === _STATE_RECOVERED && this._srcSeq[slot] === seq) this._onKnown(seq, this._srcLen[slot]!);
      }
    }
  }

  /** Upper bound of the unknown columns of the next system: sum of pending unknown counts. */
  private _maxCols(): number {
    let n = 0;
    for (let e = 0; e < this.maxRepairs; e++) if (this._eqActive[e] === 1) n += this._eqMissing[e]!;
    return n < this._width ? n : this._width;
  }

  /** Computes unknown `seq` from RREF row r (combination of the rows' equations) into its slot. */
  private _recover(r: number, seq: number, rows: number): void {
    const mat = this._mat;
    const ro = r * this._stride + this._width;
    const s32 = this._scratch32;
    let symLen = 0;
    for (let k = 0; k < rows; k++) {
      if (mat[ro + k] !== 0) {
        const l = this._eqSymLen[this._rowEq[k]!]!;
        if (l > symLen) symLen = l;
      }
    }
    s32.fill(0, 0, symLen >>> 2);
    for (let k = 0; k < rows; k++) {
      const f = mat[ro + k]!;
      if (f === 0) continue;
      const e = this._rowEq[k]!;
      FAST_KERNELS[f]!(this._eqW[e]!, this._eqWo[e]!, s32, 0, this._eqSymLen[e]! >>> 5);
      this.stats.payloadOps++;
    }
    const s8 = this._scratch8;
    const len = (s8[2]! << 8) | s8[3]!;
    const written = FEC_SYMBOL_PREFIX + len;
    if (s8[1] !== 0 || (s8[0]! & ~FEC_PROTECTED_FLAGS) !== 0 || len > this.maxPayload || written > symLen) {
      // Impossible prefix: the repairs contradict each other or the sources. Drop them all.
      this.stats.decodeFailures++;
      for (let k = 0; k < rows; k++) {
        if (mat[ro + k] !== 0) {
          const e = this._rowEq[k]!;
          if (this._eqActive[e] === 1) {
            this._dropEq(e);
            this.stats.evictedEquations++;
          }
        }
      }
      return;
    }
    const slot = seq & this._mask;
    if (this._srcB[slot] === _NONE8 && !this._takeSourceSlot(slot)) {
      // No memory for the solution: the unknown stays unknown (the equations keep it), so the
      // next solve tries again.
      this.stats.recoveredNoMemory++;
      return;
    }
    const base = this._srcBo[slot]!;
    const src = this._srcB[slot]!;
    // The whole scratch symbol in one memcpy (no view per length: 43 of them per decoder cost
    // more heap than the copy saves), then zero past the payload: the scratch holds stale bytes
    // beyond symLen.
    src.set(this._scratch8, base);
    src.fill(0, base + written, base + this._slot);
    this._srcDirty[slot] = written;
    this._srcLen[slot] = fecSymbolLength(len);
    this._srcSeq[slot] = seq;
    this._srcState[slot] = _STATE_RECOVERED;
    this._srcHeld++;
    this._account.use(this._unit, 1);
    this.stats.recovered++;
    if (this._recCount === this.span) {
      this._recHead = (this._recHead + 1) & this._mask;
      this._recCount--;
      this.stats.recoveredExpired++;
    }
    this._recQ[(this._recHead + this._recCount) & this._mask] = seq;
    this._recCount++;
  }
}

