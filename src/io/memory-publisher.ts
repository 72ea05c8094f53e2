/**
 * Publishing of {@link MemorySnapshot}s: on `node:diagnostics_channel`, as an EventEmitter
 * `'snapshot'` event and as an async iterator, at a chosen interval.
 *
 * Channel: {@link MEMORY_CHANNEL} (`'sluice:memory'`). Each message is one `MemorySnapshot`
 * (plain data; `timeMs` is `Date.now()` unless a `clock` is given). Subscribe with
 * `diagnostics_channel.subscribe('sluice:memory', (snap) => ...)`.
 *
 * Cost when nobody listens: the timer still fires, but a tick that finds no channel
 * subscriber, no `'snapshot'` listener and no waiting iterator returns at once: no snapshot is
 * taken, nothing is allocated. The timer is `unref()`'d, so a publisher never keeps the process
 * alive (a `for await` over {@link MemoryPublisher.snapshots} ends with the process when nothing
 * else, e.g. a socket, keeps it running).
 */
import diagnostics_channel, { type Channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import type { MemoryAccountant, MemorySnapshot } from '../core/memory/accountant.js';
import { SluiceStateError, SluiceTypeError, checkInt } from '../core/errors.js';

/** The diagnostics channel name memory snapshots are published on. */
export const MEMORY_CHANNEL = 'sluice:memory';
/** Default publishing interval: 1 s (one Prometheus-style scrape resolution). */
export const DEFAULT_PUBLISH_INTERVAL_MS = 1000;
/** Smallest interval accepted: a snapshot allocates, so not faster than 100 per second. */
export const MIN_PUBLISH_INTERVAL_MS = 10;
/** Snapshots an iterator buffers for a slow consumer before dropping the oldest. */
export const DEFAULT_ITERATOR_QUEUE = 8;

/** Options of {@link MemoryPublisher}. */
export interface MemoryPublisherOptions {
  /** Interval between ticks, ms, 10..86,400,000. Default {@link DEFAULT_PUBLISH_INTERVAL_MS}. */
  readonly intervalMs?: number;
  /** Channel name. Default {@link MEMORY_CHANNEL}. */
  readonly channelName?: string;
  /** Clock stamped into `timeMs`, ms. Default `Date.now`. */
  readonly clock?: () => number;
  /** Start the timer in the constructor. Default true. */
  readonly start?: boolean;
  /** Snapshots queued per iterator, 1..1024. Default {@link DEFAULT_ITERATOR_QUEUE}. */
  readonly iteratorQueue?: number;
}

/** Options of {@link MemoryPublisher.snapshots}. */
export interface SnapshotIteratorOptions {
  /** Ends the iteration (done) when aborted. */
  readonly signal?: AbortSignal;
}

/** Events of {@link MemoryPublisher}. */
export interface MemoryPublisherEvents {
  snapshot: [snapshot: MemorySnapshot];
}

interface _Waiter {
  readonly queue: MemorySnapshot[];
  resolve: ((r: IteratorResult<MemorySnapshot>) => void) | null;
  done: boolean;
  finish: () => void;
}

/**
 * Publishes an accountant's snapshots at an interval.
 *
 * @throws SluiceRangeError / SluiceTypeError from the constructor for bad options.
 * @example
 * ```ts
 * const pub = new MemoryPublisher(accountant, { intervalMs: 5000 });
 * pub.on('snapshot', (s) => log(s.reservedBytes));
 * for await (const s of pub.snapshots({ signal })) console.log(s.remainingBytes);
 * pub.close();
 * ```
 */
export class MemoryPublisher extends EventEmitter<MemoryPublisherEvents> {
  /** The accountant published. */
  readonly accountant: MemoryAccountant;
  /** The diagnostics channel. */
  readonly channel: Channel;
  /** Interval, ms. */
  readonly intervalMs: number;
  private readonly _clock: () => number;
  private readonly _queueMax: number;
  private readonly _waiters: Set<_Waiter>;
  private _timer: ReturnType<typeof setInterval> | null;
  private _closed: boolean;
  private _published: number;
  private _skipped: number;
  private _dropped: number;

  constructor(accountant: MemoryAccountant, options: MemoryPublisherOptions = {}) {
    super();
    if (typeof accountant !== 'object' || accountant === null || typeof accountant.snapshot !== 'function') {
      throw new SluiceTypeError('MemoryPublisher accountant: expected a MemoryAccountant');
    }
    this.accountant = accountant;
    this.intervalMs = checkInt('MemoryPublisher intervalMs', options.intervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS, MIN_PUBLISH_INTERVAL_MS, 86_400_000);
    const name = options.channelName ?? MEMORY_CHANNEL;
    if (typeof name !== 'string' || name.length === 0) throw new SluiceTypeError('MemoryPublisher channelName: expected a non-empty string');
    this.channel = diagnostics_channel.channel(name);
    this._clock = options.clock ?? Date.now;
    if (typeof this._clock !== 'function') throw new SluiceTypeError('MemoryPublisher clock: expected a function');
    this._queueMax = checkInt('MemoryPublisher iteratorQueue', options.iteratorQueue ?? DEFAULT_ITERATOR_QUEUE, 1, 1024);
    this._waiters = new Set();
    this._timer = null;
    this._closed = false;
    this._published = 0;
    this._skipped = 0;
    this._dropped = 0;
    if (options.start ?? true) this.start();
  }

  /** True when a tick would publish: a channel subscriber, a listener or an iterator. */
  get hasSubscribers(): boolean {
    return this.channel.hasSubscribers || this.listenerCount('snapshot') > 0 || this._waiters.size > 0;
  }

  /** Snapshots published (taken and delivered). */
  get published(): number {
    return this._published;
  }
  /** Ticks that found nobody listening (no snapshot taken). */
  get skipped(): number {
    return this._skipped;
  }
  /** Snapshots dropped from a slow iterator's queue. */
  get dropped(): number {
    return this._dropped;
  }
  /** Whether the timer is running. */
  get running(): boolean {
    return this._timer !== null;
  }

  /**
   * Starts the interval timer (unref'd). Idempotent.
   * @throws SluiceStateError after close().
   */
  start(): this {
    if (this._closed) throw new SluiceStateError('MemoryPublisher: start() after close()');
    if (this._timer === null) {
      this._timer = setInterval(() => {
        this.publish();
      }, this.intervalMs);
      this._timer.unref();
    }
    return this;
  }

  /** Stops the timer (iterators stay open and resume on start()). Idempotent. */
  stop(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }

  /**
   * One tick, now: when anyone listens, takes a snapshot and delivers it to the channel, the
   * `'snapshot'` listeners and every iterator. Returns it, or null when nobody listens (then
   * nothing was taken).
   */
  publish(): MemorySnapshot | null {
    if (this._closed) return null;
    if (!this.hasSubscribers) {
      this._skipped++;
      return null;
    }
    const snap = this.accountant.snapshot(this._clock());
    this._published++;
    if (this.channel.hasSubscribers) this.channel.publish(snap);
    for (const w of this._waiters) {
      if (w.resolve !== null) {
        const r = w.resolve;
        w.resolve = null;
        r({ value: snap, done: false });
      } else {
        if (w.queue.length >= this._queueMax) {
          w.queue.shift();
          this._dropped++;
        }
        w.queue.push(snap);
      }
    }
    this.emit('snapshot', snap);
    return snap;
  }

  /**
   * An async iterator over the snapshots published from now on. A slow consumer sees at most
   * `iteratorQueue` buffered snapshots (the oldest are dropped and counted). Ends on
   * `signal` abort, on `return()` (a `break`), or on close().
   */
  snapshots(options: SnapshotIteratorOptions = {}): AsyncIterableIterator<MemorySnapshot> {
    const w: _Waiter = { queue: [], resolve: null, done: this._closed, finish: () => {} };
    const signal = options.signal;
    const finish = (): void => {
      if (w.done) return;
      w.done = true;
      this._waiters.delete(w);
      signal?.removeEventListener('abort', finish);
      if (w.resolve !== null) {
        const r = w.resolve;
        w.resolve = null;
        r({ value: undefined, done: true });
      }
    };
    w.finish = finish;
    if (signal?.aborted) w.done = true;
    if (!w.done) {
      this._waiters.add(w);
      signal?.addEventListener('abort', finish, { once: true });
    }
    return {
      next: (): Promise<IteratorResult<MemorySnapshot>> => {
        const q = w.queue.shift();
        if (q !== undefined) return Promise.resolve({ value: q, done: false });
        if (w.done) return Promise.resolve({ value: undefined, done: true });
        if (w.resolve !== null) throw new SluiceStateError('MemoryPublisher iterator: next() called while a previous next() is pending');
        return new Promise((resolve) => {
          w.resolve = resolve;
        });
      },
      return: (): Promise<IteratorResult<MemorySnapshot>> => {
        finish();
        w.queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Same as `snapshots()` without options. */
  [Symbol.asyncIterator](): AsyncIterableIterator<MemorySnapshot> {
    return this.snapshots();
  }

  /** Stops the timer and ends every iterator. Idempotent. */
  close(): void {
    if (this._closed) return;
    this.stop();
    this._closed = true;
    for (const w of [...this._waiters]) w.finish();
  }
}

/**
 * Publishes one snapshot of `accountant` on {@link MEMORY_CHANNEL} if it has subscribers
 * (nothing is taken otherwise). Returns whether it published.
 * @example
 * ```ts
 * publishMemorySnapshot(accountant); // e.g. after a connection closed
 * ```
 */
export function publishMemorySnapshot(accountant: MemoryAccountant, nowMs: number = Date.now()): boolean {
  const ch = diagnostics_channel.channel(MEMORY_CHANNEL);
  if (!ch.hasSubscribers) return false;
  ch.publish(accountant.snapshot(nowMs));
  return true;
}
