/**
 * `ImpairRelay`: the seeded {@link LinkModel} as a two-way UDP relay on node:dgram, so that a
 * real sender and receiver (sluice, SRT, ffmpeg, anything on UDP) talk through a reproducible
 * lossy, delayed, rate-limited path (the test bed of issue 8, and `sluice impair`).
 *
 * ```
 *  client ──> [listen socket] ──forward LinkModel──> [upstream socket] ──> target
 *  client <── [listen socket] <──reverse LinkModel── [upstream socket] <── target
 * ```
 *
 * - Datagrams received on the listen address go to the target through the `forward` model;
 *   datagrams the target sends back to the upstream socket go to the *last* client address
 *   seen, through the `reverse` model. The upstream socket is connected to the target, so the
 *   kernel discards datagrams from anyone else (a check in the relay counts any that slip
 *   through as `strayDatagrams`).
 * - The I/O shell is thin (aioquic style): the clock is read once per turn, the models are fed,
 *   every due datagram is drained to its socket, and ONE timer is re-armed to the earliest
 *   `nextTimeout()` (only moved earlier; a timer that fires early finds nothing and re-arms).
 * - Outgoing datagrams are copied from the model into a fixed ring of buffers, each reused
 *   only after its `send` callback (dgram may still read a buffer after `send` returns).
 * - Only loopback targets are allowed unless `allowNonLoopback` is set: the relay is a test
 *   tool, and an impairment relay pointed at the internet is a reflector.
 *
 * @example
 * const relay = new ImpairRelay({
 *   listen: 'udp://127.0.0.1:0', target: 'udp://127.0.0.1:9000',
 *   impairment: parseImpairment('loss=5%,delay=20,jitter=5,seed=1'), durationMs: 30_000,
 * });
 * const { port } = await relay.start(); // send to 127.0.0.1:port
 * await relay.closed;                   // after 30 s
 * console.log(relay.stats());
 */
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SluiceRangeError, SluiceStateError, SluiceTypeError, checkInt, checkNumber } from '../core/errors.js';
import {
  LinkModel,
  DEFAULT_LINK_MAX_DATAGRAM,
  type ImpairmentOptions,
  type LinkStats,
} from '../core/link-model.js';
import { DETACHED_ACCOUNT, type MemoryAccount } from '../core/memory/types.js';
import { SeededRandom, DEFAULT_RANDOM_SEED } from '../core/random.js';

/** A UDP endpoint. */
export interface UdpAddress {
  /** IPv4/IPv6 literal or `localhost` (read as 127.0.0.1). */
  readonly host: string;
  /** Port, 0..65535 (0: any free port, for the listen address). */
  readonly port: number;
}

/** Default datagrams each direction holds in flight: 2048 (1,250 are in flight at 700 Mbit/s x 20 ms). */
export const DEFAULT_RELAY_CAPACITY = 2048;
/** Default socket send and receive buffer size requested: 4 MiB (the kernel may cap it at rmem_max). */
export const DEFAULT_RELAY_SOCKET_BUFFER = 4 * 1024 * 1024;
/** Outgoing buffers per direction waiting for dgram's send callback. */
const OUT_RING = 64;

/** Options of {@link ImpairRelay}. */
export interface ImpairRelayOptions {
  /** Where clients send: `udp://HOST:PORT` or `{ host, port }`; port 0 picks a free port. */
  readonly listen: UdpAddress | string;
  /** Where datagrams are relayed to: `udp://HOST:PORT` or `{ host, port }` (port 1..65535). */
  readonly target: UdpAddress | string;
  /** Impairment of the client -> target direction. Default: a perfect link. */
  readonly impairment?: ImpairmentOptions;
  /**
   * Impairment of the target -> client direction. Default (`undefined`): the same as
   * `impairment` with a seed derived from its seed (alike but independent); `null`: perfect.
   */
  readonly reverse?: ImpairmentOptions | null;
  /** Datagrams held in flight per direction, [1, 2^20]. Default {@link DEFAULT_RELAY_CAPACITY}. */
  readonly capacity?: number;
  /** Largest datagram relayed, bytes, [1, 65507]; longer ones are dropped and counted. Default 1500. */
  readonly maxDatagram?: number;
  /** Stop by itself after this many ms, (0, 2^31 - 1]. Default: run until {@link ImpairRelay.close}. */
  readonly durationMs?: number;
  /** Allow a target that is not a loopback address. Default false. */
  readonly allowNonLoopback?: boolean;
  /** SO_RCVBUF / SO_SNDBUF requested, bytes, [0, 2^30]; 0 leaves the OS default. Default 4 MiB. */
  readonly socketBufferBytes?: number;
  /** Memory account for both models. Default detached. */
  readonly account?: MemoryAccount;
}

/** Statistics of an {@link ImpairRelay} (a snapshot: plain data, safe to JSON.stringify). */
export interface ImpairRelayStats {
  /** ms since {@link ImpairRelay.start}. */
  readonly uptimeMs: number;
  /** Client -> target. */
  readonly forward: Readonly<LinkStats>;
  /** Target -> client. */
  readonly reverse: Readonly<LinkStats>;
  /** The last client address seen, `HOST:PORT`, or null. */
  readonly client: string | null;
  /** Datagrams reaching the upstream socket from somewhere else than the target. */
  readonly strayDatagrams: number;
  /** Reverse datagrams due before any client was known (dropped). */
  readonly noClientDrops: number;
  /** `send` calls that failed (callback error). */
  readonly sendErrors: number;
  /** Socket errors after start (also emitted as `'error'` when someone listens). */
  readonly socketErrors: number;
}

/** Why an {@link ImpairRelay} closed. */
export type ImpairRelayCloseReason = 'closed' | 'duration';

/**
 * Parses `udp://HOST:PORT` (IPv6 as `udp://[::1]:PORT`; the `udp://` prefix is optional).
 * @throws SluiceRangeError naming `name` on bad syntax or port.
 */
export function parseUdpAddress(name: string, text: string): UdpAddress {
  if (typeof text !== 'string') throw new SluiceTypeError(`${name}: expected udp://HOST:PORT, got ${typeof text}`);
  const m = /^(?:udp:\/\/)?(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]+)):([0-9]{1,5})\/?$/.exec(text.trim());
  if (m === null) throw new SluiceRangeError(`${name}: expected udp://HOST:PORT (IPv6: udp://[::1]:PORT), got "${text}"`);
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  if (port > 65535) throw new SluiceRangeError(`${name}: port must be in [0, 65535], got ${port}`);
  return { host, port };
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function _address(name: string, v: UdpAddress | string, minPort: number): UdpAddress {
  const a = typeof v === 'string' ? parseUdpAddress(name, v) : v;
  if (a === null || typeof a !== 'object' || typeof a.host !== 'string') {
    throw new SluiceTypeError(`${name}: expected udp://HOST:PORT or { host, port }`);
  }
  checkInt(`${name}.port`, a.port, minPort, 65535);
  const host = a.host.toLowerCase() === 'localhost' ? '127.0.0.1' : a.host;
  return { host, port: a.port };
}

/**
 * A two-way UDP relay that impairs both directions with seeded {@link LinkModel}s.
 *
 * Events: `'close'(reason: 'closed' | 'duration')`, `'error'(err)` for socket errors after
 * start (only when listened to; always counted in `socketErrors`).
 */
export class ImpairRelay extends EventEmitter {
  /** The client -> target model. */
  readonly forward: LinkModel;
  /** The target -> client model. */
  readonly reverse: LinkModel;
  /** Resolves once the relay has closed (by {@link close} or at the end of `durationMs`). */
  readonly closed: Promise<ImpairRelayCloseReason>;

  private readonly _listenAddr: UdpAddress;
  private readonly _targetAddr: UdpAddress;
  private readonly _durationMs: number;
  private readonly _socketBuffer: number;
  private _targetIp: string;
  private _listen: Socket | null = null;
  private _upstream: Socket | null = null;
  private _bound: UdpAddress | null = null;
  private _t0 = 0;
  private _clientHost: string | null = null;
  private _clientPort = 0;
  private _timer: NodeJS.Timeout | null = null;
  /** Deadline the timer is armed for (model clock, ms); Infinity when not armed. */
  private _timerAt = Infinity;
  private _durationTimer: NodeJS.Timeout | null = null;
  private _state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private _resolveClosed: (r: ImpairRelayCloseReason) => void = () => {};
  private readonly _outFwd: _OutRing;
  private readonly _outRev: _OutRing;
  private _strays = 0;
  private _noClient = 0;
  private _sendErrors = 0;
  private _socketErrors = 0;
  private readonly _onTimer: () => void;
  private readonly _account: MemoryAccount;
  private readonly _ringBytes: number;

  /**
   * @throws SluiceRangeError / SluiceTypeError naming the option; SluiceRangeError for a
   *   non-loopback target without `allowNonLoopback`.
   */
  constructor(options: ImpairRelayOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new SluiceTypeError('options: expected an object');
    this._listenAddr = _address('listen', options.listen, 0);
    this._targetAddr = _address('target', options.target, 1);
    const t = this._targetAddr.host;
    if (options.allowNonLoopback !== true && !isLoopbackHost(t)) {
      throw new SluiceRangeError(
        `target: ${t} is not a loopback address (127.0.0.0/8, ::1, localhost); the relay only forwards to this machine unless allowNonLoopback is set (--allow-non-loopback)`,
      );
    }
    this._targetIp = t;
    this._durationMs = options.durationMs === undefined ? 0 : checkNumber('durationMs', options.durationMs, 1, 0x7fff_ffff);
    this._socketBuffer =
      options.socketBufferBytes === undefined ? DEFAULT_RELAY_SOCKET_BUFFER : checkInt('socketBufferBytes', options.socketBufferBytes, 0, 1 << 30);
    const capacity = options.capacity ?? DEFAULT_RELAY_CAPACITY;
    const maxDatagram = options.maxDatagram === undefined ? DEFAULT_LINK_MAX_DATAGRAM : checkInt('maxDatagram', options.maxDatagram, 1, 65507);
    const account = options.account ?? DETACHED_ACCOUNT;
    const fwd = options.impairment ?? {};
    let rev: ImpairmentOptions;
    if (options.reverse === null) rev = {};
    else if (options.reverse !== undefined) rev = options.reverse;
    else rev = { ...fwd, seed: new SeededRandom(fwd.seed ?? DEFAULT_RANDOM_SEED).derive('reverse').next() };
    this.forward = new LinkModel({ ...fwd, capacity, maxDatagram, account });
    try {
      this.reverse = new LinkModel({ ...rev, capacity, maxDatagram, account });
    } catch (e) {
      this.forward.close();
      throw e;
    }
    // The outgoing rings are memory the relay holds too: charge them to the same account.
    this._account = account;
    this._ringBytes = 2 * OUT_RING * maxDatagram;
    try {
      account.reserve(this._ringBytes);
    } catch (e) {
      this.forward.close();
      this.reverse.close();
      throw e;
    }
    this._outFwd = new _OutRing(maxDatagram, this);
    this._outRev = new _OutRing(maxDatagram, this);
    this.closed = new Promise((resolve) => {
      this._resolveClosed = resolve;
    });
    this._onTimer = () => {
      this._timer = null;
      this._timerAt = Infinity;
      if (this._state === 'running') this._pump(this._now());
    };
  }

  /**
   * Binds both sockets and starts relaying (and the `durationMs` countdown).
   * @returns the bound listen address (its real port when `listen` had port 0).
   * @throws (rejects) with the socket error (e.g. `EADDRINUSE`) or a DNS error; the relay is
   *   closed then. SluiceStateError when called twice.
   */
  async start(): Promise<UdpAddress> {
    if (this._state !== 'new') throw new SluiceStateError(`ImpairRelay.start: already ${this._state}`);
    this._state = 'starting';
    try {
      if (isIP(this._targetIp) === 0) this._targetIp = (await lookup(this._targetIp)).address;
      const listenFamily = isIP(this._listenAddr.host) === 6 ? 'udp6' : 'udp4';
      const targetFamily = isIP(this._targetIp) === 6 ? 'udp6' : 'udp4';
      this._listen = dgram.createSocket({ type: listenFamily });
      this._upstream = dgram.createSocket({ type: targetFamily });
      await _bind(this._listen, this._listenAddr.port, this._listenAddr.host);
      // The upstream socket talks only to the target: bind it to loopback when the target is.
      const upHost = isLoopbackHost(this._targetIp) ? (targetFamily === 'udp6' ? '::1' : '127.0.0.1') : undefined;
      await _bind(this._upstream, 0, upHost);
      // Connected: the kernel delivers only the target's datagrams to it, and sends skip the
      // per-call address handling of dgram.
      await _connect(this._upstream, this._targetAddr.port, this._targetIp);
    } catch (e) {
      this._state = 'running'; // let close() tear down what was created
      await this.close();
      throw e;
    }
    for (const s of [this._listen, this._upstream]) {
      if (this._socketBuffer > 0) {
        try {
          s.setRecvBufferSize(this._socketBuffer);
          s.setSendBufferSize(this._socketBuffer);
        } catch {
          // The OS refused the size (it may also cap it silently at rmem_max); the default stays.
        }
      }
      s.on('error', (err) => {
        this._socketErrors++;
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
    }
    this._listen.on('message', (msg: Buffer, rinfo: RemoteInfo) => this._fromClient(msg, rinfo));
    this._upstream.on('message', (msg: Buffer, rinfo: RemoteInfo) => this._fromTarget(msg, rinfo));
    const a = this._listen.address();
    this._bound = { host: a.address, port: a.port };
    this._t0 = performance.now();
    this._state = 'running';
    if (this._durationMs > 0) {
      this._durationTimer = setTimeout(() => {
        this._durationTimer = null;
        void this._close('duration');
      }, this._durationMs);
    }
    return this._bound;
  }

  /** The bound listen address. @throws SluiceStateError before {@link start} resolved. */
  address(): UdpAddress {
    if (this._bound === null) throw new SluiceStateError('ImpairRelay.address: not started');
    return this._bound;
  }

  /** The port of the upstream socket (the source port the target sees), or 0 before start. */
  upstreamPort(): number {
    return this._upstream !== null && this._state === 'running' ? this._upstream.address().port : 0;
  }

  /** A snapshot of the counters. */
  stats(): ImpairRelayStats {
    return {
      uptimeMs: this._state === 'new' ? 0 : Math.round(this._now()),
      forward: { ...this.forward.stats },
      reverse: { ...this.reverse.stats },
      client: this._clientHost === null ? null : `${this._clientHost.includes(':') ? `[${this._clientHost}]` : this._clientHost}:${this._clientPort}`,
      strayDatagrams: this._strays,
      noClientDrops: this._noClient,
      sendErrors: this._sendErrors,
      socketErrors: this._socketErrors,
    };
  }

  /**
   * Stops relaying, closes both sockets and both models (what is in flight is dropped, memory
   * is returned to the account). Idempotent; resolves when the sockets are closed.
   */
  close(): Promise<void> {
    return this._close('closed');
  }

  private async _close(reason: ImpairRelayCloseReason): Promise<void> {
    if (this._state === 'closed' || this._state === 'closing') {
      await this.closed;
      return;
    }
    if (this._state === 'new') {
      this._state = 'closed';
      this.forward.close();
      this.reverse.close();
      this._account.unreserve(this._ringBytes);
      this._resolveClosed(reason);
      this.emit('close', reason);
      return;
    }
    this._state = 'closing';
    if (this._timer !== null) clearTimeout(this._timer);
    if (this._durationTimer !== null) clearTimeout(this._durationTimer);
    this._timer = null;
    this._durationTimer = null;
    const closing: Array<Promise<void>> = [];
    for (const s of [this._listen, this._upstream]) {
      if (s === null) continue;
      closing.push(
        new Promise<void>((resolve) => {
          try {
            s.close(() => resolve());
          } catch {
            resolve(); // already closed (e.g. after a failed bind)
          }
        }),
      );
    }
    await Promise.all(closing);
    this.forward.close();
    this.reverse.close();
    this._account.unreserve(this._ringBytes);
    this._state = 'closed';
    this._resolveClosed(reason);
    this.emit('close', reason);
  }

  /** Model clock: ms since start. */
  private _now(): number {
    return performance.now() - this._t0;
  }

  private _fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    if (this._state !== 'running') return;
    if (rinfo.port !== this._clientPort || rinfo.address !== this._clientHost) {
      this._clientHost = rinfo.address;
      this._clientPort = rinfo.port;
    }
    const now = this._now();
    this.forward.send(msg, 0, msg.length, now);
    this._pump(now);
  }

  private _fromTarget(msg: Buffer, rinfo: RemoteInfo): void {
    if (this._state !== 'running') return;
    if (rinfo.port !== this._targetAddr.port || rinfo.address !== this._targetIp) {
      this._strays++;
      return;
    }
    const now = this._now();
    this.reverse.send(msg, 0, msg.length, now);
    this._pump(now);
  }

  /** @internal Called by an out ring when a send completed and the ring had run dry. */
  _resume(): void {
    if (this._state === 'running') this._pump(this._now());
  }

  /** @internal Counts a failed send (from an out ring's callback). */
  _sendFailed(): void {
    this._sendErrors++;
  }

  /** Drains every due datagram of both models to its socket, then re-arms the timer. */
  private _pump(now: number): void {
    const up = this._upstream as Socket;
    const lis = this._listen as Socket;
    const fwd = this._outFwd;
    for (;;) {
      const slot = fwd.take();
      if (slot < 0) break;
      const buf = fwd.bufs[slot] as Uint8Array;
      const n = this.forward.poll(now, buf);
      if (n < 0) {
        fwd.put(slot);
        break;
      }
      up.send(buf, 0, n, fwd.callbacks[slot]);
    }
    const rev = this._outRev;
    for (;;) {
      const slot = rev.take();
      if (slot < 0) break;
      const buf = rev.bufs[slot] as Uint8Array;
      const n = this.reverse.poll(now, buf);
      if (n < 0) {
        rev.put(slot);
        break;
      }
      if (this._clientHost === null) {
        this._noClient++;
        rev.put(slot);
        continue;
      }
      lis.send(buf, 0, n, this._clientPort, this._clientHost, rev.callbacks[slot]);
    }
    // One timer for both directions; when a ring ran dry, its send callback resumes instead.
    const next = Math.min(fwd.dry ? Infinity : this.forward.nextTimeout(), rev.dry ? Infinity : this.reverse.nextTimeout());
    if (next === Infinity) return;
    if (this._timer !== null && this._timerAt <= next) return; // armed earlier already: it re-arms when it fires
    if (this._timer !== null) clearTimeout(this._timer);
    this._timerAt = next;
    this._timer = setTimeout(this._onTimer, Math.max(0, Math.ceil(next - now)));
  }
}

/**
 * Buffers for outgoing datagrams of one direction: dgram may read a buffer after `send`
 * returns (when the kernel queue is full it queues the request), so each buffer is reused only
 * after its callback. The callbacks are made once here, not per packet.
 */
class _OutRing {
  readonly bufs: Uint8Array[];
  readonly callbacks: Array<(err: Error | null) => void>;
  private readonly _free: Int32Array;
  private _top: number;
  /** True when a take() found no buffer (the pump stopped early; a callback resumes it). */
  dry: boolean;

  constructor(maxDatagram: number, owner: ImpairRelay) {
    const slab = new Uint8Array(OUT_RING * maxDatagram);
    this.bufs = [];
    this.callbacks = [];
    this._free = new Int32Array(OUT_RING);
    this._top = OUT_RING;
    this.dry = false;
    for (let i = 0; i < OUT_RING; i++) {
      this.bufs.push(slab.subarray(i * maxDatagram, (i + 1) * maxDatagram));
      this._free[i] = i;
      this.callbacks.push((err) => {
        if (err) owner._sendFailed();
        this.put(i);
        if (this.dry) {
          this.dry = false;
          owner._resume();
        }
      });
    }
  }

  take(): number {
    if (this._top === 0) {
      this.dry = true;
      return -1;
    }
    return this._free[--this._top] as number;
  }

  put(slot: number): void {
    this._free[this._top++] = slot;
  }
}

function _connect(s: Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    s.once('error', onError);
    s.connect(port, host, () => {
      s.off('error', onError);
      resolve();
    });
  });
}

function _bind(s: Socket, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    s.once('error', onError);
    s.bind({ port, address: host, exclusive: true }, () => {
      s.off('error', onError);
      resolve();
    });
  });
}
