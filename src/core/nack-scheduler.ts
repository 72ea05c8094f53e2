/**
 * NackScheduler: decides when the receiver asks for retransmissions (pure, allocation-free).
 *
 * It reads the loss list of a {@link LossListSource} (the {@link ReorderBuffer}) and keeps, per
 * missing sequence, when it was last NACKed, in a ring of the source's capacity (so its state is
 * bounded by the reorder capacity). Schedule for one missing sequence first noticed at `since`:
 * - first NACK at `since + max(reorderToleranceMs, fecHoldMs)`: a short reorder tolerance avoids
 *   NACKing packets that are merely reordered; `fecHoldMs` gives the FEC window covering the gap
 *   its chance first (like SRT's `arq:onreq` policy: retransmit only what FEC could not repair);
 * - then again every `max(minRetryMs, retryFactor x (rtt + 4 x rttvar))` (RFC 6298's RTO form,
 *   from the RTT the caller passes in; SRT's NAK period uses a factor of 1/2), not on every
 *   packet and not on a fixed short loop;
 * - repeats due within `coalesceMs` ride along with a NACK that goes out now, so the repeats of
 *   many gaps share datagrams instead of each costing its own (a repeat a few ms early is
 *   harmless: the sender ignores repeats within one RTT of its last retransmission);
 * - in `urgent` polls (the caller's judgement that feedback is being lost: no retransmission has
 *   arrived for a while although NACKs are out), sequences already NACKed `urgentAfter` times
 *   are repeated every `urgentIntervalMs`: loss that comes in bursts on the return path (a
 *   Gilbert-Elliott channel counts its bursts in packets) is crossed by sending more, small
 *   packets, where a repeat every quarter RTT would stay inside the burst until the deadline;
 * - on a loss hint (the caller saw a gap in the peer's packet numbers: some packet, perhaps a
 *   retransmission this side asked for, was just lost), sequences already NACKed `hintAfter`
 *   times are NACKed at once: the sender answers only NACKs written after its last copy could
 *   have arrived (SendBuffer.onNack, largestPn), and this is the earliest such moment, where a
 *   fixed repeat interval would wait up to a whole interval;
 * - never when the retransmission could not arrive before the run is given up: `now + rtt`
 *   past the deadline the source reports (`futile`);
 * - it stops by itself when the sequence leaves the loss list: it arrived, FEC recovered it
 *   (both are inserts into the reorder buffer), or it was skipped at its deadline.
 *
 * Output: compressed runs (start, count <= 65535), oldest first, at most `maxRanges` per NACK
 * so one NACK fits one datagram ({@link DEFAULT_MAX_NACK_RANGES} fits 1400 bytes).
 */
import { DETACHED_ACCOUNT, type MemoryAccount } from './memory/types.js';
import { SluiceStateError, SluiceTypeError, checkInt, checkNumber, checkPowerOfTwo } from './errors.js';
import { seqAdd, seqDiff } from './seq.js';

/** Default reorder tolerance before the first NACK, ms. */
export const DEFAULT_REORDER_TOLERANCE_MS = 5;
/** Default FEC hold before the first NACK, ms (0: ARQ does not wait for FEC). */
export const DEFAULT_FEC_HOLD_MS = 0;
/**
 * Default repeat interval as a fraction of `rtt + 4 x rttvar`. SRT repeats its NAK report every
 * half of that; a quarter is used here because the sender ignores a repeat that reaches it
 * within one RTT of its last retransmission (so repeats cost a few control bytes, never
 * duplicate data), while a lost NACK then costs a quarter RTT instead of a whole one: with a
 * latency of 3 RTT that decides whether a second retransmission still arrives in time.
 */
export const DEFAULT_NACK_RETRY_FACTOR = 0.25;
/** Default floor of the NACK repeat interval, ms. */
export const DEFAULT_MIN_RETRY_MS = 10;
/**
 * Default coalescing window, ms: repeats due this soon go out with a NACK sent now. Measured on
 * the simulated 10 Mbit/s, 20 ms, 120 ms-latency link (bench/sim-recovery.ts, 6 seeds): reverse
 * bytes -34% at 10% loss and -48% at 20%, residual loss unchanged.
 */
export const DEFAULT_NACK_COALESCE_MS = 5;
/** Default NACKs of one sequence before urgent polls repeat it every {@link DEFAULT_URGENT_INTERVAL_MS}. */
export const DEFAULT_URGENT_AFTER = 3;
/** Default repeat interval of urgent polls, ms. */
export const DEFAULT_URGENT_INTERVAL_MS = 2;
/**
 * Default NACKs of one sequence before a loss hint repeats it at once. On the simulated link
 * with 21 ms +- 3 ms each way (bench/sim-recovery.ts, 6 seeds) hints cut the residual loss at
 * 20% from 0.26% to 0.07% for +0.7% of reverse bytes.
 */
export const DEFAULT_HINT_AFTER = 2;
/** A loss hint never repeats a sequence NACKed less than this long ago, ms. */
const HINT_MIN_GAP_MS = 1;
/**
 * Default ranges per NACK: (1400 max datagram - 12 header - 4 largestPn - 2 rangeCount - 16 tag) / 6 bytes
 * per range = 227.
 */
export const DEFAULT_MAX_NACK_RANGES = 227;
/** Default per-sequence state capacity when neither `capacity` nor `source` is given. */
export const DEFAULT_NACK_CAPACITY = 16_384;

const CANCELLED = 3;

/** What the scheduler needs from the reorder buffer. */
export interface LossListSource {
  /** Ring size of the source (bounds the loss list). */
  readonly capacity: number;
  /** Time the most recent gap opened, ms. */
  readonly lastGapAt: number;
  /** Gaps opened so far (monotonic). */
  readonly gapsOpened: number;
  /** See {@link ReorderBuffer.copyLossRanges}. */
  copyLossRanges(starts: Uint32Array, counts: Uint32Array, since: Float64Array, max: number, deadlines?: Float64Array): number;
}

/** Options of {@link NackScheduler}. */
export interface NackSchedulerOptions {
  /**
   * The loss list to follow (the receiver's ReorderBuffer). Optional: without it, pass the loss
   * list to {@link NackScheduler.poll} and report arrivals with {@link NackScheduler.onArrival}.
   */
  source?: LossListSource;
  /**
   * Per-sequence state ring, packets: a power of two in [2, 2^20], at least the reorder
   * capacity. Default: `source.capacity`, else {@link DEFAULT_NACK_CAPACITY}.
   */
  capacity?: number;
  /** Wait after a gap is noticed before the first NACK, ms, in [0, 10000]. Default {@link DEFAULT_REORDER_TOLERANCE_MS}. */
  reorderToleranceMs?: number;
  /** Hold the first NACK this long after the gap for FEC, ms, in [0, 10000]. Default {@link DEFAULT_FEC_HOLD_MS}. */
  fecHoldMs?: number;
  /** Repeat interval as a fraction of `rtt + 4 x rttvar`, in [0.05, 4]. Default {@link DEFAULT_NACK_RETRY_FACTOR}. */
  retryFactor?: number;
  /** Floor of the repeat interval, ms, in [0, 10000]. Default {@link DEFAULT_MIN_RETRY_MS}. */
  minRetryMs?: number;
  /** Repeats due within this many ms go out with a NACK sent now, in [0, 1000]. Default {@link DEFAULT_NACK_COALESCE_MS}. */
  coalesceMs?: number;
  /** NACKs of one sequence before urgent polls repeat it faster, in [1, 1000]. Default {@link DEFAULT_URGENT_AFTER}. */
  urgentAfter?: number;
  /** Repeat interval in urgent polls, ms, in [0.5, 10000]. Default {@link DEFAULT_URGENT_INTERVAL_MS}. */
  urgentIntervalMs?: number;
  /** NACKs of one sequence before a loss hint repeats it at once, in [1, 1000]. Default {@link DEFAULT_HINT_AFTER}. */
  hintAfter?: number;
  /** Ranges per NACK, in [1, 65535]. Default {@link DEFAULT_MAX_NACK_RANGES}. */
  maxRanges?: number;
  /** Memory account charged for the per-sequence tables. Default: detached. */
  account?: MemoryAccount;
}

/** Counters of a {@link NackScheduler}; all monotonic. */
export class NackSchedulerStats {
  /** poll() calls. */
  polls = 0;
  /** NACKs produced (polls that wrote at least one range). */
  nacks = 0;
  /** Ranges written. */
  ranges = 0;
  /** Sequences requested (first requests plus repeats). */
  seqsNacked = 0;
  /** Of those, repeats. */
  repeats = 0;
  /** Missing sequences no longer requested because a retransmission could not arrive in time. */
  futile = 0;
  /** NACKs that hit maxRanges (the rest goes in the next one). */
  truncated = 0;
}

/**
 * Receiver-side NACK timing (see the module comment).
 *
 * @example
 * ```ts
 * const nacks = new NackScheduler({ source: reorderBuffer });
 * const starts = new Uint32Array(DEFAULT_MAX_NACK_RANGES), counts = new Uint32Array(DEFAULT_MAX_NACK_RANGES);
 * const n = nacks.poll(now, rtt.srtt, rtt.rttvar, starts, counts);
 * if (n > 0) sendNack(starts, counts, n);
 * timer.arm(Math.min(reorderBuffer.nextTimeout(), nacks.nextTimeout()));
 * ```
 */
export class NackScheduler {
  // Numeric fields start as `= 0`: with ES2022 class fields a bare `x: number;` is first defined
  // as undefined, V8 then tracks it as a tagged field and every fractional store allocates a
  // HeapNumber. Starting from a small integer keeps the field unboxed (in-place double).
  readonly stats: NackSchedulerStats;
  readonly reorderToleranceMs: number = 0;
  readonly fecHoldMs: number = 0;
  readonly minRetryMs: number = 0;
  readonly retryFactor: number = 0;
  readonly maxRanges: number = 0;
  readonly coalesceMs: number = 0;
  readonly urgentAfter: number = 0;
  readonly urgentIntervalMs: number = 0;
  readonly hintAfter: number = 0;
  /** Per-sequence state ring size, packets. */
  readonly capacity: number = 0;
  private readonly _source: LossListSource | null;
  private readonly _account: MemoryAccount;
  private readonly _reserved: number = 0;
  private readonly _mask: number = 0;
  private readonly _tag: Uint32Array;
  /** Time of the last NACK for the tagged sequence; NaN for "tagged, never sent". */
  private readonly _nackedAt: Float64Array;
  private readonly _count: Uint16Array;
  /** 0 untagged, 1 tagged, 2 tagged and counted futile, 3 cancelled. */
  private readonly _state: Uint8Array;
  private readonly _lStart: Uint32Array;
  private readonly _lCount: Uint32Array;
  private readonly _lSince: Float64Array;
  private readonly _lDeadline: Float64Array;
  private _nextDue: number = 0;
  private _lastPollAt: number = 0;
  private _seenGaps: number = 0;
  private _started: boolean;
  /** Newest sequence reported by onArrival. */
  private _highest: number = 0;
  /** Earliest time a gap was seen by onArrival/onGap since the last poll (Infinity: none). */
  private _gapAt: number = 0;
  private _closed: boolean;

  /** @throws SluiceTypeError / SluiceRangeError naming the option when an option is invalid. */
  constructor(options: NackSchedulerOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new SluiceTypeError('NackScheduler options: expected an object');
    }
    const source = options.source ?? null;
    if (source !== null && typeof source.copyLossRanges !== 'function') {
      throw new SluiceTypeError('source: expected a LossListSource (a ReorderBuffer)');
    }
    this._source = source;
    const capacity = checkPowerOfTwo('capacity', options.capacity ?? source?.capacity ?? DEFAULT_NACK_CAPACITY, 2, 1 << 20);
    this.reorderToleranceMs = checkNumber('reorderToleranceMs', options.reorderToleranceMs ?? DEFAULT_REORDER_TOLERANCE_MS, 0, 10_000);
    this.fecHoldMs = checkNumber('fecHoldMs', options.fecHoldMs ?? DEFAULT_FEC_HOLD_MS, 0, 10_000);
    this.minRetryMs = checkNumber('minRetryMs', options.minRetryMs ?? DEFAULT_MIN_RETRY_MS, 0, 10_000);
    this.retryFactor = checkNumber('retryFactor', options.retryFactor ?? DEFAULT_NACK_RETRY_FACTOR, 0.05, 4);
    this.maxRanges = checkInt('maxRanges', options.maxRanges ?? DEFAULT_MAX_NACK_RANGES, 1, 65_535);
    this.coalesceMs = checkNumber('coalesceMs', options.coalesceMs ?? DEFAULT_NACK_COALESCE_MS, 0, 1000);
    this.urgentAfter = checkInt('urgentAfter', options.urgentAfter ?? DEFAULT_URGENT_AFTER, 1, 1000);
    this.urgentIntervalMs = checkNumber('urgentIntervalMs', options.urgentIntervalMs ?? DEFAULT_URGENT_INTERVAL_MS, 0.5, 10_000);
    this.hintAfter = checkInt('hintAfter', options.hintAfter ?? DEFAULT_HINT_AFTER, 1, 1000);
    this.capacity = capacity;
    this._account = options.account ?? DETACHED_ACCOUNT;
    // Runs of missing sequences alternate with held ones: at most capacity / 2 runs. The scratch
    // copy of the loss list is only needed when the scheduler reads a source itself.
    const runs = source !== null ? (capacity >>> 1) + 1 : 0;
    this._reserved = capacity * (4 + 8 + 2 + 1) + runs * (4 + 4 + 8 + 8);
    this._account.reserve(this._reserved);
    this._mask = capacity - 1;
    this._tag = new Uint32Array(capacity);
    this._nackedAt = new Float64Array(capacity);
    this._count = new Uint16Array(capacity);
    this._state = new Uint8Array(capacity);
    this._lStart = new Uint32Array(runs);
    this._lCount = new Uint32Array(runs);
    this._lSince = new Float64Array(runs);
    this._lDeadline = new Float64Array(runs);
    this.stats = new NackSchedulerStats();
    this._nextDue = Number.POSITIVE_INFINITY;
    this._lastPollAt = Number.NEGATIVE_INFINITY;
    this._seenGaps = source !== null ? source.gapsOpened : 0;
    this._started = false;
    this._highest = 0;
    this._gapAt = Number.POSITIVE_INFINITY;
    this._closed = false;
  }

  /** Delay from a gap being noticed to its first NACK, ms. */
  get firstDelayMs(): number {
    return this.reorderToleranceMs > this.fecHoldMs ? this.reorderToleranceMs : this.fecHoldMs;
  }

  /**
   * Writes the runs of sequences due for a NACK at `now` into `outStarts`/`outCounts`
   * (caller-owned; counts in [1, 65535]; at most `maxRanges` and the arrays' length) and returns
   * how many (0: no NACK due). The loss list is passed in: `n` runs `(lossStarts[i],
   * lossCounts[i])` noticed at `lossSince[i]` and given up at `lossDeadline[i]`, oldest first,
   * as written by {@link ReorderBuffer.copyLossRanges}. `rttMs` (and optionally `rttVarMs`) is
   * the receiver's RTT estimate, ms. `urgent`: the caller suspects its NACKs are being lost;
   * `lossHint`: the caller just saw a gap in the peer's packet numbers (see the module comment
   * for both). Each sequence written counts as NACKed at `now`.
   */
  poll(
    now: number,
    rttMs: number,
    lossStarts: Uint32Array,
    lossCounts: Uint32Array,
    lossSince: Float64Array,
    lossDeadline: Float64Array,
    n: number,
    outStarts: Uint32Array,
    outCounts: Uint32Array | Uint16Array,
    rttVarMs = 0,
    urgent = false,
    lossHint = false,
  ): number {
    if (this._closed) return 0;
    return this._schedule(now, rttMs, rttVarMs, lossStarts, lossCounts, lossSince, lossDeadline, n, outStarts, outCounts, urgent, lossHint);
  }

  /**
   * Like {@link poll}, reading the loss list from the `source` given at construction.
   * @throws SluiceStateError when the scheduler was built without a source.
   */
  pollSource(
    now: number,
    rttMs: number,
    rttVarMs: number,
    outStarts: Uint32Array,
    outCounts: Uint32Array | Uint16Array,
    urgent = false,
    lossHint = false,
  ): number {
    if (this._closed) return 0;
    const source = this._source;
    if (source === null) throw new SluiceStateError('NackScheduler.pollSource: built without a source; use poll()');
    const n = source.copyLossRanges(this._lStart, this._lCount, this._lSince, this._lStart.length, this._lDeadline);
    return this._schedule(now, rttMs, rttVarMs, this._lStart, this._lCount, this._lSince, this._lDeadline, n, outStarts, outCounts, urgent, lossHint);
  }

  /**
   * Reports an arrival (or FEC recovery) of `seq`. Forgets the sequence's NACK state, and
   * notices a gap when `seq` is beyond the newest sequence seen + 1, so that
   * {@link nextTimeout} wakes the caller for the first NACK (at `now + firstDelayMs` when `now`
   * is given, else at the first poll after the previous one). Not needed with a `source`.
   */
  onArrival(seq: number, now = Number.NaN): void {
    seq = seq >>> 0;
    const idx = seq & this._mask;
    if (this._tag[idx] === seq) this._state[idx] = 0;
    if (!this._started) {
      this._started = true;
      this._highest = seq;
      return;
    }
    const d = seqDiff(this._highest, seq);
    if (d > 0) {
      if (d > 1) this.onGap(now);
      this._highest = seq;
    }
  }

  /** Tells the scheduler a gap opened at `now` (ms; NaN if unknown), for {@link nextTimeout}. */
  onGap(now = Number.NaN): void {
    const at = now === now ? now : this._lastPollAt;
    if (at < this._gapAt) this._gapAt = at;
  }

  /**
   * Stops NACKing `[start, start + count)` (the sender sent a DROP notice, or the sequences
   * were given up). Work bounded by the capacity.
   */
  cancel(start: number, count: number, _now = 0): void {
    if (count > this.capacity) {
      start = seqAdd(start, count - this.capacity);
      count = this.capacity;
    }
    for (let k = 0; k < count; k++) {
      const seq = seqAdd(start, k);
      const idx = seq & this._mask;
      this._tag[idx] = seq;
      this._state[idx] = CANCELLED;
    }
  }

  /**
   * Earliest time (ms) a NACK may be due, as of the last poll and the gaps opened since
   * (a gap opened after the last poll is due `firstDelayMs` after it opened). Infinity if none.
   */
  nextTimeout(): number {
    if (this._closed) return Number.POSITIVE_INFINITY;
    let t = this._nextDue;
    if (this._gapAt !== Number.POSITIVE_INFINITY) {
      const due = this._gapAt + this.firstDelayMs;
      if (due < t) t = due;
    }
    const source = this._source;
    if (source !== null && source.gapsOpened !== this._seenGaps) {
      // Exact when called after every insert (one new gap each time, as an I/O loop that re-arms
      // its timer per datagram does); for several unseen gaps, the earliest opened no sooner
      // than the last poll. Remembered until the next poll.
      const opened = source.gapsOpened - this._seenGaps === 1 ? source.lastGapAt : this._lastPollAt;
      this._seenGaps = source.gapsOpened;
      if (opened < this._gapAt) this._gapAt = opened;
      const due = opened + this.firstDelayMs;
      if (due < t) t = due;
    }
    return t;
  }

  private _schedule(
    now: number,
    rttMs: number,
    rttVarMs: number,
    lossStarts: Uint32Array,
    lossCounts: Uint32Array,
    lossSince: Float64Array,
    lossDeadline: Float64Array,
    nRuns: number,
    outStarts: Uint32Array,
    outCounts: Uint32Array | Uint16Array,
    urgent: boolean,
    lossHint: boolean,
  ): number {
    const stats = this.stats;
    stats.polls++;
    this._lastPollAt = now;
    if (this._source !== null) this._seenGaps = this._source.gapsOpened;
    this._gapAt = Number.POSITIVE_INFINITY;
    const rtt = rttMs > 0 ? rttMs : 0;
    const var4 = rttVarMs > 0 ? 4 * rttVarMs : 0;
    const every = this.retryFactor * (rtt + var4);
    const interval = every > this.minRetryMs ? every : this.minRetryMs;
    const firstDelay = this.firstDelayMs;
    const coalesce = this.coalesceMs;
    const urgentAfter = urgent ? this.urgentAfter : 0x10000; // counts saturate at 0xffff
    const hintAfter = lossHint ? this.hintAfter : 0x10000;
    const urgentIv = this.urgentIntervalMs < interval ? this.urgentIntervalMs : interval;
    const maxOut = this.maxRanges < outStarts.length ? (this.maxRanges < outCounts.length ? this.maxRanges : outCounts.length) : outStarts.length < outCounts.length ? outStarts.length : outCounts.length;
    const mask = this._mask;
    let nextDue = Number.POSITIVE_INFINITY;
    let out = 0;
    let openStart = 0;
    let openCount = 0; // run being built (0: none)
    let full = false;
    for (let r = 0; r < nRuns && !full; r++) {
      const start = lossStarts[r]!;
      const count = lossCounts[r]!;
      const firstDue = lossSince[r]! + firstDelay;
      const futile = now + rtt > lossDeadline[r]!;
      for (let k = 0; k < count; k++) {
        const seq = seqAdd(start, k);
        const idx = seq & mask;
        if (this._state[idx] === 0 || this._tag[idx] !== seq) {
          this._tag[idx] = seq;
          this._state[idx] = 1;
          this._nackedAt[idx] = Number.NaN;
          this._count[idx] = 0;
        }
        if (this._state[idx] === CANCELLED) continue;
        if (futile) {
          if (this._state[idx] === 1) {
            this._state[idx] = 2;
            stats.futile++;
          }
          continue;
        }
        const last = this._nackedAt[idx]!;
        const c0 = this._count[idx]!;
        const fast = c0 >= urgentAfter;
        // NaN check: never NACKed. A first NACK waits its full reorder tolerance; a repeat may go
        // up to `coalesce` early to share this datagram.
        const due = last === last ? last + (fast ? urgentIv : interval) : firstDue;
        const hinted = c0 >= hintAfter && now - last >= HINT_MIN_GAP_MS; // false for NaN (never NACKed)
        if (!hinted && due > now + (last === last && !fast ? coalesce : 0)) {
          if (due < nextDue) nextDue = due;
          continue;
        }
        // Due: extend the open output run or start a new one.
        if (openCount > 0 && seq === seqAdd(openStart, openCount) && openCount < 0xffff) {
          openCount++;
        } else {
          if (openCount > 0) {
            outStarts[out] = openStart;
            outCounts[out] = openCount;
            out++;
            if (out === maxOut) {
              openCount = 0;
              full = true;
              stats.truncated++;
              nextDue = now;
              break;
            }
          }
          openStart = seq;
          openCount = 1;
        }
        const c = this._count[idx]!;
        if (c > 0) stats.repeats++;
        this._count[idx] = c < 0xffff ? c + 1 : c;
        this._nackedAt[idx] = now;
        stats.seqsNacked++;
        const again = now + (c + 1 >= urgentAfter ? urgentIv : interval);
        if (again < nextDue) nextDue = again;
      }
    }
    if (openCount > 0) {
      outStarts[out] = openStart;
      outCounts[out] = openCount;
      out++;
    }
    if (out > 0) {
      stats.nacks++;
      stats.ranges += out;
    }
    this._nextDue = nextDue;
    return out;
  }

  /** Returns the reservation to the account. Idempotent; poll() returns 0 afterwards. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._account.unreserve(this._reserved);
  }
}
