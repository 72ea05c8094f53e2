/**
 * Round-trip time estimation per RFC 6298 ("Computing TCP's Retransmission Timer").
 *
 * Pure and allocation-free: samples come in as milliseconds (numbers, may be fractional), the
 * estimator keeps SRTT, RTTVAR and RTO as plain fields. Karn's algorithm (RFC 6298 §3) is the
 * caller's duty: never feed a sample measured on a packet that was retransmitted, because the
 * acknowledgement cannot be matched to one transmission. {@link SendBuffer} does this.
 *
 * The RFC's bounds (RTO >= 1 s, initial 1 s) are for TCP bulk transfer; live media needs a
 * much lower floor, so the bounds are options with media-friendly defaults.
 */
import { checkNumber } from './errors.js';

/** Default RTO before the first sample, ms (RFC 6298 §2.1 says 1 s; media wants less). */
export const DEFAULT_INITIAL_RTO_MS = 500;
/** Default lower bound of the RTO, ms (RFC 6298 §2.4 says 1 s for TCP). */
export const DEFAULT_MIN_RTO_MS = 20;
/** Default upper bound of the RTO, ms (RFC 6298 §2.5 allows >= 60 s). */
export const DEFAULT_MAX_RTO_MS = 10_000;
/** Largest RTT sample accepted, ms (2,000 s; anything above is a stale or forged echo). */
export const MAX_RTT_SAMPLE_MS = 2_000_000;
/** Default clock granularity G, ms (RFC 6298 §2: RTO = SRTT + max(G, K*RTTVAR)). */
export const DEFAULT_CLOCK_GRANULARITY_MS = 1;

/** Options of {@link RttEstimator}; every field is optional. */
export interface RttEstimatorOptions {
  /** RTO before any sample, ms, in [1, 600000]. Default {@link DEFAULT_INITIAL_RTO_MS}. */
  initialRtoMs?: number;
  /** Lower bound of the RTO, ms, in [0, 600000]. Default {@link DEFAULT_MIN_RTO_MS}. */
  minRtoMs?: number;
  /** Upper bound of the RTO, ms, in [minRtoMs, 600000]. Default {@link DEFAULT_MAX_RTO_MS}. */
  maxRtoMs?: number;
  /** Clock granularity G, ms, in [0, 1000]. Default {@link DEFAULT_CLOCK_GRANULARITY_MS}. */
  clockGranularityMs?: number;
}

/**
 * RFC 6298 estimator: SRTT, RTTVAR and a bounded RTO, with exponential back-off (§5.5).
 *
 * @example
 * ```ts
 * const rtt = new RttEstimator();
 * rtt.onSample(40);          // first sample: srtt 40, rttvar 20, rto 120
 * rtt.onSample(44);          // srtt 40.5, rttvar 16
 * const wait = rtt.rto;      // ms
 * ```
 */
export class RttEstimator {
  // Numeric fields start as `= 0`: with ES2022 class fields a bare `x: number;` is first defined
  // as undefined, V8 then tracks it as a tagged field and every fractional store allocates a
  // HeapNumber. Starting from a small integer keeps the field unboxed (in-place double).
  /** Smoothed RTT, ms; equals the initial RTO until the first sample ({@link hasSample} false). */
  srtt: number = 0;
  /** RTT variation, ms (half the initial RTO before the first sample). */
  rttvar: number = 0;
  /** Retransmission timeout, ms, within [minRtoMs, maxRtoMs]. */
  rto: number = 0;
  /** The most recent sample, ms (NaN before the first). */
  latest: number = 0;
  /** Smallest sample seen, ms (Infinity before the first). */
  min: number = 0;
  /** Number of samples taken. */
  samples: number = 0;
  /** Samples refused because they were negative or not finite (a bad clock or a forged echo). */
  rejected: number = 0;
  /** True once a sample has been taken. */
  hasSample: boolean;
  private readonly _initialRto: number = 0;
  private readonly _minRto: number = 0;
  private readonly _maxRto: number = 0;
  private readonly _g: number = 0;

  /** @throws SluiceRangeError / SluiceTypeError naming the option when an option is invalid. */
  constructor(options: RttEstimatorOptions = {}) {
    this._initialRto = checkNumber('initialRtoMs', options.initialRtoMs ?? DEFAULT_INITIAL_RTO_MS, 1, 600_000);
    this._minRto = checkNumber('minRtoMs', options.minRtoMs ?? DEFAULT_MIN_RTO_MS, 0, 600_000);
    this._maxRto = checkNumber('maxRtoMs', options.maxRtoMs ?? DEFAULT_MAX_RTO_MS, this._minRto, 600_000);
    this._g = checkNumber('clockGranularityMs', options.clockGranularityMs ?? DEFAULT_CLOCK_GRANULARITY_MS, 0, 1000);
    this.srtt = this._initialRto;
    this.rttvar = this._initialRto / 2;
    this.rto = this._clamp(this._initialRto);
    this.latest = Number.NaN;
    this.min = Number.POSITIVE_INFINITY;
    this.samples = 0;
    this.rejected = 0;
    this.hasSample = false;
  }

  /**
   * Feeds one RTT measurement R (ms) taken on a packet sent exactly once (Karn). RFC 6298 §2.2
   * for the first sample (SRTT = R, RTTVAR = R/2), §2.3 afterwards (alpha 1/8, beta 1/4, K 4),
   * then the bounds of §2.4/§2.5. Resets the back-off. A negative, non-finite or absurd sample
   * (above {@link MAX_RTT_SAMPLE_MS}) is counted in {@link rejected} and ignored (never throws:
   * samples derive from network input). Kept to microsecond resolution.
   */
  onSample(rttMs: number): void {
    if (!(rttMs >= 0 && rttMs <= MAX_RTT_SAMPLE_MS)) {
      this.rejected++;
      return;
    }
    this.onSampleUs((rttMs * 1000 + 0.5) | 0);
  }

  /**
   * {@link onSample} with the sample in whole microseconds. Per-ACK callers use this form: a
   * small integer crosses a call unboxed, where a computed fractional double would be boxed
   * into a HeapNumber (an allocation) whenever the call is not inlined.
   */
  onSampleUs(rttUs: number): void {
    if (!(rttUs >= 0 && rttUs <= MAX_RTT_SAMPLE_MS * 1000)) {
      this.rejected++;
      return;
    }
    const rttMs = rttUs / 1000;
    if (!this.hasSample) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      this.hasSample = true;
    } else {
      // §2.3: RTTVAR is updated with the old SRTT, then SRTT.
      const err = this.srtt - rttMs;
      this.rttvar = 0.75 * this.rttvar + 0.25 * (err < 0 ? -err : err);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    this.latest = rttMs;
    if (rttMs < this.min) this.min = rttMs;
    this.samples++;
    const v = 4 * this.rttvar;
    this.rto = this._clamp(this.srtt + (v > this._g ? v : this._g));
  }

  /** RFC 6298 §5.5: doubles the RTO (bounded by maxRtoMs) after a timer expiry. */
  backoff(): void {
    this.rto = this._clamp(this.rto * 2);
  }

  private _clamp(v: number): number {
    return v < this._minRto ? this._minRto : v > this._maxRto ? this._maxRto : v;
  }
}
