/**
 * ReorderBuffer: restores sequence order with a fixed capacity and releases packets by deadline.
 *
 * Layout: a power-of-two ring of `capacity` entries indexed by `seq & mask`, held in typed arrays
 * allocated once in the constructor, plus one payload slot per entry (a preallocated slab, or
 * slots taken from a {@link SlotSource}). The window is `[nextExpected, nextExpected + capacity)`;
 * nothing outside it is ever stored, so a hostile sequence number cannot grow anything.
 *
 * Delivery (SRT's "too-late packet drop", TLPKTDROP): a packet whose `releaseBase` is t is handed
 * out by {@link ReorderBuffer.poll} at t + latency. A missing sequence holds delivery back until
 * the first packet held after it is due; then the missing run is skipped and reported lost in one
 * event. Timestamps do not decrease with sequence, so the missing packet's own deadline was no
 * later than that moment. A packet arriving after its sequence was skipped is counted `late`.
 *
 * All sequence comparisons go through `seq.ts` (RFC 1982); everything works across the 2^32 wrap.
 * Per-packet methods allocate nothing.
 */
import { DETACHED_ACCOUNT, type MemoryAccount, type SlotSource } from './memory/types.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError, checkInt, checkNumber, checkPowerOfTwo } from './errors.js';
import { seqDiff } from './seq.js';

/** Default policy for a packet beyond the window. */
export const DEFAULT_BEYOND_WINDOW: 'slide' | 'drop' | 'release' = 'slide';
/** Largest capacity accepted (packets). */
export const MAX_REORDER_CAPACITY = 1 << 20;

/** What {@link ReorderBuffer.insert} did with a packet. Network input: never an exception. */
export const InsertStatus = {
  /** Stored; it will be delivered in order (or reported lost if it is slid out). */
  Accepted: 0,
  /** Already held: ignored. */
  Duplicate: 1,
  /** Before the window and not known to have been skipped (already delivered, or too old to tell). */
  TooOld: 2,
  /** Before the window and its sequence was skipped as lost: arrived too late. */
  Late: 3,
  /** Beyond the window with `beyondWindow: 'drop'`: dropped. */
  BeyondWindow: 4,
  /** `length` exceeds `maxPayload`: dropped. */
  Oversize: 5,
  /** The slot source (pool) is exhausted: dropped. */
  NoSlot: 6,
  /**
   * Beyond the window with `beyondWindow: 'release'`: not stored yet. The window start is
   * expedited so the packet fits: {@link ReorderBuffer.poll} now releases the held packets it
   * must make room for at once (early) and gives up the missing ones; drain it, then insert the
   * packet again (it fits).
   */
  NeedsRoom: 7,
} as const;
/** One of the {@link InsertStatus} values. */
export type InsertStatus = (typeof InsertStatus)[keyof typeof InsertStatus];

/** Kind of event written by {@link ReorderBuffer.poll}. */
export const ReorderEvent = {
  None: 0,
  /** A packet: `seq`, `flags`, `frameLength`, `releaseAt`, `payload[offset .. offset+length)`. */
  Packet: 1,
  /** A run of sequences given up: `seq` (first) and `count`. */
  Lost: 2,
} as const;
/** One of the {@link ReorderEvent} values. */
export type ReorderEvent = (typeof ReorderEvent)[keyof typeof ReorderEvent];

const EMPTY = new Uint8Array(0);

/**
 * Reusable output record of {@link ReorderBuffer.poll}: allocate one, pass it to every poll.
 * `payload` is a view of an internal slot, valid until the next `poll()`, `insert()` or `close()`.
 */
export class ReorderOutput {
  /** {@link ReorderEvent} kind. */
  kind: ReorderEvent = ReorderEvent.None;
  /** Sequence of the packet, or first sequence of the lost run. */
  seq = 0;
  /** Packets in the lost run (1 for a packet event). */
  count = 0;
  /** DATA flags as inserted. */
  flags = 0;
  /** frameLength field as inserted. */
  frameLength = 0;
  /** Time the packet was due (releaseBase + latency), ms, receiver clock. */
  releaseAt = 0;
  /** Internal slot holding the payload (borrowed; do not keep). */
  payload: Uint8Array = EMPTY;
  /** Offset of the payload in `payload` (always 0 today). */
  offset = 0;
  /** Payload length, bytes. */
  length = 0;
}

/** Options of {@link ReorderBuffer}. */
export interface ReorderBufferOptions {
  /** Ring size in packets: a power of two in [2, 2^20]; size it from latency x packet rate. */
  capacity: number;
  /** Latency budget L, ms, in [0, 600000]: a packet is released at releaseBase + L. */
  latencyMs: number;
  /** Largest payload stored, bytes, in [1, 65535]. Larger packets get `Oversize`. */
  maxPayload: number;
  /**
   * A packet at or beyond `nextExpected + capacity`: `'slide'` moves the window forward so the
   * packet fits (everything slid over, held or missing, is reported lost: live data wins),
   * `'drop'` drops the packet (SRT's "No room to store incoming packet"), or `'release'` hands
   * the held packets in the way out early instead of discarding them (insert returns
   * `NeedsRoom`: poll, then insert again; missing ones in the way are given up as with a slide).
   * All are counted. Default {@link DEFAULT_BEYOND_WINDOW}.
   */
  beyondWindow?: 'slide' | 'drop' | 'release';
  /** Memory account charged for the tables (and the slab). Default: detached. */
  account?: MemoryAccount;
  /** Slot source for payloads (slotSize >= maxPayload); without it a slab is preallocated. */
  pool?: SlotSource;
}

/** Counters of a {@link ReorderBuffer}; all monotonic, all in packets (sequences for `lost`). */
export class ReorderStats {
  /** Packets stored. */
  accepted = 0;
  /** Packets already held when they arrived again. */
  duplicate = 0;
  /** Packets before the window that were not known to be skipped. */
  tooOld = 0;
  /** Packets that arrived after their sequence had been skipped. */
  late = 0;
  /** Packets beyond the window dropped (`beyondWindow: 'drop'`). */
  beyondWindowDropped = 0;
  /** Window slides forced by a packet beyond the window (`beyondWindow: 'slide'`). */
  slid = 0;
  /** Held packets released before their time to make room (`beyondWindow: 'release'`). */
  expedited = 0;
  /** Held packets discarded by a slide (also counted in `lost`). */
  slidDropped = 0;
  /** Sequences reported lost (skipped at their deadline or slid over). */
  lost = 0;
  /** Packets delivered. */
  delivered = 0;
  /** Packets longer than maxPayload. */
  oversize = 0;
  /** Packets dropped because the slot source was exhausted. */
  noSlot = 0;
  /** Gaps opened (an arrival beyond the newest held sequence + 1). */
  gapsOpened = 0;
}

const HIST_DELIVERED = 1;
const HIST_SKIPPED = 2;

/**
 * Fixed-capacity, deadline-driven reorder buffer (see the module comment).
 *
 * @example
 * ```ts
 * const rb = new ReorderBuffer({ capacity: 1024, latencyMs: 120, maxPayload: 1360 });
 * const out = new ReorderOutput();
 * rb.insert(seq, tsMs + offsetMs, flags, frameLength, datagram, 24, payloadLength, now);
 * while (rb.poll(now, out)) {
 *   if (out.kind === ReorderEvent.Packet) use(out.payload.subarray(out.offset, out.offset + out.length));
 *   else reportLost(out.seq, out.count);
 * }
 * timer.arm(rb.nextTimeout());
 * ```
 */
export class ReorderBuffer {
  // Numeric fields start as `= 0`: with ES2022 class fields a bare `x: number;` is first defined
  // as undefined, V8 then tracks it as a tagged field and every fractional store allocates a
  // HeapNumber. Starting from a small integer keeps the field unboxed (in-place double).
  /** Counters. */
  readonly stats: ReorderStats;
  /** Ring size, packets. */
  readonly capacity: number = 0;
  /** Latency budget, ms. */
  readonly latencyMs: number = 0;
  /** Largest payload accepted, bytes. */
  readonly maxPayload: number = 0;
  /** Time the most recent gap was opened, ms (-Infinity before any); see {@link ReorderStats.gapsOpened}. */
  lastGapAt: number = 0;

  private readonly _mask: number = 0;
  private readonly _slide: boolean;
  private readonly _release: boolean;
  /** `beyondWindow: 'release'`: while `_forcing`, sequences before `_forceTo` are due now. */
  private _forceTo = 0;
  private _forcing = false;
  private readonly _account: MemoryAccount;
  private readonly _pool: SlotSource | null;
  private readonly _reserved: number = 0;
  private readonly _present: Uint8Array;
  private readonly _hist: Uint8Array;
  private readonly _flags: Uint8Array;
  private readonly _frameLength: Uint32Array;
  private readonly _length: Uint32Array;
  private readonly _releaseAt: Float64Array;
  private readonly _since: Float64Array;
  /** Bit i set when ring entry i is a missing sequence inside [base, top). */
  private readonly _missing: Uint32Array;
  private readonly _slots: Array<Uint8Array | null>;
  private _started: boolean;
  private _base: number = 0;
  /** One past the newest sequence received in the window; top - base in [0, capacity]. */
  private _top: number = 0;
  private _heldPackets: number = 0;
  private _heldBytes: number = 0;
  private _missingCount: number = 0;
  private _pendingLossStart: number = 0;
  private _pendingLossCount: number = 0;
  /** Pool slot handed out by the last poll, released at the next call (keeps `out.payload` valid). */
  private _lent: Uint8Array | null;
  private _closed: boolean;
  /** Deadline of a missing run that ends at top (set by fence()); Infinity when none. */
  private _fenceAt = Number.POSITIVE_INFINITY;
  /** True once the window start is final: set by start(), or by the first release/skip/slide. */
  private _fixed: boolean;

  /**
   * @throws SluiceTypeError / SluiceRangeError naming the option when an option is invalid.
   * @throws BudgetExceededError from `account.reserve` when the budget refuses the tables.
   */
  constructor(options: ReorderBufferOptions) {
    if (options === null || typeof options !== 'object') {
      throw new SluiceTypeError('ReorderBuffer options: expected an object');
    }
    const capacity = checkPowerOfTwo('capacity', options.capacity, 2, MAX_REORDER_CAPACITY);
    this.latencyMs = checkNumber('latencyMs', options.latencyMs, 0, 600_000);
    this.maxPayload = checkInt('maxPayload', options.maxPayload, 1, 65_535);
    const policy = options.beyondWindow ?? DEFAULT_BEYOND_WINDOW;
    if (policy !== 'slide' && policy !== 'drop' && policy !== 'release') {
      throw new SluiceRangeError(`beyondWindow: expected 'slide', 'drop' or 'release', got ${String(policy)}`);
    }
    const pool = options.pool ?? null;
    if (pool !== null && !(pool.slotSize >= this.maxPayload)) {
      throw new SluiceRangeError(`pool: expected slotSize >= maxPayload (${this.maxPayload}), got ${String(pool.slotSize)}`);
    }
    this.capacity = capacity;
    this._mask = capacity - 1;
    this._slide = policy === 'slide';
    this._release = policy === 'release';
    this._account = options.account ?? DETACHED_ACCOUNT;
    this._pool = pool;
    const words = (capacity + 31) >>> 5;
    // Tables: present, hist, flags (1 B) + frameLength, length (4 B) + releaseAt, since (8 B).
    const tableBytes = capacity * (1 + 1 + 1 + 4 + 4 + 8 + 8) + words * 4;
    const slabBytes = pool === null ? capacity * this.maxPayload : 0;
    this._reserved = tableBytes + slabBytes;
    this._account.reserve(this._reserved);
    this._present = new Uint8Array(capacity);
    this._hist = new Uint8Array(capacity);
    this._flags = new Uint8Array(capacity);
    this._frameLength = new Uint32Array(capacity);
    this._length = new Uint32Array(capacity);
    this._releaseAt = new Float64Array(capacity);
    this._since = new Float64Array(capacity);
    this._missing = new Uint32Array(words);
    this._slots = new Array<Uint8Array | null>(capacity).fill(null);
    if (pool === null) {
      const slab = new Uint8Array(slabBytes);
      for (let i = 0; i < capacity; i++) this._slots[i] = slab.subarray(i * this.maxPayload, (i + 1) * this.maxPayload);
    }
    this._account.setCapacity(capacity * (pool === null ? this.maxPayload : pool.slotSize), capacity);
    this.stats = new ReorderStats();
    this.lastGapAt = Number.NEGATIVE_INFINITY;
    this._started = false;
    this._base = 0;
    this._top = 0;
    this._heldPackets = 0;
    this._heldBytes = 0;
    this._missingCount = 0;
    this._pendingLossStart = 0;
    this._pendingLossCount = 0;
    this._lent = null;
    this._closed = false;
    this._fixed = false;
  }

  /** Next sequence to deliver (the window start). 0 before the first insert. */
  get nextExpected(): number {
    return this._base >>> 0;
  }
  /** Packets held. */
  get packets(): number {
    return this._heldPackets;
  }
  /** Payload bytes held. */
  get bytes(): number {
    return this._heldBytes;
  }
  /** Gaps opened so far (same as `stats.gapsOpened`; read by the {@link NackScheduler}). */
  get gapsOpened(): number {
    return this.stats.gapsOpened;
  }
  /** Sequences currently missing inside the window (the size of the loss list). */
  get missing(): number {
    return this._missingCount;
  }
  /** Span between the release times of the oldest and newest packets held, ms (0 when < 2). */
  get spanMs(): number {
    if (this._heldPackets < 2) return 0;
    const first = this._base + this._firstPresentOffset();
    return this._newestRelease() - this._releaseAt[first & this._mask]!;
  }

  /**
   * Sets the window start to `seq` before the first insert (e.g. the initial sequence agreed in
   * the handshake), so that losing the very first packets is noticed. Ignored once started.
   * @throws SluiceStateError after close().
   */
  start(seq: number): void {
    if (this._closed) throw new SluiceStateError('ReorderBuffer.start: buffer is closed');
    if (this._started) return;
    this._started = true;
    this._fixed = true;
    this._base = seq | 0;
    this._top = this._base;
  }

  /**
   * Offers one packet. `releaseBase` is its timestamp mapped to the receiver clock (ms); it is
   * released at `releaseBase + latencyMs`. The payload bytes `payload[offset .. offset+length)`
   * are copied into a slot (the caller keeps ownership of `payload`). The first insert sets the
   * window start. Never throws for network input: returns an {@link InsertStatus}.
   * `seq` may be given as uint32 or int32 (`seq | 0`): both name the same 32-bit sequence. Prefer
   * int32 from a hot loop: a uint32 >= 2^31 is boxed into a HeapNumber by the caller when this
   * call is not inlined (16 bytes per packet, measured in bench/buffers.bench.ts).
   * @throws SluiceStateError after close(); SluiceRangeError when offset/length do not fit in payload.
   */
  insert(
    seq: number,
    releaseBase: number,
    flags: number,
    frameLength: number,
    payload: Uint8Array,
    offset: number,
    length: number,
    now: number,
  ): InsertStatus {
    if (this._closed) throw new SluiceStateError('ReorderBuffer.insert: buffer is closed');
    if (!(offset >= 0 && length >= 0 && offset + length <= payload.length)) {
      throw new SluiceRangeError(`insert: expected offset + length <= payload.length (${payload.length}), got offset=${offset} length=${length}`);
    }
    this._returnLent();
    const stats = this.stats;
    seq = seq | 0;
    if (length > this.maxPayload) {
      stats.oversize++;
      return InsertStatus.Oversize;
    }
    if (!this._started) {
      this._started = true;
      this._base = seq;
      this._top = seq;
    }
    const mask = this._mask;
    let d = seqDiff(this._base, seq);
    if (d < 0 && !this._fixed && d > -this.capacity && seqDiff(seq, this._top) <= this.capacity) {
      // Nothing released yet and the start was not fixed: the first packet to arrive need not be
      // the first sent. Extend the window backwards; [seq+1, old base) becomes missing.
      this._extendBack(seq, now);
      d = 0;
    }
    if (d < 0) {
      // Before the window (d === -2^31, the hostile half-space jump, lands here too).
      if (-d <= this.capacity && this._hist[seq & mask] === HIST_SKIPPED) {
        stats.late++;
        return InsertStatus.Late;
      }
      stats.tooOld++;
      return InsertStatus.TooOld;
    }
    const beyond = d >= this.capacity;
    // 'release' with an empty window has nothing to hand out: it slides (over never-seen seqs).
    const slide = this._slide || (this._release && this._base === this._top);
    if (beyond && !slide) {
      if (this._release) {
        const to = _add(seq, 1 - this.capacity);
        if (!this._forcing || seqDiff(this._forceTo, to) > 0) this._forceTo = to;
        this._forcing = true;
        return InsertStatus.NeedsRoom;
      }
      stats.beyondWindowDropped++;
      return InsertStatus.BeyondWindow;
    }
    const idx = seq & mask;
    const fill = !beyond && d < seqDiff(this._base, this._top);
    if (fill && this._present[idx] === 1) {
      stats.duplicate++;
      return InsertStatus.Duplicate;
    }
    // Take the slot before changing any state, so an exhausted pool leaves the window untouched.
    let slot: Uint8Array | null;
    if (this._pool !== null) {
      slot = this._pool.acquire();
      if (slot === null) {
        stats.noSlot++;
        return InsertStatus.NoSlot;
      }
    } else {
      slot = this._slots[idx]!;
    }
    if (beyond) {
      this._slideTo(_add(seq, 1 - this.capacity));
      stats.slid++;
    }
    if (this._pool !== null) this._slots[idx] = slot;
    if (fill) {
      this._missing[idx >>> 5]! &= ~(1 << (idx & 31));
      this._missingCount--;
    } else {
      // A new newest sequence: everything between the old top and it becomes missing since now.
      let s = this._top;
      if (s !== seq) {
        stats.gapsOpened++;
        this.lastGapAt = now;
        while (s !== seq) {
          const j = s & mask;
          this._missing[j >>> 5]! |= 1 << (j & 31);
          this._since[j] = now;
          this._missingCount++;
          s = (s + 1) | 0;
        }
      }
      this._top = _add(seq, 1);
    }
    _copy(payload, offset, slot, 0, length);
    this._present[idx] = 1;
    this._flags[idx] = flags;
    this._frameLength[idx] = frameLength >>> 0;
    this._length[idx] = length;
    this._releaseAt[idx] = releaseBase + this.latencyMs;
    this._heldPackets++;
    this._heldBytes += length;
    stats.accepted++;
    this._account.use(length, 1);
    this._reportSpan();
    return InsertStatus.Accepted;
  }

  /**
   * Declares that the peer sent every sequence before `seq` by `releaseBase` (receiver clock,
   * ms): the ones not held become missing (a lost tail that no later packet revealed, learnt from
   * the sender's KEEPALIVE) and are given up at `releaseBase + latencyMs` unless they arrive or a
   * later packet sets an earlier deadline. Beyond the window the `beyondWindow` policy applies.
   * Returns true when the window grew. Never throws for network input.
   * @throws SluiceStateError after close().
   */
  fence(seq: number, releaseBase: number, now: number): boolean {
    if (this._closed) throw new SluiceStateError('ReorderBuffer.fence: buffer is closed');
    if (!this._started) return false;
    seq = seq | 0;
    if (seqDiff(this._top, seq) <= 0) return false;
    if (seqDiff(this._base, seq) > this.capacity) {
      if (!this._slide && !this._release) {
        this.stats.beyondWindowDropped++;
        return false;
      }
      this._slideTo(_add(seq, -this.capacity));
      this.stats.slid++;
    }
    const mask = this._mask;
    this.stats.gapsOpened++;
    this.lastGapAt = now;
    for (let s = this._top; s !== seq; s = (s + 1) | 0) {
      const j = s & mask;
      this._missing[j >>> 5]! |= 1 << (j & 31);
      this._since[j] = now;
      this._missingCount++;
    }
    this._top = seq;
    this._fenceAt = releaseBase + this.latencyMs;
    return true;
  }

  /**
   * Writes the next event due at `now` into `out` and returns true, or returns false when nothing
   * is due. Events come in strictly increasing sequence order: a packet whose release time has
   * come, or a run of sequences given up (slid over, or missing when the next held packet is due).
   * `out.payload` is borrowed until the next poll()/insert()/close().
   * @throws SluiceStateError after close().
   */
  poll(now: number, out: ReorderOutput): boolean {
    if (this._closed) throw new SluiceStateError('ReorderBuffer.poll: buffer is closed');
    this._returnLent();
    if (this._pendingLossCount > 0) {
      out.kind = ReorderEvent.Lost;
      out.seq = this._pendingLossStart >>> 0;
      out.count = this._pendingLossCount;
      out.payload = EMPTY;
      out.length = 0;
      this._pendingLossCount = 0;
      return true;
    }
    const base = this._base;
    if (base === this._top) return false;
    const mask = this._mask;
    const idx = base & mask;
    // 'release' policy: sequences before _forceTo are due now, whatever their time.
    const forced = this._forcing && seqDiff(base, this._forceTo) > 0;
    if (!forced) this._forcing = false;
    if (this._present[idx] === 1) {
      if (!(this._releaseAt[idx]! <= now)) {
        if (!forced) return false;
        this.stats.expedited++;
      }
      const length = this._length[idx]!;
      const slot = this._slots[idx]!;
      out.kind = ReorderEvent.Packet;
      out.seq = base >>> 0;
      out.count = 1;
      out.flags = this._flags[idx]!;
      out.frameLength = this._frameLength[idx]!;
      out.releaseAt = this._releaseAt[idx]!;
      out.payload = slot;
      out.offset = 0;
      out.length = length;
      this._present[idx] = 0;
      this._hist[idx] = HIST_DELIVERED;
      if (this._pool !== null) {
        this._lent = slot;
        this._slots[idx] = null;
      }
      this._heldPackets--;
      this._heldBytes -= length;
      this._base = _add(base, 1);
      this._fixed = true;
      this.stats.delivered++;
      this._account.use(-length, -1);
      this._reportSpan();
      return true;
    }
    // Missing at the head: wait until the first held packet after the gap is due (TLPKTDROP).
    const off = this._firstPresentOffset();
    let next = _add(base, off);
    if (!(this._dueAt(off) <= now)) {
      if (!forced) return false;
      if (seqDiff(this._forceTo, next) > 0) next = this._forceTo;
    }
    const n = seqDiff(base, next);
    for (let s = base; s !== next; s = (s + 1) | 0) {
      const j = s & mask;
      this._missing[j >>> 5]! &= ~(1 << (j & 31));
      this._hist[j] = HIST_SKIPPED;
    }
    this._missingCount -= n;
    this._base = next;
    this._fixed = true;
    this.stats.lost += n;
    out.kind = ReorderEvent.Lost;
    out.seq = base >>> 0;
    out.count = n;
    out.payload = EMPTY;
    out.length = 0;
    return true;
  }

  /**
   * Earliest time (ms) at which {@link poll} may return something: -Infinity when an event is
   * due already, Infinity when nothing is held. Cheap (a word scan of the missing bitmap at most).
   */
  nextTimeout(): number {
    if (this._closed) return Number.POSITIVE_INFINITY;
    if (this._pendingLossCount > 0) return Number.NEGATIVE_INFINITY;
    if (this._base === this._top) return Number.POSITIVE_INFINITY;
    if (this._forcing && seqDiff(this._base, this._forceTo) > 0) return Number.NEGATIVE_INFINITY;
    return this._dueAt(this._firstPresentOffset());
  }

  /**
   * The loss list: writes up to `max` runs of missing sequences, oldest first, as `starts[i]`,
   * `counts[i]` and `since[i]` (ms, when the gap was noticed) and, when `deadlines` is given,
   * `deadlines[i]`: the release time of the packet held right after the run, the moment the
   * run will be given up. Returns the number of runs written. Cost: one pass over the missing
   * bitmap (capacity / 32 words) plus the runs. Arrays are caller-owned and must hold `max`.
   */
  copyLossRanges(starts: Uint32Array, counts: Uint32Array, since: Float64Array, max: number, deadlines?: Float64Array): number {
    if (this._missingCount === 0 || this._closed) return 0;
    const mask = this._mask;
    const missing = this._missing;
    let n = 0;
    let s = this._base;
    const top = this._top;
    while (n < max && s !== top) {
      // Skip present entries, 32 at a time when a whole word is clear.
      let j = s & mask;
      if ((j & 31) === 0 && missing[j >>> 5] === 0 && seqDiff(s, top) >= 32) {
        s = (s + 32) | 0;
        continue;
      }
      if ((missing[j >>> 5]! & (1 << (j & 31))) === 0) {
        s = (s + 1) | 0;
        continue;
      }
      const start = s;
      let count = 0;
      while (s !== top) {
        j = s & mask;
        const w = missing[j >>> 5]!;
        if ((j & 31) === 0 && w === -1 >>> 0 && seqDiff(s, top) >= 32) {
          s = (s + 32) | 0;
          count += 32;
          continue;
        }
        if ((w & (1 << (j & 31))) === 0) break;
        s = (s + 1) | 0;
        count++;
      }
      starts[n] = start;
      counts[n] = count;
      since[n] = this._since[start & mask]!;
      if (deadlines !== undefined) deadlines[n] = s === top ? this._fenceAt : this._releaseAt[s & mask]!;
      n++;
    }
    return n;
  }

  /**
   * Releases everything: pool slots go back to the pool, occupancy and reservations are returned
   * to the account. Idempotent. Afterwards insert/poll throw.
   */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._returnLent();
    if (this._pool !== null) {
      for (let i = 0; i < this.capacity; i++) {
        const slot = this._slots[i];
        if (slot !== null && slot !== undefined) {
          this._pool.release(slot);
          this._slots[i] = null;
        }
      }
    }
    this._account.use(-this._heldBytes, -this._heldPackets);
    this._account.setSpanMs(0);
    this._heldBytes = 0;
    this._heldPackets = 0;
    this._present.fill(0);
    this._missing.fill(0);
    this._missingCount = 0;
    this._account.unreserve(this._reserved);
  }

  /**
   * Reports the span to the account in whole milliseconds: a small integer stays unboxed
   * when passed to the (polymorphic) account, where a fractional double would allocate a
   * HeapNumber per packet.
   */
  private _reportSpan(): void {
    let span = 0;
    if (this._heldPackets >= 2) {
      const mask = this._mask;
      span = this._newestRelease() - this._releaseAt[(this._base + this._firstPresentOffset()) & mask]!;
    }
    this._account.setSpanMs((span + 0.5) | 0);
  }

  private _returnLent(): void {
    const lent = this._lent;
    if (lent !== null) {
      this._lent = null;
      this._pool!.release(lent);
    }
  }

  /**
   * Distance from the window start to the first held sequence (requires one before top).
   * Returns a small offset rather than the sequence: a sequence >= 2^31 returned from a call
   * that is not inlined would be boxed into a HeapNumber, an allocation per packet.
   */
  private _firstPresentOffset(): number {
    const mask = this._mask;
    const missing = this._missing;
    const base = this._base;
    // Bounded by top: after a fence() the whole window may be missing.
    const limit = seqDiff(base, this._top);
    let o = 0;
    while (o < limit) {
      const j = (base + o) & mask;
      const w = missing[j >>> 5]!;
      if ((j & 31) === 0 && w === -1 >>> 0) {
        o += 32;
        continue;
      }
      if ((w & (1 << (j & 31))) === 0) return o;
      o++;
    }
    return limit;
  }

  /** Release time of the newest held packet (top - 1, or before a fenced run; needs one held). */
  private _newestRelease(): number {
    const mask = this._mask;
    let s = (this._top - 1) | 0;
    while (this._present[s & mask] !== 1 && s !== this._base) s = (s - 1) | 0;
    return this._releaseAt[s & mask]!;
  }

  /** Release time of the first held packet at offset `o` from base, or the fence's deadline at top. */
  private _dueAt(o: number): number {
    const s = _add(this._base, o);
    return s === this._top ? this._fenceAt : this._releaseAt[s & this._mask]!;
  }


  /** Moves the window start back to `seq` (before anything was released); the skipped-over run becomes missing. */
  private _extendBack(seq: number, now: number): void {
    const oldBase = this._base;
    if (oldBase === this._top) {
      // Nothing held (the first packet was refused): simply restart the window at seq.
      this._base = seq;
      this._top = seq;
      return;
    }
    const mask = this._mask;
    if (_add(seq, 1) !== oldBase) {
      this.stats.gapsOpened++;
      this.lastGapAt = now;
    }
    // Mark [seq, oldBase) missing; the caller's fill path then clears seq itself.
    for (let s = seq; s !== oldBase; s = (s + 1) | 0) {
      const j = s & mask;
      this._missing[j >>> 5]! |= 1 << (j & 31);
      this._since[j] = now;
      this._missingCount++;
    }
    this._base = seq;
  }

  /**
   * Moves the window start to `newBase` (after the current start): every sequence slid over is
   * given up (held packets are discarded) and queued as one lost run for the next poll.
   */
  private _slideTo(newBase: number): void {
    const mask = this._mask;
    const base = this._base;
    const n = seqDiff(base, newBase);
    const held = seqDiff(base, this._top);
    // Only the first min(n, held) entries hold state; history covers the last `capacity` slid.
    const clear = n < held ? n : held;
    let s = base;
    for (let k = 0; k < clear; k++) {
      const j = s & mask;
      if (this._present[j] === 1) {
        this._present[j] = 0;
        const length = this._length[j]!;
        this._heldPackets--;
        this._heldBytes -= length;
        this._account.use(-length, -1);
        this.stats.slidDropped++;
        if (this._pool !== null) {
          this._pool.release(this._slots[j]!);
          this._slots[j] = null;
        }
      } else {
        this._missing[j >>> 5]! &= ~(1 << (j & 31));
        this._missingCount--;
      }
      s = (s + 1) | 0;
    }
    const histFrom = n > this.capacity ? _add(newBase, -this.capacity) : base;
    for (let t = histFrom; t !== newBase; t = (t + 1) | 0) this._hist[t & mask] = HIST_SKIPPED;
    // Queue the run [base, newBase) for poll, merging with a run queued earlier (it ends at base).
    let total = this._pendingLossCount + n;
    if (this._pendingLossCount === 0) this._pendingLossStart = base;
    if (total > 0x7fff_ffff) {
      // A run this long cannot be expressed in the 32-bit space: report its newest 2^31 - 1.
      total = 0x7fff_ffff;
      this._pendingLossStart = _add(newBase, -total);
    }
    this._pendingLossCount = total;
    this.stats.lost += n;
    this._base = newBase;
    this._fixed = true;
    if (seqDiff(this._top, newBase) > 0) this._top = newBase;
  }
}

/**
 * `a + n` modulo 2^32 as a signed 32-bit integer. Sequence numbers are kept in this int32 form
 * inside the buffer (seq.ts compares either form alike): a uint32 >= 2^31 is not a small
 * integer in V8, so passing or returning one across a call that is not inlined allocates a
 * HeapNumber, once per packet for half of all sessions. Public outputs are converted back
 * with `>>> 0`.
 */
function _add(a: number, n: number): number {
  return (a + n) | 0;
}

/** Copies `len` bytes (a whole-array source or a short range allocate nothing; a payload takes one view). */
function _copy(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  if (srcOff === 0 && len === src.length) {
    dst.set(src, dstOff);
    return;
  }
  // A payload is ~1.3 KB: a byte loop costs ~2.5 µs, a native copy through a short-lived view
  // ~0.1 µs (measured here; the view is one young-generation object, see ../bytes.ts).
  if (len > 64) {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
    return;
  }
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
}
