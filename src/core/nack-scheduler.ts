/**
 * NackScheduler: decides when the receiver asks for retransmissions (pure, allocation-free).
 *
 * It reads the loss list of a {@link LossListSource} (the {@link ReorderBuffer}) and keeps, per
 * missing sequence, when it was last NACKed, in a ring of the source's capacity (so its state is
 * bounded by the reorder capacity). Schedule for one missing sequence first noticed at `since`:
 * - first NACK at `since + max(reorderToleranceMs, fecHoldMs)`: a short reorder tolerance avoids
 *   NACKing packets that are merely reordered; `fecHoldMs` gives the FEC window covering the gap
 *   its chance first (like SRT's `arq:onreq` policy: retransmit only what FEC could not repair);
 * - then again every `max(minRetryMs, rtt + 4 x rttvar)` (RFC 6298's RTO form, from the RTT the
 *   caller passes in), not on every packet and not on a fixed short loop;
 * - never when the retransmission could not arrive before the run is given up: `now + rtt`
 *   past the deadline the source reports (`futile`);
 * - it stops by itself when the sequence leaves the loss list: it arrived, FEC recovered it
 *   (both are inserts into the reorder buffer), or it was skipped at its deadline.
 *
 * Output: compressed runs (start, count <= 65535), oldest first, at most `maxRanges` per NACK
 * so one NACK fits one datagram ({@link DEFAULT_MAX_NACK_RANGES} fits 1400 bytes).
 */
import { DETACHED_ACCOUNT, type MemoryAccount } from './memory/types.js';
import { SluiceTypeError, checkInt, checkNumber } from './errors.js';
import { seqAdd } from './seq.js';

/** Default reorder tolerance before the first NACK, ms. */
export const DEFAULT_REORDER_TOLERANCE_MS = 5;
/** Default FEC hold before the first NACK, ms (0: ARQ does not wait for FEC). */
export const DEFAULT_FEC_HOLD_MS = 0;
/** Default floor of the NACK repeat interval, ms. */
export const DEFAULT_MIN_RETRY_MS = 10;
/**
 * Default ranges per NACK: (1400 max datagram - 12 header - 2 rangeCount - 16 tag) / 6 bytes
 * per range = 228.
 */
export const DEFAULT_MAX_NACK_RANGES = 228;

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
  /** The loss list to follow (the receiver's ReorderBuffer). */
  source: LossListSource;
  /** Wait after a gap is noticed before the first NACK, ms, in [0, 10000]. Default {@link DEFAULT_REORDER_TOLERANCE_MS}. */
  reorderToleranceMs?: number;
  /** Hold the first NACK this long after the gap for FEC, ms, in [0, 10000]. Default {@link DEFAULT_FEC_HOLD_MS}. */
  fecHoldMs?: number;
  /** Floor of the repeat interval, ms, in [0, 10000]. Default {@link DEFAULT_MIN_RETRY_MS}. */
  minRetryMs?: number;
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
  readonly stats: NackSchedulerStats;
  readonly reorderToleranceMs: number;
  readonly fecHoldMs: number;
  readonly minRetryMs: number;
  readonly maxRanges: number;
  private readonly _source: LossListSource;
  private readonly _account: MemoryAccount;
  private readonly _reserved: number;
  private readonly _mask: number;
  private readonly _tag: Uint32Array;
  /** Time of the last NACK for the tagged sequence; NaN for "tagged, never sent". */
  private readonly _nackedAt: Float64Array;
  private readonly _count: Uint16Array;
  /** 0 untagged, 1 tagged, 2 tagged and counted futile. */
  private readonly _state: Uint8Array;
  private readonly _lStart: Uint32Array;
  private readonly _lCount: Uint32Array;
  private readonly _lSince: Float64Array;
  private readonly _lDeadline: Float64Array;
  private _nextDue: number;
  private _lastPollAt: number;
  private _seenGaps: number;
  private _closed: boolean;

  /** @throws SluiceTypeError / SluiceRangeError naming the option when an option is invalid. */
  constructor(options: NackSchedulerOptions) {
    if (options === null || typeof options !== 'object' || options.source === null || typeof options.source !== 'object') {
      throw new SluiceTypeError('NackScheduler options: expected an object with a source (LossListSource)');
    }
    this._source = options.source;
    const capacity = checkInt('source.capacity', options.source.capacity, 2, 1 << 20);
    this.reorderToleranceMs = checkNumber('reorderToleranceMs', options.reorderToleranceMs ?? DEFAULT_REORDER_TOLERANCE_MS, 0, 10_000);
    this.fecHoldMs = checkNumber('fecHoldMs', options.fecHoldMs ?? DEFAULT_FEC_HOLD_MS, 0, 10_000);
    this.minRetryMs = checkNumber('minRetryMs', options.minRetryMs ?? DEFAULT_MIN_RETRY_MS, 0, 10_000);
    this.maxRanges = checkInt('maxRanges', options.maxRanges ?? DEFAULT_MAX_NACK_RANGES, 1, 65_535);
    this._account = options.account ?? DETACHED_ACCOUNT;
    // Runs of missing sequences alternate with held ones: at most capacity / 2 runs.
    const runs = (capacity >>> 1) + 1;
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
    this._account.setCapacity(0, 0);
    this.stats = new NackSchedulerStats();
    this._nextDue = Number.POSITIVE_INFINITY;
    this._lastPollAt = Number.NEGATIVE_INFINITY;
    this._seenGaps = this._source.gapsOpened;
    this._closed = false;
  }

  /** Delay from a gap being noticed to its first NACK, ms. */
  get firstDelayMs(): number {
    return this.reorderToleranceMs > this.fecHoldMs ? this.reorderToleranceMs : this.fecHoldMs;
  }

  /**
   * Writes the runs of sequences due for a NACK at `now` into `outStarts`/`outCounts`
   * (caller-owned, at least `maxRanges` long; counts in [1, 65535]) and returns how many
   * (0: no NACK due). `rttMs`/`rttVarMs` are the receiver's RTT estimate (smoothed RTT and its
   * variation, ms). Each sequence written counts as NACKed at `now`.
   */
  poll(now: number, rttMs: number, rttVarMs: number, outStarts: Uint32Array, outCounts: Uint32Array | Uint16Array): number {
    if (this._closed) return 0;
    const stats = this.stats;
    stats.polls++;
    this._lastPollAt = now;
    this._seenGaps = this._source.gapsOpened;
    const rtt = rttMs > 0 ? rttMs : 0;
    const var4 = rttVarMs > 0 ? 4 * rttVarMs : 0;
    const interval = rtt + var4 > this.minRetryMs ? rtt + var4 : this.minRetryMs;
    const firstDelay = this.firstDelayMs;
    const maxOut = this.maxRanges < outStarts.length ? (this.maxRanges < outCounts.length ? this.maxRanges : outCounts.length) : outStarts.length < outCounts.length ? outStarts.length : outCounts.length;
    const nRuns = this._source.copyLossRanges(this._lStart, this._lCount, this._lSince, this._lStart.length, this._lDeadline);
    const mask = this._mask;
    let nextDue = Number.POSITIVE_INFINITY;
    let out = 0;
    let openStart = 0;
    let openCount = 0; // run being built (0: none)
    let full = false;
    for (let r = 0; r < nRuns && !full; r++) {
      const start = this._lStart[r]!;
      const count = this._lCount[r]!;
      const firstDue = this._lSince[r]! + firstDelay;
      const futile = now + rtt > this._lDeadline[r]!;
      for (let k = 0; k < count; k++) {
        const seq = seqAdd(start, k);
        const idx = seq & mask;
        if (this._state[idx] === 0 || this._tag[idx] !== seq) {
          this._tag[idx] = seq;
          this._state[idx] = 1;
          this._nackedAt[idx] = Number.NaN;
          this._count[idx] = 0;
        }
        if (futile) {
          if (this._state[idx] === 1) {
            this._state[idx] = 2;
            stats.futile++;
          }
          continue;
        }
        const last = this._nackedAt[idx]!;
        const due = last === last ? last + interval : firstDue; // NaN check: never NACKed
        if (due > now) {
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
        if (now + interval < nextDue) nextDue = now + interval;
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

  /**
   * Earliest time (ms) a NACK may be due, as of the last poll and the gaps opened since
   * (a gap opened after the last poll is due `firstDelayMs` after it opened). Infinity if none.
   */
  nextTimeout(): number {
    if (this._closed) return Number.POSITIVE_INFINITY;
    let t = this._nextDue;
    const gaps = this._source.gapsOpened;
    if (gaps !== this._seenGaps) {
      // Exact for one new gap; for several the earliest opened no sooner than the last poll.
      const opened = gaps - this._seenGaps === 1 ? this._source.lastGapAt : this._lastPollAt;
      const due = opened + this.firstDelayMs;
      if (due < t) t = due;
    }
    return t;
  }

  /** Returns the reservation to the account. Idempotent; poll() returns 0 afterwards. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._account.unreserve(this._reserved);
  }
}
