/**
 * A seeded, fake-clock model of one direction of a network path, for tests, benchmarks, the
 * demo and `sluice impair`.
 *
 * It is a pure state machine in the quinn-proto style: datagrams go in with
 * {@link LinkModel.send} at time `now`, come out with {@link LinkModel.poll} when they are due,
 * and {@link LinkModel.nextTimeout} says when the next one will be. The same seed and the same
 * calls give the same output, bit for bit, so a failing test replays exactly.
 *
 * What a datagram goes through, in this order (each stage counts what it drops):
 * 1. size check: longer than `maxDatagram` -> `droppedOversize`;
 * 2. scheduled outages: sent while an outage is on -> `droppedOutage` (what is already in
 *    flight still arrives);
 * 3. loss: Bernoulli with probability `loss`, or a Gilbert-Elliott two-state chain when `burst`
 *    is set (p = P(good -> bad), r = P(bad -> good) per packet, loss `burst.lossBad` (default 1)
 *    in the bad state and `loss` in the good state) -> `droppedLoss` (good state / Bernoulli) or
 *    `droppedBurst` (bad state). Mean burst length is 1/r packets, mean gap 1/p packets
 *    (Gilbert 1960, Elliott 1963; the same parameters as netem's `loss gemodel p r 1-h 1-k`);
 * 4. duplication: with probability `duplicate` a second copy follows the first through the
 *    remaining stages (it has its own delay draw, so it may arrive first);
 * 5. bottleneck: when `rateBps` > 0, a drop-tail FIFO of `queueBytes` feeding a link of
 *    `rateBps` bits/s; a datagram that does not fit behind the backlog -> `droppedQueue`;
 *    otherwise it leaves the bottleneck after its serialisation time;
 * 6. storage: the model holds at most `capacity` datagrams and `bufferBytes` of payload in
 *    flight (preallocated); beyond -> `droppedFull` (a bound of the model, not of the path:
 *    size it from rate x delay);
 * 7. propagation: it arrives `delayMs + U[0, jitterMs)` after leaving the bottleneck, plus
 *    `reorderDelayMs` with probability `reorder` (explicit reordering). Independent jitter
 *    draws reorder packets sent closer together than the jitter, like netem; set
 *    `preserveOrder` to keep jitter from reordering (explicit reordering still applies).
 *
 * Delivery is therefore never earlier than send time + `delayMs`.
 *
 * Memory: every array is allocated in the constructor and reserved on the `account`;
 * payloads are copied into preallocated slots (or slots taken from a {@link SlotSource}).
 * `send` and `poll` allocate nothing.
 *
 * @example
 * const link = new LinkModel({ loss: 0.05, delayMs: 20, jitterMs: 5, seed: 1 });
 * link.send(datagram, 0, datagram.length, now);
 * const out = new Uint8Array(link.maxDatagram);
 * for (let n = link.poll(now, out); n >= 0; n = link.poll(now, out)) deliver(out.subarray(0, n));
 * const wakeAt = link.nextTimeout(); // Infinity when nothing is in flight
 */
import { checkInt, checkNumber, SluiceRangeError, SluiceStateError, SluiceTypeError } from './errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount, type SlotSource } from './memory/types.js';
import { SeededRandom, DEFAULT_RANDOM_SEED } from './random.js';

/** Default number of datagrams a {@link LinkModel} can hold in flight. */
export const DEFAULT_LINK_CAPACITY = 1024;
/** Default largest datagram a {@link LinkModel} carries, in bytes (an Ethernet MTU). */
export const DEFAULT_LINK_MAX_DATAGRAM = 1500;
/** Default bottleneck queue, in bytes (used only when `rateBps` > 0). 64 KiB = 52 ms at 10 Mbit/s. */
export const DEFAULT_QUEUE_BYTES = 65536;
/** Storage chunk of a {@link LinkModel} (bytes): a datagram takes ceil(length / chunk) chunks. */
export const LINK_CHUNK_BYTES = 2048;
/** Default extra delay of an explicitly reordered datagram, in ms. */
export const DEFAULT_REORDER_DELAY_MS = 20;
/** Default loss probability in the bad state of the Gilbert-Elliott chain. */
export const DEFAULT_BURST_LOSS_BAD = 1;

/** Largest delay, jitter, reorder delay or outage time accepted, in ms (one hour). */
const MAX_MS = 3_600_000;
/** Largest rate accepted, bits/s (1 Tbit/s). */
const MAX_RATE_BPS = 1e12;
/** Largest capacity accepted, in datagrams. */
const MAX_CAPACITY = 1 << 20;

/** Gilbert-Elliott burst loss parameters (per packet transition probabilities). */
export interface GilbertElliottOptions {
  /** P(good -> bad) per packet, in [0, 1]. Mean good run: 1/p packets. */
  readonly p: number;
  /** P(bad -> good) per packet, in (0, 1]. Mean bad run (burst): 1/r packets. */
  readonly r: number;
  /** Loss probability in the bad state, in [0, 1]. Default {@link DEFAULT_BURST_LOSS_BAD}. */
  readonly lossBad?: number;
}

/** A scheduled outage: everything sent in [epochMs + atMs, epochMs + atMs + durationMs) is lost. */
export interface OutageOptions {
  /** Start, ms after the model's `epochMs`, in [0, 3600000]. */
  readonly atMs: number;
  /** Length in ms, in (0, 3600000]. */
  readonly durationMs: number;
}

/**
 * What a path does to datagrams: the part of the {@link LinkModel} options that
 * {@link parseImpairment} reads from a compact string. Every field is optional; the empty
 * object is a perfect link (no loss, no delay, no rate limit).
 */
export interface ImpairmentOptions {
  /** Bernoulli loss probability in [0, 1] (the good-state loss when `burst` is set). Default 0. */
  readonly loss?: number;
  /** Gilbert-Elliott burst loss; `null`/absent for none. */
  readonly burst?: GilbertElliottOptions | null;
  /** Fixed one-way delay in ms, [0, 3600000]. Default 0. */
  readonly delayMs?: number;
  /** Jitter in ms: a uniform extra delay in [0, jitterMs), [0, 3600000]. Default 0. */
  readonly jitterMs?: number;
  /** When true, jitter never reorders (a datagram never overtakes an earlier one). Default false. */
  readonly preserveOrder?: boolean;
  /** Probability in [0, 1] that a datagram is held back `reorderDelayMs` extra. Default 0. */
  readonly reorder?: number;
  /** Extra delay of a reordered datagram in ms, [0, 3600000]. Default {@link DEFAULT_REORDER_DELAY_MS}. */
  readonly reorderDelayMs?: number;
  /** Duplication probability in [0, 1]. Default 0. */
  readonly duplicate?: number;
  /** Bottleneck rate in bits/s, [0, 1e12]; 0 means unlimited (no queue). Default 0. */
  readonly rateBps?: number;
  /** Bottleneck drop-tail queue in bytes, [1, 2^31 - 1]. Default {@link DEFAULT_QUEUE_BYTES}. */
  readonly queueBytes?: number;
  /** Scheduled outages (any order, may overlap). Default none. */
  readonly outages?: readonly OutageOptions[];
  /** PRNG seed, integer in [0, 2^32 - 1]. Default {@link DEFAULT_RANDOM_SEED}. */
  readonly seed?: number;
}

/** Options of a {@link LinkModel}: the impairment plus the model's own bounds. */
export interface LinkModelOptions extends ImpairmentOptions {
  /** Datagrams held in flight at most, [1, 2^20]. Default {@link DEFAULT_LINK_CAPACITY}. */
  readonly capacity?: number;
  /**
   * Largest datagram carried, bytes, [1, 65535]. Default {@link DEFAULT_LINK_MAX_DATAGRAM}, or
   * `slots.slotSize` when `slots` is given (then it must not exceed the slot size).
   */
  readonly maxDatagram?: number;
  /**
   * Payload bytes the model can hold in flight in its own storage, [maxDatagram, 2^31 - 1],
   * rounded up to whole chunks.
   * Storage is cut into chunks of min(maxDatagram, 2048) bytes and a datagram takes as many as
   * it needs, so a large `maxDatagram` does not multiply memory by `capacity`. Default
   * `max(capacity x min(maxDatagram, 2048), maxDatagram)`. Ignored when `slots` is given.
   */
  readonly bufferBytes?: number;
  /** The time (same clock as `now`) that outage times count from. Default 0. */
  readonly epochMs?: number;
  /** Memory account charged for the model's arrays and occupancy. Default detached. */
  readonly account?: MemoryAccount;
  /** Take payload slots from this pool instead of preallocating a slab. */
  readonly slots?: SlotSource;
}

/** Counters of one {@link LinkModel}. Read them at any time; they only grow (except `held`). */
export interface LinkStats {
  /** Datagrams offered to `send` (duplicates not included). */
  sent: number;
  /** Bytes offered to `send`. */
  sentBytes: number;
  /** Datagrams handed out by `poll` (duplicates included). */
  delivered: number;
  /** Bytes handed out by `poll`. */
  deliveredBytes: number;
  /** Extra copies created by duplication (and accepted into the model). */
  duplicated: number;
  /** Datagrams delivered after a datagram that was sent later (duplicate copies not counted). */
  reordered: number;
  /** Dropped by Bernoulli loss (or by loss in the good state of the burst chain). */
  droppedLoss: number;
  /** Dropped in the bad state of the Gilbert-Elliott chain. */
  droppedBurst: number;
  /** Dropped by the bottleneck's drop-tail queue. */
  droppedQueue: number;
  /** Dropped during a scheduled outage. */
  droppedOutage: number;
  /** Dropped because the model's storage was full: `capacity`, `bufferBytes` or the slot pool. */
  droppedFull: number;
  /** Dropped because longer than `maxDatagram`. */
  droppedOversize: number;
  /** Datagrams in flight now. */
  held: number;
  /** Most datagrams ever in flight at once. */
  heldHighWater: number;
}

function _newStats(): LinkStats {
  return {
    sent: 0,
    sentBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    duplicated: 0,
    reordered: 0,
    droppedLoss: 0,
    droppedBurst: 0,
    droppedQueue: 0,
    droppedOutage: 0,
    droppedFull: 0,
    droppedOversize: 0,
    held: 0,
    heldHighWater: 0,
  };
}

/** Total datagrams dropped by a model, all reasons. */
export function totalDropped(s: LinkStats): number {
  return s.droppedLoss + s.droppedBurst + s.droppedQueue + s.droppedOutage + s.droppedFull + s.droppedOversize;
}

/** Byte-by-byte copy: no view object is created (a `subarray` per packet would allocate). */
function _copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i] as number;
}

/** Per-slot flag: this entry is a duplicate copy (not counted as reordered). */
const FLAG_DUPLICATE = 1;

/**
 * One direction of a simulated path: loss (Bernoulli and Gilbert-Elliott bursts), delay,
 * jitter, reordering, duplication, a rate-limited bottleneck with a drop-tail queue, and
 * scheduled outages, all driven by a seeded PRNG and the caller's clock.
 *
 * Ownership: `send` copies the bytes it is given (the caller may reuse its buffer at once);
 * `poll` writes into the caller's `out`.
 *
 * @example
 * const link = new LinkModel({ burst: { p: 0.01, r: 0.1 }, delayMs: 20, rateBps: 10e6, seed: 7 });
 */
export class LinkModel {
  /** Largest datagram accepted, bytes. */
  readonly maxDatagram: number;
  /** Datagrams held in flight at most. */
  readonly capacity: number;
  /** Counters; updated in place (the same object for the model's life). */
  readonly stats: LinkStats;

  private _loss: number;
  private readonly _burstP: number;
  private readonly _burstR: number;
  private readonly _burstLossBad: number;
  private readonly _burst: boolean;
  private readonly _delayMs: number;
  private readonly _jitterMs: number;
  private readonly _preserveOrder: boolean;
  private readonly _reorder: number;
  private readonly _reorderDelayMs: number;
  private readonly _duplicate: number;
  private readonly _rateBps: number;
  private readonly _queueBytes: number;
  private readonly _outageStart: Float64Array;
  private readonly _outageEnd: Float64Array;

  // One PRNG stream per concern (derive), so enabling one impairment does not shift another's draws.
  private readonly _rngLoss: SeededRandom;
  private readonly _rngBurst: SeededRandom;
  private readonly _rngJitter: SeededRandom;
  private readonly _rngReorder: SeededRandom;
  private readonly _rngDup: SeededRandom;

  private readonly _account: MemoryAccount;
  private readonly _pool: SlotSource | null;
  private readonly _reservedBytes: number;
  /** Pool slot held by each entry (pool mode), `null` when free. */
  private readonly _poolSlots: Array<Uint8Array | null>;
  /** Own storage (no pool): chunk size, fixed chunk views made once (no per-packet subarray). */
  private readonly _chunk: number;
  private readonly _chunkViews: Uint8Array[];
  /** Next chunk of the same datagram, -1 at the end. */
  private readonly _chunkNext: Int32Array;
  /** Stack of free chunks. */
  private readonly _chunkFree: Int32Array;
  private _chunkTop = 0;
  /** First chunk of each entry's datagram (-1 for an empty datagram). */
  private readonly _first: Int32Array;
  private readonly _len: Int32Array;
  private readonly _due: Float64Array;
  /** Enqueue counter per entry: FIFO tie-break among equal due times. */
  private readonly _enq: Float64Array;
  /** Send index per entry (a duplicate shares its original's): reorder detection. */
  private readonly _idx: Float64Array;
  private readonly _flags: Uint8Array;
  /** Binary min-heap of slot indices ordered by (due, enq). */
  private readonly _heap: Int32Array;
  private _heapSize: number;
  /** Stack of free slot indices. */
  private readonly _free: Int32Array;
  private _freeTop: number;

  /**
   * Fractional-ms clock state, [0] = when the bottleneck is free again, [1] = latest due time
   * handed out in FIFO mode, [2] = scratch: departure time of the datagram being enqueued,
   * [3] = highest send index delivered so far (reorder detection; read from a Float64Array,
   * it would be boxed if stored into a field), [4] = scratch: the jitter draw. A Float64Array because V8 boxes a fractional number stored into an
   * object field (ES2022 fields start as `undefined`): one heap number per packet otherwise.
   */
  private readonly _clock: Float64Array;
  // Counters are initialised at the declaration for the same reason (they stay integers).
  private _bad = false;
  private _enqCounter = 0;
  private _sendIndex = 0;
  private _heldBytes = 0;
  private _closed = false;

  /**
   * @throws SluiceRangeError / SluiceTypeError naming the option when an option is out of range
   *   or of the wrong type; BudgetExceededError from `account.reserve` when memory is refused.
   */
  constructor(options: LinkModelOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new SluiceTypeError(`options: expected an object, got ${options === null ? 'null' : typeof options}`);
    }
    const o = options;
    this._loss = o.loss === undefined ? 0 : checkNumber('loss', o.loss, 0, 1);
    const burst = o.burst ?? null;
    if (burst !== null && typeof burst !== 'object') {
      throw new SluiceTypeError(`burst: expected an object { p, r, lossBad? } or null, got ${typeof burst}`);
    }
    this._burst = burst !== null;
    this._burstP = burst === null ? 0 : checkNumber('burst.p', burst.p, 0, 1);
    this._burstR = burst === null ? 1 : checkNumber('burst.r', burst.r, 0, 1);
    if (burst !== null && this._burstR === 0) {
      throw new SluiceRangeError('burst.r: expected a number in (0, 1] (r = 0 never leaves the bad state), got 0');
    }
    this._burstLossBad =
      burst === null || burst.lossBad === undefined ? DEFAULT_BURST_LOSS_BAD : checkNumber('burst.lossBad', burst.lossBad, 0, 1);
    this._delayMs = o.delayMs === undefined ? 0 : checkNumber('delayMs', o.delayMs, 0, MAX_MS);
    this._jitterMs = o.jitterMs === undefined ? 0 : checkNumber('jitterMs', o.jitterMs, 0, MAX_MS);
    if (o.preserveOrder !== undefined && typeof o.preserveOrder !== 'boolean') {
      throw new SluiceTypeError(`preserveOrder: expected a boolean, got ${typeof o.preserveOrder}`);
    }
    this._preserveOrder = o.preserveOrder === true;
    this._reorder = o.reorder === undefined ? 0 : checkNumber('reorder', o.reorder, 0, 1);
    this._reorderDelayMs =
      o.reorderDelayMs === undefined ? DEFAULT_REORDER_DELAY_MS : checkNumber('reorderDelayMs', o.reorderDelayMs, 0, MAX_MS);
    this._duplicate = o.duplicate === undefined ? 0 : checkNumber('duplicate', o.duplicate, 0, 1);
    this._rateBps = o.rateBps === undefined ? 0 : checkNumber('rateBps', o.rateBps, 0, MAX_RATE_BPS);
    this._queueBytes = o.queueBytes === undefined ? DEFAULT_QUEUE_BYTES : checkInt('queueBytes', o.queueBytes, 1, 0x7fff_ffff);
    const seed = o.seed === undefined ? DEFAULT_RANDOM_SEED : checkInt('seed', o.seed, 0, 0xffff_ffff);
    const epochMs = o.epochMs === undefined ? 0 : checkNumber('epochMs', o.epochMs, -Number.MAX_VALUE, Number.MAX_VALUE);

    const outages = o.outages ?? [];
    if (!Array.isArray(outages)) throw new SluiceTypeError(`outages: expected an array, got ${typeof outages}`);
    if (outages.length > 1024) throw new SluiceRangeError(`outages: expected at most 1024 entries, got ${outages.length}`);
    this._outageStart = new Float64Array(outages.length);
    this._outageEnd = new Float64Array(outages.length);
    for (let i = 0; i < outages.length; i++) {
      const out = outages[i] as OutageOptions | undefined;
      if (out === null || typeof out !== 'object') {
        throw new SluiceTypeError(`outages[${i}]: expected an object { atMs, durationMs }, got ${out === null ? 'null' : typeof out}`);
      }
      const at = checkNumber(`outages[${i}].atMs`, out.atMs, 0, MAX_MS);
      const dur = checkNumber(`outages[${i}].durationMs`, out.durationMs, 0, MAX_MS);
      if (dur === 0) throw new SluiceRangeError(`outages[${i}].durationMs: expected a number in (0, ${MAX_MS}], got 0`);
      this._outageStart[i] = epochMs + at;
      this._outageEnd[i] = epochMs + at + dur;
    }

    const pool = o.slots ?? null;
    if (pool !== null && (typeof pool !== 'object' || typeof pool.acquire !== 'function' || typeof pool.release !== 'function')) {
      throw new SluiceTypeError('slots: expected a SlotSource { slotSize, acquire(), release(buf) }');
    }
    this._pool = pool;
    this.capacity = o.capacity === undefined ? DEFAULT_LINK_CAPACITY : checkInt('capacity', o.capacity, 1, MAX_CAPACITY);
    if (pool !== null) {
      this.maxDatagram = o.maxDatagram === undefined ? Math.min(pool.slotSize, 65535) : checkInt('maxDatagram', o.maxDatagram, 1, 65535);
      if (this.maxDatagram > pool.slotSize) {
        throw new SluiceRangeError(`maxDatagram: expected an integer in [1, ${pool.slotSize}] (the slot size of slots), got ${this.maxDatagram}`);
      }
    } else {
      this.maxDatagram = o.maxDatagram === undefined ? DEFAULT_LINK_MAX_DATAGRAM : checkInt('maxDatagram', o.maxDatagram, 1, 65535);
    }

    const rng = new SeededRandom(seed);
    this._rngLoss = rng.derive('loss');
    this._rngBurst = rng.derive('burst');
    this._rngJitter = rng.derive('jitter');
    this._rngReorder = rng.derive('reorder');
    this._rngDup = rng.derive('duplicate');

    const account = o.account ?? DETACHED_ACCOUNT;
    this._account = account;
    const c = this.capacity;
    // Index tables: len 4 + due 8 + enq 8 + idx 8 + flags 1 + heap 4 + free 4 = 37 bytes per slot,
    // plus the payload slab (or 8 bytes per slot of references into the pool).
    const chunk = Math.min(this.maxDatagram, LINK_CHUNK_BYTES);
    const bufferBytes =
      pool !== null ? 0 : o.bufferBytes === undefined ? Math.max(c * chunk, this.maxDatagram) : checkInt('bufferBytes', o.bufferBytes, this.maxDatagram, 0x7fff_ffff);
    const chunks = Math.ceil(bufferBytes / chunk);
    // Index tables: len 4 + due 8 + enq 8 + idx 8 + flags 1 + heap 4 + free 4 + first 4 = 41 bytes
    // per entry; chunks cost their bytes + 8 (next, free); a pool entry costs one reference (8).
    const tableBytes = c * 41 + this._outageStart.byteLength * 2;
    const payloadBytes = pool === null ? chunks * (chunk + 8) : c * 8;
    this._reservedBytes = tableBytes + payloadBytes;
    account.reserve(this._reservedBytes);
    this._poolSlots = pool === null ? [] : new Array<Uint8Array | null>(c).fill(null);
    this._chunk = chunk;
    this._chunkViews = [];
    this._chunkNext = new Int32Array(chunks);
    this._chunkFree = new Int32Array(chunks);
    const slab = new Uint8Array(chunks * chunk);
    for (let i = 0; i < chunks; i++) {
      this._chunkViews.push(slab.subarray(i * chunk, (i + 1) * chunk));
      this._chunkFree[i] = chunks - 1 - i;
    }
    this._chunkTop = chunks;
    this._first = new Int32Array(c);
    this._len = new Int32Array(c);
    this._due = new Float64Array(c);
    this._enq = new Float64Array(c);
    this._idx = new Float64Array(c);
    this._flags = new Uint8Array(c);
    this._heap = new Int32Array(c);
    this._heapSize = 0;
    this._free = new Int32Array(c);
    // Free stack popped from the top: slot 0 is handed out first.
    for (let i = 0; i < c; i++) this._free[i] = c - 1 - i;
    this._freeTop = c;
    account.setCapacity(pool === null ? chunks * chunk : c * this.maxDatagram, c);

    this._bad = false;
    this._clock = new Float64Array(5);
    this._clock[0] = -Infinity;
    this._clock[1] = -Infinity;
    this._enqCounter = 0;
    this._sendIndex = 0;
    this._clock[3] = -1;
    this._heldBytes = 0;
    this._closed = false;
    this.stats = _newStats();
  }

  /** True while the Gilbert-Elliott chain is in its bad state (for tests and displays). */
  get inBurst(): boolean {
    return this._bad;
  }

  /** Bytes of payload in flight now. */
  get heldBytes(): number {
    return this._heldBytes;
  }

  /** The Bernoulli loss probability (the good-state loss when `burst` is set). */
  get loss(): number {
    return this._loss;
  }

  /**
   * Changes the Bernoulli loss probability from the next datagram on (a path that degrades or
   * recovers). @throws SluiceRangeError outside [0, 1].
   */
  setLoss(loss: number): void {
    this._loss = checkNumber('loss', loss, 0, 1);
  }

  /**
   * Offers one datagram to the link at time `now` (ms). The bytes are copied; the model keeps
   * no reference to `bytes`. Never throws for a datagram the path would drop: it is counted.
   * @param bytes source buffer; `bytes[offset .. offset + length)` is the datagram.
   * @param now current time in ms (same clock as `poll`; should not go backwards).
   * @throws SluiceRangeError when offset/length lie outside `bytes` (caller misuse);
   *   SluiceStateError after {@link close}.
   */
  send(bytes: Uint8Array, offset: number, length: number, now: number): void {
    if (this._closed) throw new SluiceStateError('LinkModel.send: the model is closed');
    if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length && (offset | 0) === offset && (length | 0) === length)) {
      throw new SluiceRangeError(
        `send: expected integers offset >= 0, length >= 0 with offset + length <= bytes.length (${bytes.length}), got offset=${offset} length=${length}`,
      );
    }
    const st = this.stats;
    st.sent++;
    st.sentBytes += length;
    if (length > this.maxDatagram) {
      st.droppedOversize++;
      return;
    }
    for (let i = 0; i < this._outageStart.length; i++) {
      if (now >= (this._outageStart[i] as number) && now < (this._outageEnd[i] as number)) {
        st.droppedOutage++;
        return;
      }
    }
    if (this._burst) {
      // Loss is decided by the state the packet finds, then the chain steps (one step per packet).
      const bad = this._bad;
      const lost = bad ? this._rngLoss.chance(this._burstLossBad) : this._rngLoss.chance(this._loss);
      this._bad = bad ? !this._rngBurst.chance(this._burstR) : this._rngBurst.chance(this._burstP);
      if (lost) {
        if (bad) st.droppedBurst++;
        else st.droppedLoss++;
        return;
      }
    } else if (this._rngLoss.chance(this._loss)) {
      st.droppedLoss++;
      return;
    }
    const index = this._sendIndex++;
    const dup = this._rngDup.chance(this._duplicate);
    this._enqueue(bytes, offset, length, now, index, 0);
    if (dup && this._enqueue(bytes, offset, length, now, index, FLAG_DUPLICATE)) st.duplicated++;
  }

  /** Passes one copy through the bottleneck, storage and propagation stages. True when accepted. */
  private _enqueue(bytes: Uint8Array, offset: number, length: number, now: number, index: number, flags: number): boolean {
    const st = this.stats;
    if (this._freeTop === 0 || (this._pool === null && length > this._chunkTop * this._chunk)) {
      st.droppedFull++;
      return false;
    }
    let slotBuf: Uint8Array | null = null;
    if (this._pool !== null) {
      slotBuf = this._pool.acquire();
      if (slotBuf === null) {
        st.droppedFull++;
        return false;
      }
    }
    // The departure time goes through _clock[2] rather than a `let`: a local that is an integer
    // on one path and fractional on the other makes V8 box the fraction (one heap number per
    // packet, measured); a Float64Array slot is always an unboxed double.
    this._clock[2] = now;
    if (this._rateBps > 0) {
      // Drop-tail FIFO in front of a link of rateBps: the backlog is what the link has not sent yet.
      const freeAt = this._clock[0] as number;
      const start = freeAt > now ? freeAt : now;
      const backlogBytes = ((start - now) * this._rateBps) / 8000;
      if (backlogBytes + length > this._queueBytes) {
        if (slotBuf !== null) (this._pool as SlotSource).release(slotBuf);
        st.droppedQueue++;
        return false;
      }
      const departure = start + (length * 8000) / this._rateBps;
      this._clock[0] = departure;
      this._clock[2] = departure;
    }
    let due = (this._clock[2] as number) + this._delayMs;
    if (this._jitterMs > 0) {
      this._rngJitter.nextFloatInto(this._clock, 4); // not nextFloat(): see nextFloatInto
      due += this._jitterMs * (this._clock[4] as number);
    }
    if (this._preserveOrder) {
      const last = this._clock[1] as number;
      if (due < last) due = last;
      this._clock[1] = due;
    }
    if (this._rngReorder.chance(this._reorder)) due += this._reorderDelayMs;

    const slot = this._free[--this._freeTop] as number;
    if (slotBuf !== null) {
      this._poolSlots[slot] = slotBuf;
      // set() is a memcpy but needs a view of exactly the source range; a whole buffer is one.
      if (offset === 0 && length === bytes.length) slotBuf.set(bytes, 0);
      else _copyBytes(slotBuf, 0, bytes, offset, length);
    } else {
      this._first[slot] = this._storeChunks(bytes, offset, length);
    }
    this._len[slot] = length;
    this._due[slot] = due;
    this._enq[slot] = this._enqCounter++;
    this._idx[slot] = index;
    this._flags[slot] = flags;
    this._heapPush(slot);
    this._heldBytes += length;
    st.held++;
    if (st.held > st.heldHighWater) st.heldHighWater = st.held;
    this._account.use(length, 1);
    return true;
  }

  /**
   * Writes the next datagram due at or before `now` into `out` (from index 0) and returns its
   * length, or returns -1 when none is due. Call it in a loop until -1. Bytes of `out` past the
   * returned length may be overwritten (scratch).
   * @param out caller-owned buffer, at least as long as the datagram (use `maxDatagram`).
   * @throws SluiceRangeError when `out` is too short for the due datagram (the datagram stays
   *   queued); SluiceStateError after {@link close}.
   */
  poll(now: number, out: Uint8Array): number {
    if (this._closed) throw new SluiceStateError('LinkModel.poll: the model is closed');
    if (this._heapSize === 0) return -1;
    const slot = this._heap[0] as number;
    if ((this._due[slot] as number) > now) return -1;
    const len = this._len[slot] as number;
    if (out.length < len) {
      throw new SluiceRangeError(`poll: out is ${out.length} bytes, the due datagram is ${len}; expected out.length >= maxDatagram (${this.maxDatagram})`);
    }
    this._heapPop();
    if (this._pool !== null) {
      const buf = this._poolSlots[slot] as Uint8Array;
      // Copying the whole slot (a memcpy, no allocation) beats a byte loop unless the slot is
      // much longer than the datagram; the bytes of `out` past `len` are scratch either way.
      if (out.length >= buf.length && buf.length <= 4 * len + 256) out.set(buf, 0);
      else _copyBytes(out, 0, buf, 0, len);
      this._poolSlots[slot] = null;
      this._pool.release(buf);
    } else {
      this._loadChunks(this._first[slot] as number, len, out);
    }
    const st = this.stats;
    const idx = this._idx[slot] as number;
    if (idx < (this._clock[3] as number)) {
      if (((this._flags[slot] as number) & FLAG_DUPLICATE) === 0) st.reordered++;
    } else {
      this._clock[3] = idx;
    }
    this._free[this._freeTop++] = slot;
    this._heldBytes -= len;
    st.held--;
    st.delivered++;
    st.deliveredBytes += len;
    this._account.use(-len, -1);
    return len;
  }

  /** Time (ms) at which the next datagram is due, or `Infinity` when nothing is in flight. */
  nextTimeout(): number {
    return this._heapSize === 0 ? Infinity : (this._due[this._heap[0] as number] as number);
  }

  /**
   * Drops everything in flight (returning pool slots), unreserves the model's memory and makes
   * further `send`/`poll` calls throw. Idempotent.
   */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (let i = 0; i < this._heapSize; i++) {
      const slot = this._heap[i] as number;
      if (this._pool === null) {
        for (let c = this._first[slot] as number; c >= 0; c = this._chunkNext[c] as number) this._chunkFree[this._chunkTop++] = c;
      } else {
        const buf = this._poolSlots[slot];
        if (buf) this._pool.release(buf);
        this._poolSlots[slot] = null;
      }
    }
    this._heapSize = 0;
    this._account.use(-this._heldBytes, -this.stats.held);
    this._heldBytes = 0;
    this.stats.held = 0;
    this._account.setCapacity(0, 0);
    this._account.unreserve(this._reservedBytes);
  }

  /** Copies a datagram into free chunks (the caller checked there are enough); returns the first. */
  private _storeChunks(bytes: Uint8Array, offset: number, length: number): number {
    const chunk = this._chunk;
    if (length === 0) return -1;
    let first = -1;
    let prev = -1;
    let pos = 0;
    while (pos < length) {
      const c = this._chunkFree[--this._chunkTop] as number;
      if (prev < 0) first = c;
      else this._chunkNext[prev] = c;
      const n = length - pos < chunk ? length - pos : chunk;
      const view = this._chunkViews[c] as Uint8Array;
      // set() is a memcpy but needs a view of exactly the source range; a whole buffer is one.
      if (pos === 0 && n === length && offset === 0 && length === bytes.length) view.set(bytes, 0);
      else _copyBytes(view, 0, bytes, offset + pos, n);
      pos += n;
      prev = c;
    }
    this._chunkNext[prev] = -1;
    return first;
  }

  /** Copies a chunked datagram into `out` from index 0 and frees its chunks. */
  private _loadChunks(first: number, length: number, out: Uint8Array): void {
    const chunk = this._chunk;
    let c = first;
    let pos = 0;
    while (c >= 0) {
      const n = length - pos < chunk ? length - pos : chunk;
      const view = this._chunkViews[c] as Uint8Array;
      // Whole-chunk memcpy when it fits and is not mostly padding; the rest of `out` is scratch.
      if (out.length - pos >= chunk && chunk <= 4 * n + 256) out.set(view, pos);
      else _copyBytes(out, pos, view, 0, n);
      pos += n;
      this._chunkFree[this._chunkTop++] = c;
      c = this._chunkNext[c] as number;
    }
  }

  /** True when slot a comes out before slot b: earlier due time, then earlier enqueue. */
  private _before(a: number, b: number): boolean {
    const da = this._due[a] as number;
    const db = this._due[b] as number;
    return da < db || (da === db && (this._enq[a] as number) < (this._enq[b] as number));
  }

  private _heapPush(slot: number): void {
    const h = this._heap;
    let i = this._heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as number;
      if (!this._before(slot, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = slot;
  }

  private _heapPop(): void {
    const h = this._heap;
    const n = --this._heapSize;
    if (n === 0) return;
    const last = h[n] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && this._before(h[r] as number, h[l] as number)) child = r;
      const cs = h[child] as number;
      if (!this._before(cs, last)) break;
      h[i] = cs;
      i = child;
    }
    h[i] = last;
  }
}

/**
 * Two {@link LinkModel}s, one per direction, for joining two sans-IO endpoints in memory with
 * virtual time (quinn-proto's `Pair`).
 *
 * @example
 * const pair = new LinkPair({ loss: 0.1, delayMs: 20, seed: 3 });
 * pair.aToB.send(pkt, 0, pkt.length, now);
 * const wake = pair.nextTimeout();
 */
export class LinkPair {
  /** The a -> b direction. */
  readonly aToB: LinkModel;
  /** The b -> a direction. */
  readonly bToA: LinkModel;

  /**
   * @param aToB options of the a -> b direction.
   * @param bToA options of the b -> a direction; when omitted, `aToB`'s options with a seed
   *   derived from its seed (so both directions impair alike but independently).
   * @throws as {@link LinkModel}'s constructor.
   */
  constructor(aToB: LinkModelOptions = {}, bToA?: LinkModelOptions) {
    this.aToB = new LinkModel(aToB);
    if (bToA === undefined) {
      const seed = new SeededRandom(aToB.seed ?? DEFAULT_RANDOM_SEED).derive('b->a').next();
      bToA = { ...aToB, seed };
    }
    try {
      this.bToA = new LinkModel(bToA);
    } catch (e) {
      this.aToB.close();
      throw e;
    }
  }

  /** The earlier of both directions' next timeouts (ms), `Infinity` when both are empty. */
  nextTimeout(): number {
    const a = this.aToB.nextTimeout();
    const b = this.bToA.nextTimeout();
    return a < b ? a : b;
  }

  /** Closes both directions. */
  close(): void {
    this.aToB.close();
    this.bToA.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Compact impairment strings: `loss=5%,burst=0.01:0.1,delay=20,jitter=5,dup=1%,reorder=1%,
// rate=20mbit,seed=1`, shared by the CLI, the demo and tests.

/** How a bare number (no `%`) is read by {@link parseProbability}. */
export type BareProbability = 'fraction' | 'percent';

/**
 * Parses a probability: `5%` is 0.05; a bare number is a fraction in [0, 1] (`0.05`) when
 * `bare` is `'fraction'`, or a percentage (`5` is 0.05) when `'percent'` (the CLI flags).
 * @throws SluiceRangeError naming `name` when the text is not a probability.
 */
export function parseProbability(name: string, text: string, bare: BareProbability = 'fraction'): number {
  const t = text.trim();
  const m = /^([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)(%?)$/i.exec(t);
  if (m === null) {
    throw new SluiceRangeError(`${name}: expected a probability like 5% or ${bare === 'percent' ? '5 (percent)' : '0.05'}, got "${text}"`);
  }
  const v = Number(m[1]);
  const pct = m[2] === '%' || bare === 'percent';
  const p = pct ? v / 100 : v;
  if (!(p >= 0 && p <= 1)) {
    const hint = !pct && v > 1 ? ` (write ${v}% for a percentage)` : '';
    throw new SluiceRangeError(`${name}: expected a probability in [0, 1] (0% to 100%), got "${text}"${hint}`);
  }
  return p;
}

/**
 * Parses a duration into ms: `20` and `20ms` are 20 ms, `1.5s` 1500 ms, `500us` 0.5 ms,
 * `2m` 120000 ms.
 * @throws SluiceRangeError naming `name` on bad syntax or a value beyond one hour.
 */
export function parseDurationMs(name: string, text: string): number {
  const m = /^([0-9]*\.?[0-9]+)\s*(us|ms|s|m)?$/i.exec(text.trim());
  if (m === null) throw new SluiceRangeError(`${name}: expected a duration like 20, 20ms, 1.5s or 500us, got "${text}"`);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const scale = unit === 'us' ? 0.001 : unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000;
  const ms = Number(m[1]) * scale;
  if (!(ms >= 0 && ms <= MAX_MS)) throw new SluiceRangeError(`${name}: expected a duration in [0, 1h], got "${text}"`);
  return ms;
}

/**
 * Parses a bit rate into bits/s, decimal multipliers as in tc: `20mbit`, `20mbps`, `20M` are
 * 20,000,000; `500kbit` 500,000; `1gbit` 1e9; a bare number is bits/s; `0`, `off` and
 * `unlimited` are 0 (no limit).
 * @throws SluiceRangeError naming `name` on bad syntax or a rate beyond 1 Tbit/s.
 */
export function parseRateBps(name: string, text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === 'unlimited' || t === 'none') return 0;
  const m = /^([0-9]*\.?[0-9]+)\s*(bit|bps|b|kbit|kbps|k|mbit|mbps|m|gbit|gbps|g)?(?:\/s)?$/.exec(t);
  if (m === null) throw new SluiceRangeError(`${name}: expected a rate like 20mbit, 500kbit, 1gbit or bits/s, got "${text}"`);
  const u = (m[2] ?? 'bit')[0];
  const scale = u === 'k' ? 1e3 : u === 'm' ? 1e6 : u === 'g' ? 1e9 : 1;
  const bps = Number(m[1]) * scale;
  if (!(bps >= 0 && bps <= MAX_RATE_BPS)) throw new SluiceRangeError(`${name}: expected a rate in [0, 1tbit], got "${text}"`);
  return bps;
}

/**
 * Parses a byte size, binary multipliers as in tc: `65536`, `64k`/`64kb`/`64kib` (65,536),
 * `1m`/`1mb`/`1mib` (1,048,576).
 * @throws SluiceRangeError naming `name` on bad syntax or a size outside [1, 2^31 - 1].
 */
export function parseBytes(name: string, text: string): number {
  const m = /^([0-9]*\.?[0-9]+)\s*(b|k|kb|kib|m|mb|mib)?$/.exec(text.trim().toLowerCase());
  if (m === null) throw new SluiceRangeError(`${name}: expected a size like 65536, 64k or 1m, got "${text}"`);
  const u = (m[2] ?? 'b')[0];
  const scale = u === 'k' ? 1024 : u === 'm' ? 1048576 : 1;
  const n = Math.round(Number(m[1]) * scale);
  if (!(n >= 1 && n <= 0x7fff_ffff)) throw new SluiceRangeError(`${name}: expected a size in [1, 2^31 - 1] bytes, got "${text}"`);
  return n;
}

/**
 * Parses `AT:DURATION` (both durations, e.g. `5s:1s`) into an outage, or several joined by `+`.
 * @throws SluiceRangeError naming `name` on bad syntax.
 */
export function parseOutages(name: string, text: string): OutageOptions[] {
  const out: OutageOptions[] = [];
  for (const part of text.split('+')) {
    const bits = part.split(':');
    if (bits.length !== 2) throw new SluiceRangeError(`${name}: expected AT:DURATION (e.g. 5s:1s), several joined by +, got "${text}"`);
    const atMs = parseDurationMs(`${name} start`, bits[0] as string);
    const durationMs = parseDurationMs(`${name} duration`, bits[1] as string);
    if (durationMs === 0) throw new SluiceRangeError(`${name}: an outage must last more than 0 ms, got "${part}"`);
    out.push({ atMs, durationMs });
  }
  return out;
}

/**
 * Parses Gilbert-Elliott parameters `p:r` or `p:r:lossBad` (also `,`-separated, as the CLI's
 * `--burst p,r`); each a probability (fraction or `%`).
 * @throws SluiceRangeError naming `name` on bad syntax, or r = 0.
 */
export function parseBurst(name: string, text: string): GilbertElliottOptions {
  const bits = text.split(/[:,]/);
  if (bits.length !== 2 && bits.length !== 3) {
    throw new SluiceRangeError(`${name}: expected p:r or p:r:lossBad (e.g. 0.01:0.1), got "${text}"`);
  }
  const p = parseProbability(`${name} p`, bits[0] as string);
  const r = parseProbability(`${name} r`, bits[1] as string);
  if (r === 0) throw new SluiceRangeError(`${name} r: expected a probability in (0, 1] (r = 0 never ends a burst), got "${bits[1]}"`);
  if (bits.length === 3) return { p, r, lossBad: parseProbability(`${name} lossBad`, bits[2] as string) };
  return { p, r };
}

/** Mutable twin of ImpairmentOptions, used while parsing. */
type _Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Parses a compact impairment string into {@link ImpairmentOptions}. Items are
 * `key=value`, separated by commas; an empty string or `none` is a perfect link.
 *
 * | key | value | option |
 * | `loss` | probability (`5%` or `0.05`) | `loss` |
 * | `burst` | `p:r` or `p:r:lossBad` | `burst` |
 * | `delay`, `jitter` | duration (`20`, `20ms`, `1s`) | `delayMs`, `jitterMs` |
 * | `reorder` | probability | `reorder` |
 * | `reorder-delay` | duration | `reorderDelayMs` |
 * | `dup` (or `duplicate`) | probability | `duplicate` |
 * | `rate` | `20mbit`, `500kbit`, bits/s, `off` | `rateBps` |
 * | `queue` | bytes (`64k`) | `queueBytes` |
 * | `outage` | `AT:DURATION[+AT:DURATION...]` | `outages` |
 * | `fifo` | `1`/`0` (`true`/`false`) | `preserveOrder` |
 * | `seed` | integer | `seed` |
 *
 * @throws SluiceTypeError when `spec` is not a string; SluiceRangeError naming the key on an
 *   unknown or repeated key or a bad value.
 * @example
 * parseImpairment('loss=5%,burst=0.01:0.1,delay=20,jitter=5,dup=1%,reorder=1%,rate=20mbit,seed=1')
 * // { loss: 0.05, burst: { p: 0.01, r: 0.1 }, delayMs: 20, jitterMs: 5, duplicate: 0.01,
 * //   reorder: 0.01, rateBps: 20000000, seed: 1 }
 */
export function parseImpairment(spec: string): ImpairmentOptions {
  if (typeof spec !== 'string') throw new SluiceTypeError(`impairment: expected a string, got ${typeof spec}`);
  const out: _Mutable<ImpairmentOptions> = {};
  const t = spec.trim();
  if (t === '' || t.toLowerCase() === 'none') return out;
  const seen = new Set<string>();
  for (const raw of t.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new SluiceRangeError(`impairment: expected key=value, got "${item}" (keys: ${_KEYS.join(', ')})`);
    let key = item.slice(0, eq).trim().toLowerCase();
    if (key === 'duplicate') key = 'dup';
    const value = item.slice(eq + 1).trim();
    if (seen.has(key)) throw new SluiceRangeError(`impairment ${key}: given more than once`);
    seen.add(key);
    const n = `impairment ${key}`;
    switch (key) {
      case 'loss':
        out.loss = parseProbability(n, value);
        break;
      case 'burst':
        out.burst = parseBurst(n, value);
        break;
      case 'delay':
        out.delayMs = parseDurationMs(n, value);
        break;
      case 'jitter':
        out.jitterMs = parseDurationMs(n, value);
        break;
      case 'reorder':
        out.reorder = parseProbability(n, value);
        break;
      case 'reorder-delay':
        out.reorderDelayMs = parseDurationMs(n, value);
        break;
      case 'dup':
        out.duplicate = parseProbability(n, value);
        break;
      case 'rate':
        out.rateBps = parseRateBps(n, value);
        break;
      case 'queue':
        out.queueBytes = parseBytes(n, value);
        break;
      case 'outage':
        out.outages = parseOutages(n, value);
        break;
      case 'fifo': {
        const v = value.toLowerCase();
        if (v === '1' || v === 'true' || v === 'yes') out.preserveOrder = true;
        else if (v === '0' || v === 'false' || v === 'no') out.preserveOrder = false;
        else throw new SluiceRangeError(`${n}: expected 1 or 0, got "${value}"`);
        break;
      }
      case 'seed': {
        if (!/^[0-9]+$/.test(value)) throw new SluiceRangeError(`${n}: expected an integer in [0, 4294967295], got "${value}"`);
        out.seed = checkInt(n, Number(value), 0, 0xffff_ffff);
        break;
      }
      default:
        throw new SluiceRangeError(`impairment: unknown key "${key}" (keys: ${_KEYS.join(', ')})`);
    }
  }
  return out;
}

const _KEYS = ['loss', 'burst', 'delay', 'jitter', 'reorder', 'reorder-delay', 'dup', 'rate', 'queue', 'outage', 'fifo', 'seed'];

function _pct(p: number): string {
  return `${Number((p * 100).toPrecision(12))}%`;
}

function _rate(bps: number): string {
  if (bps >= 1e9 && bps % 1e6 === 0) return `${bps / 1e9}gbit`;
  if (bps >= 1e6 && bps % 1e3 === 0) return `${bps / 1e6}mbit`;
  if (bps >= 1e3) return `${bps / 1e3}kbit`;
  return `${bps}bit`;
}

/**
 * Formats options back into the compact string {@link parseImpairment} reads (only the fields
 * that are set; `none` for a perfect link). `parseImpairment(formatImpairment(o))` gives back
 * `o` up to floating-point rounding of percentages.
 * @example formatImpairment({ loss: 0.05, delayMs: 20 }) === 'loss=5%,delay=20ms'
 */
export function formatImpairment(o: ImpairmentOptions): string {
  const parts: string[] = [];
  if (o.loss !== undefined) parts.push(`loss=${_pct(o.loss)}`);
  if (o.burst) {
    const b = o.burst;
    parts.push(`burst=${b.p}:${b.r}${b.lossBad !== undefined ? `:${b.lossBad}` : ''}`);
  }
  if (o.delayMs !== undefined) parts.push(`delay=${o.delayMs}ms`);
  if (o.jitterMs !== undefined) parts.push(`jitter=${o.jitterMs}ms`);
  if (o.preserveOrder !== undefined) parts.push(`fifo=${o.preserveOrder ? 1 : 0}`);
  if (o.reorder !== undefined) parts.push(`reorder=${_pct(o.reorder)}`);
  if (o.reorderDelayMs !== undefined) parts.push(`reorder-delay=${o.reorderDelayMs}ms`);
  if (o.duplicate !== undefined) parts.push(`dup=${_pct(o.duplicate)}`);
  if (o.rateBps !== undefined) parts.push(`rate=${_rate(o.rateBps)}`);
  if (o.queueBytes !== undefined) parts.push(`queue=${o.queueBytes}`);
  if (o.outages && o.outages.length > 0) {
    parts.push(`outage=${o.outages.map((x) => `${x.atMs}ms:${x.durationMs}ms`).join('+')}`);
  }
  if (o.seed !== undefined) parts.push(`seed=${o.seed}`);
  return parts.length === 0 ? 'none' : parts.join(',');
}
