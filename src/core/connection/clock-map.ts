/**
 * Sender-to-receiver clock mapping for deadline (latency) delivery, with drift tracking.
 *
 * The sender stamps each DATA packet with its media clock (microseconds, 32-bit, wrapping). The
 * receiver needs `release = senderTime + offset + latency` on its own clock, where `offset` is
 * the receiver-minus-sender clock difference *plus the smallest one-way delay*: packets that
 * took longer than the fastest one eat into the latency budget, exactly like SRT's TSBPD base.
 *
 * The offset is the minimum of `recvTime - senderTime` observed over a sliding window of two
 * buckets (each `windowMs` long). A minimum is robust to jitter (it tracks the fastest path);
 * the sliding window lets it follow clock drift (a drift of 100 ppm moves it 0.1 ms per
 * second; with 10 s buckets the estimate lags by at most ~2 ms) and a route change that
 * lengthens the path. The offset only moves forward by at most `maxStepMs` per bucket so that
 * one late-arriving bucket cannot make delivery jump.
 *
 * Pure and allocation-free.
 */
import { unwrap32 } from '../seq.js';

export const DEFAULT_CLOCK_WINDOW_MS = 10_000;

export class ClockMap {
  private readonly windowMs: number;
  /** Unwrapped sender time of the newest stamp seen (microseconds), for unwrap32. */
  private lastSenderUs = 0;
  private started = false;
  /** Current offset estimate, ms (receiver time - sender time). */
  private offset = 0;
  private bucketStart = 0;
  private curMin = Infinity;
  private prevMin = Infinity;
  /** Number of samples seen. */
  samples = 0;

  constructor(windowMs = DEFAULT_CLOCK_WINDOW_MS) {
    this.windowMs = windowMs;
  }

  /**
   * Converts a 32-bit wire timestamp (us) to the sender's unwrapped time in ms, tracking wrap.
   * Call in arrival order; stamps within 2^31 us (~35 min) of the last one unwrap correctly.
   */
  senderMs(wireUs: number): number {
    if (!this.started) {
      this.started = true;
      this.lastSenderUs = wireUs;
      return wireUs / 1000;
    }
    const us = unwrap32(this.lastSenderUs, wireUs);
    if (us > this.lastSenderUs) this.lastSenderUs = us;
    return us / 1000;
  }

  /** Feeds one arrival: sender time (ms, unwrapped) and receiver time (ms). */
  observe(senderMs: number, recvMs: number): void {
    const d = recvMs - senderMs;
    this.samples++;
    if (this.samples === 1) {
      this.offset = d;
      this.bucketStart = recvMs;
      this.curMin = d;
      this.prevMin = d;
      return;
    }
    if (recvMs - this.bucketStart >= this.windowMs) {
      this.prevMin = this.curMin;
      this.curMin = Infinity;
      this.bucketStart = recvMs;
    }
    if (d < this.curMin) this.curMin = d;
    const m = this.curMin < this.prevMin ? this.curMin : this.prevMin;
    // Faster path or sender clock running fast: follow at once (packets must not be held longer
    // than the budget). Slower: follow the windowed minimum (drift), which moves only as buckets
    // roll over.
    this.offset = m;
  }

  /** Maps a sender time (ms) to the receiver clock (ms): the release base before latency. */
  toReceiver(senderMs: number): number {
    return senderMs + this.offset;
  }

  /** Current offset estimate in ms. */
  get offsetMs(): number {
    return this.offset;
  }
}
