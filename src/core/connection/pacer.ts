/**
 * Token-bucket pacer: spaces datagrams so that FEC bursts and retransmissions never exceed the
 * configured rate (bits per second), with a bucket depth that allows a short burst.
 *
 * Pure: `now` (ms) is passed in. Tokens are bytes. Allocation-free.
 */
import { checkInt, checkNumber } from '../errors.js';

/** Default bucket depth: 10 full-size datagrams, so a frame's first packets leave at once. */
export const DEFAULT_BURST_BYTES = 14_000;

export interface PacerOptions {
  /** Rate in bits per second, in [64_000, 10_000_000_000]. */
  rateBps: number;
  /** Bucket depth in bytes, in [1_500, 16 MiB]. */
  burstBytes?: number;
}

export class Pacer {
  /** Bytes per millisecond. */
  private bytesPerMs: number;
  private readonly burstBytes: number;
  private tokens: number;
  private lastRefill: number;

  constructor(options: PacerOptions, now: number) {
    checkNumber('rateBps', options.rateBps, 64_000, 10_000_000_000);
    this.burstBytes = checkInt('burstBytes', options.burstBytes ?? DEFAULT_BURST_BYTES, 1_500, 16 * 1024 * 1024);
    this.bytesPerMs = options.rateBps / 8 / 1000;
    this.tokens = this.burstBytes;
    this.lastRefill = now;
  }

  /** Current rate in bits per second. */
  get rateBps(): number {
    return this.bytesPerMs * 8000;
  }

  /** Changes the rate (e.g. negotiated or adapted); tokens held are kept. */
  setRate(rateBps: number): void {
    checkNumber('rateBps', rateBps, 64_000, 10_000_000_000);
    this.bytesPerMs = rateBps / 8 / 1000;
  }

  private refill(now: number): void {
    const dt = now - this.lastRefill;
    if (dt > 0) {
      const t = this.tokens + dt * this.bytesPerMs;
      this.tokens = t > this.burstBytes ? this.burstBytes : t;
      this.lastRefill = now;
    }
  }

  /** True when a datagram of `bytes` may leave at `now`. */
  canSend(bytes: number, now: number): boolean {
    this.refill(now);
    // 1e-6 byte of slack absorbs the rounding of nextSendTime()'s division.
    return this.tokens + 1e-6 >= bytes;
  }

  /** Charges a datagram that was sent (tokens may go negative by one datagram). */
  consume(bytes: number, now: number): void {
    this.refill(now);
    this.tokens -= bytes;
  }

  /** Earliest time (ms) at which `bytes` may leave; `now` when already allowed. */
  nextSendTime(bytes: number, now: number): number {
    this.refill(now);
    if (this.tokens + 1e-6 >= bytes) return now;
    return now + (bytes - this.tokens) / this.bytesPerMs;
  }
}
