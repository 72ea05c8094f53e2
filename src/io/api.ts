/**
 * The public Node API: `listen()` and `connect()`, with Node's conventions: EventEmitters,
 * async iteration over connections and frames, Node streams with backpressure, AbortSignal for
 * cancellation, errors with stable `code`s.
 *
 * @example
 * ```ts
 * import { listen, connect } from 'sluice';
 * const server = await listen({ port: 9000, key: 'a pre-shared key of 16+ bytes' });
 * server.on('connection', (conn) => conn.on('frame', (f) => console.log(f.data.length)));
 * const conn = await connect({ host: '127.0.0.1', port: 9000, key: 'a pre-shared key of 16+ bytes' });
 * await conn.write(new Uint8Array(50_000), { keyframe: true });
 * ```
 */
import { EventEmitter, once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { SluiceError, SluiceStateError, SluiceTypeError, checkInt } from '../core/errors.js';
import { SendStatus, type Connection, type ConnectionEvent } from '../core/connection/connection.js';
import { DEFAULT_EXPECTED_RATE_BPS, type ConnectionOptions } from '../core/connection/options.js';
import type { ConnectionStats } from '../core/connection/stats.js';
import { CloseReason } from '../core/wire/constants.js';
import { MemoryAccountant } from '../core/memory/accountant.js';
import type { BufferPool } from '../core/memory/buffer-pool.js';
import { createNodeProtector } from './node-protector.js';
import { SocketDriver, callerSendRingFor, cryptoRandom, type SocketOptions } from './socket.js';

let socketSeq = 0;
function ringAccountName(): string {
  socketSeq++;
  return `socket.${socketSeq}.send-ring`;
}

/** sendFrame options, shared (no object per frame). */
const KEYFRAME = Object.freeze({ keyframe: true });
const NOT_KEYFRAME = Object.freeze({ keyframe: false });
/** Default send options (no object per call). */
const DEFAULT_SEND_OPTIONS: SendOptions = Object.freeze({});

/** The process-wide accountant used when no `accountant` option is given. */
export const defaultAccountant = new MemoryAccountant();

/** A received frame. */
export interface Frame {
  /** The frame's bytes (owned by the receiver). */
  readonly data: Uint8Array;
  /** Sender time of the frame, ms since the sender's connection start. */
  readonly timestampMs: number;
  readonly keyframe: boolean;
}

/** A frame (or run of sequences) lost for good. */
export interface FrameLoss {
  readonly firstSeq: number;
  readonly count: number;
  readonly reason: 'loss' | 'inconsistent' | 'oversized';
}

/** Why a connection closed. */
export interface CloseInfo {
  readonly reason: number;
  readonly message: string;
  readonly byPeer: boolean;
}

export interface SendOptions {
  keyframe?: boolean;
  /**
   * Copy the frame before queueing it (default true), so the caller may reuse its buffer at once.
   * With `false` the frame is held by reference until it has been cut into packets: do not
   * modify it before the write resolves / 'drain'.
   */
  copy?: boolean;
}

/** Common options of `listen` and `connect`. */
export interface NodeOptions extends ConnectionOptions, Omit<SocketOptions, 'account'> {
  /** Memory accountant (default: {@link defaultAccountant}). */
  accountant?: MemoryAccountant;
  /** Cancels `connect()` / closes the server or connection when aborted. */
  signal?: AbortSignal;
  /** Use the pure-JS HMAC instead of node:crypto (for portability tests). Default false. */
  pureCrypto?: boolean;
  /** Frames buffered for async iteration before the oldest is dropped (live media cannot pause the network). Default 1024. */
  frameQueue?: number;
}

export interface ListenOptions extends NodeOptions {
  /** UDP port to listen on (0: ephemeral, read it from `server.address()`). */
  port: number;
  /** Most connections at once. Default 10_000. */
  maxConnections?: number;
}

export interface ConnectOptions extends NodeOptions {
  /** Listener host (an IP address). */
  host: string;
  /** Listener port. */
  port: number;
  /** Local port to bind (default ephemeral). */
  localPort?: number;
}

/**
 * One sluice connection. Events: 'frame' (Frame), 'frame-lost' (FrameLoss), 'drain', 'close'
 * (CloseInfo), 'error'.
 */
export class SluiceConnection extends EventEmitter {
  /** The core connection (statistics, state). */
  readonly core: Connection;
  /** Remote address and port. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  private readonly driver: SocketDriver;
  private readonly ownsDriver: boolean;
  private readonly queue: Frame[] = [];
  private readonly queueLimit: number;
  private waiters: Array<() => void> = [];
  /** Frames dropped because nobody consumed the async iterator fast enough. */
  framesDroppedUnread = 0;
  private closedInfo: CloseInfo | null = null;
  private iterating = false;
  private driverClosed: Promise<void> = Promise.resolve();

  /** @internal */
  constructor(core: Connection, driver: SocketDriver, ownsDriver: boolean, remoteAddress: string, remotePort: number, queueLimit: number) {
    super();
    this.core = core;
    this.driver = driver;
    this.ownsDriver = ownsDriver;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.queueLimit = queueLimit;
  }

  /** @internal Called by the driver for each core event. */
  _onCoreEvent(e: ConnectionEvent): void {
    switch (e.type) {
      case 'frame': {
        const f: Frame = { data: e.data, timestampMs: e.timestampMs, keyframe: e.keyframe };
        if (this.iterating) {
          if (this.queue.length >= this.queueLimit) {
            this.queue.shift();
            this.framesDroppedUnread++;
          }
          this.queue.push(f);
          this.wake();
        }
        this.emit('frame', f);
        break;
      }
      case 'frame-lost':
        this.emit('frame-lost', { firstSeq: e.firstSeq, count: e.count, reason: e.reason } satisfies FrameLoss);
        break;
      case 'drain':
        this.emit('drain');
        break;
      case 'closed':
        this.closedInfo = { reason: e.reason, message: e.message, byPeer: e.byPeer };
        this.wake();
        if (this.ownsDriver) this.driverClosed = this.driver.close();
        this.emit('close', this.closedInfo);
        break;
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.closedInfo !== null;
  }

  /** Why the connection closed, or null while it is open. */
  get closeInfo(): CloseInfo | null {
    return this.closedInfo;
  }

  /**
   * Queues a frame. Returns true when more may be sent now, false when the caller should wait
   * for 'drain' (the frame was queued unless the queue was full: then it throws
   * `ERR_SLUICE_QUEUE_FULL`, use `write()` to wait instead).
   * @throws SluiceError ERR_SLUICE_FRAME_TOO_LARGE, ERR_SLUICE_QUEUE_FULL; SluiceStateError when closed.
   */
  send(data: Uint8Array, options: SendOptions = DEFAULT_SEND_OPTIONS): boolean {
    if (!(data instanceof Uint8Array)) throw new SluiceTypeError('send: data must be a Uint8Array');
    if (this.closedInfo !== null) throw new SluiceStateError('send: the connection is closed');
    const frame = options.copy === false ? data : Uint8Array.prototype.slice.call(data);
    const st = this.core.sendFrame(frame, performance.now(), options.keyframe === true ? KEYFRAME : NOT_KEYFRAME);
    this.driver.scheduleFlush();
    if (st === SendStatus.FULL) {
      throw new SluiceError('ERR_SLUICE_QUEUE_FULL', `send: the send queue is full (${this.core.options.sendQueueBytes} bytes); wait for 'drain'`);
    }
    return st === SendStatus.OK;
  }

  /** Queues a frame, waiting for room when the queue is full. Resolves once queued. */
  async write(data: Uint8Array, options: SendOptions = DEFAULT_SEND_OPTIONS): Promise<void> {
    for (;;) {
      if (this.closedInfo !== null) throw new SluiceStateError('write: the connection is closed');
      const frame = options.copy === false ? data : Uint8Array.prototype.slice.call(data);
      const st = this.core.sendFrame(frame, performance.now(), options.keyframe === true ? KEYFRAME : NOT_KEYFRAME);
      this.driver.scheduleFlush();
      if (st !== SendStatus.FULL) {
        if (st === SendStatus.PRESSURE) await this.waitDrain();
        return;
      }
      await this.waitDrain();
    }
  }

  private async waitDrain(): Promise<void> {
    if (this.closedInfo !== null) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.on('drain', done);
      this.on('close', done);
    });
  }

  /** Async iteration over received frames; ends when the connection closes. */
  async *frames(): AsyncGenerator<Frame, void, undefined> {
    this.iterating = true;
    try {
      for (;;) {
        const f = this.queue.shift();
        if (f !== undefined) {
          yield f;
          continue;
        }
        if (this.closedInfo !== null) return;
        await new Promise<void>((r) => this.waiters.push(r));
      }
    } finally {
      this.iterating = false;
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Frame, void, undefined> {
    return this.frames();
  }

  /** A readable stream of received frame bytes (object mode: one chunk per frame). */
  readable(): Readable {
    return Readable.from(
      (async function* (self: SluiceConnection) {
        for await (const f of self.frames()) yield f.data;
      })(this),
      { objectMode: true, highWaterMark: 64 },
    );
  }

  /** A writable stream: each chunk is one frame; backpressure follows the send queue. */
  writable(options: { keyframe?: (chunk: Uint8Array) => boolean } = {}): Writable {
    return new Writable({
      objectMode: true,
      highWaterMark: 16,
      write: (chunk: Uint8Array, _enc, cb) => {
        this.write(chunk, { keyframe: options.keyframe?.(chunk) ?? false }).then(() => cb(), cb);
      },
      final: (cb) => {
        this.close().then(() => cb(), cb);
      },
    });
  }

  /** Statistics now. */
  stats(): ConnectionStats {
    return this.core.stats(performance.now());
  }

  /**
   * Figures of the UDP socket under this connection (shared with the other connections of a
   * listener): datagrams in/out, send-ring stalls, send errors, and `unreachable`, the ICMP
   * port-unreachable reports a caller's connected socket received (nobody listening at the peer).
   */
  get socketStats(): { datagramsIn: number; datagramsOut: number; ringFullStalls: number; sendErrors: number; unreachable: number } {
    const d = this.driver;
    return { datagramsIn: d.datagramsIn, datagramsOut: d.datagramsOut, ringFullStalls: d.ringFullStalls, sendErrors: d.sendErrors, unreachable: d.unreachable };
  }

  /**
   * Graceful close: waits until queued frames have been sent (at most `flushTimeoutMs`),
   * sends CLOSE to the peer and resolves when closed.
   */
  async close(flushTimeoutMs = 2000): Promise<void> {
    if (this.closedInfo !== null) return;
    const until = performance.now() + flushTimeoutMs;
    while (this.core.queuedBytes > 0 && this.closedInfo === null && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.closedInfo === null) {
      const closed = once(this, 'close');
      this.core.close(performance.now(), CloseReason.NORMAL, '');
      this.driver.scheduleFlush();
      await closed;
    }
    // A caller's connection owns its socket: resolve once that is closed and its memory returned.
    await this.driverClosed;
  }

  /** Closes at once without telling the peer. */
  destroy(): void {
    if (this.closedInfo !== null) return;
    this.core.abort('destroyed');
    this.driver.drainConnection(this.core);
    this.driver.scheduleFlush();
  }
}

function accountantOf(o: NodeOptions): MemoryAccountant {
  return o.accountant ?? defaultAccountant;
}

/** Slot size of the shared packet pool: a 1500-byte MTU's UDP payload (holds any default payload). */
const POOL_SLOT_BYTES = 1472;
interface SharedPools {
  pool: BufferPool;
  refs: number;
  rings: Map<number, BufferPool>;
  /** A trim is scheduled (at most one per {@link TRIM_DELAY_MS}). */
  trimTimer: NodeJS.Timeout | null;
}

const pools = new WeakMap<MemoryAccountant, SharedPools>();

/**
 * How long after a connection ends the shared pools are trimmed (at most one trim per this
 * interval). Slabs a connection emptied stay that long, so a connection that follows at once
 * reuses them instead of allocating; then every slab without a slot in use is freed, so a server
 * that once held 100 streams and now holds 2 does not keep the memory of 100.
 */
export const TRIM_DELAY_MS = 1000;

/**
 * The packet pool shared by every socket charged to `accountant`: payload memory follows what is
 * held, not each buffer's capacity. Its cap is a quarter of the budget; a full pool drops (and
 * counts) instead of growing. Reference-counted by the sockets that use it: it is created by the
 * first `listen`/`connect` and closed (its slabs returned) when the last of them closes, so after
 * everything is closed `accountant.leakCheck({ strict: true })` finds nothing held.
 */
export function sharedPool(accountant: MemoryAccountant): BufferPool {
  return retainPool(accountant, 0);
}

function retainPool(accountant: MemoryAccountant, delta: number): BufferPool {
  let entry = pools.get(accountant);
  if (entry === undefined || entry.pool.closed) {
    const maxSlots = Math.max(1024, Math.floor(accountant.budgetBytes / 4 / POOL_SLOT_BYTES));
    const pool = accountant.createPool({
      slotSize: POOL_SLOT_BYTES,
      slotsPerSlab: 256,
      maxSlots,
      devChecks: process.env.NODE_ENV !== 'production',
    });
    entry = { pool, refs: 0, rings: new Map(), trimTimer: null };
    pools.set(accountant, entry);
  }
  entry.refs += delta;
  return entry.pool;
}

function releasePool(accountant: MemoryAccountant): void {
  const entry = pools.get(accountant);
  if (entry === undefined) return;
  entry.refs--;
  // Slots still out would be a leak: keep the pool open so leakCheck() reports them.
  let inUse = entry.pool.inUse;
  for (const r of entry.rings.values()) inUse += r.inUse;
  if (entry.refs <= 0 && inUse === 0 && !entry.pool.closed) {
    if (entry.trimTimer !== null) clearTimeout(entry.trimTimer);
    entry.trimTimer = null;
    entry.pool.close();
    for (const r of entry.rings.values()) r.close();
    pools.delete(accountant);
  }
}

/**
 * After a connection of `accountant` ends: within {@link TRIM_DELAY_MS}, frees every slab of the
 * shared packet pool and of the FEC ring pools that holds no slot in use, so their bytes leave the
 * budget (and, once collected, the process). Slabs with a live connection's slot stay.
 */
function scheduleTrim(accountant: MemoryAccountant): void {
  const entry = pools.get(accountant);
  if (entry === undefined || entry.trimTimer !== null || entry.pool.closed) return;
  entry.trimTimer = setTimeout(() => {
    entry.trimTimer = null;
    if (entry.pool.closed) return;
    entry.pool.trim();
    for (const r of entry.rings.values()) if (!r.closed) r.trim();
  }, TRIM_DELAY_MS);
  entry.trimTimer.unref();
}

/** FEC ring sizes are rounded up to 4 KiB so configurations that differ slightly share a pool. */
const RING_GRANULE = 4096;

/**
 * Pools of whole FEC rings (one slab per ring), one pool per ring size, shared by the sockets of
 * `accountant` and closed with the shared packet pool: a connection that ends leaves its rings for
 * the next one instead of to the garbage collector.
 */
function ringPools(accountant: MemoryAccountant): (bytes: number) => BufferPool | undefined {
  return (bytes: number) => {
    const entry = pools.get(accountant);
    if (entry === undefined) return undefined;
    const size = Math.ceil(bytes / RING_GRANULE) * RING_GRANULE;
    let pool = entry.rings.get(size);
    if (pool === undefined || pool.closed) {
      pool = accountant.createPool({
        slotSize: size,
        slotsPerSlab: 1,
        maxSlots: Math.max(4, Math.floor(accountant.budgetBytes / 4 / size)),
        devChecks: process.env.NODE_ENV !== 'production',
      });
      entry.rings.set(size, pool);
    }
    return pool;
  };
}

function endpointOptions(o: NodeOptions, listen: boolean, maxConnections?: number) {
  const accountant = accountantOf(o);
  return {
    connection: o,
    listen,
    random: cryptoRandom,
    accounts: accountant,
    pool: retainPool(accountant, 1),
    fecRings: ringPools(accountant),
    ...(o.pureCrypto === true ? {} : { protector: createNodeProtector }),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
  };
}

function wire(driver: SocketDriver, byCore: Map<Connection, SluiceConnection>, accountant: MemoryAccountant): void {
  driver.on('conn-event', (c: Connection, e: ConnectionEvent) => {
    const w = byCore.get(c);
    if (w === undefined) return;
    w._onCoreEvent(e);
    if (e.type === 'closed') {
      byCore.delete(c);
      scheduleTrim(accountant);
    }
  });
}

/**
 * A listening socket. Events: 'connection' (SluiceConnection), 'rejected' (address, port,
 * reason), 'error', 'close'. Async iteration yields incoming connections.
 */
export class SluiceServer extends EventEmitter {
  private readonly driver: SocketDriver;
  private readonly byCore = new Map<Connection, SluiceConnection>();
  private readonly pending: SluiceConnection[] = [];
  private waiters: Array<() => void> = [];
  private closing = false;
  readonly accountant: MemoryAccountant;

  /** @internal */
  constructor(driver: SocketDriver, accountant: MemoryAccountant, queueLimit: number) {
    super();
    this.driver = driver;
    this.accountant = accountant;
    wire(driver, this.byCore, accountant);
    driver.on('connection', (core: Connection, address: string, port: number) => {
      const conn = new SluiceConnection(core, driver, false, address, port, queueLimit);
      this.byCore.set(core, conn);
      this.pending.push(conn);
      if (this.pending.length > 1024) this.pending.shift();
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
      this.emit('connection', conn);
    });
    driver.on('rejected', (address: string, port: number, reason: string) => this.emit('rejected', address, port, reason));
    driver.on('error', (err: Error) => this.emit('error', err));
  }

  /** The bound address. */
  address(): { address: string; port: number; family: string } {
    return this.driver.address();
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.byCore.size;
  }

  /** Endpoint counters (handshakes, rejections, unknown connection ids). */
  get endpointCounters() {
    return this.driver.endpoint.counters;
  }

  /** Socket driver figures: datagrams in/out, ring stalls, kernel receive buffer size. */
  get socketStats() {
    return {
      datagramsIn: this.driver.datagramsIn,
      datagramsOut: this.driver.datagramsOut,
      ringFullStalls: this.driver.ringFullStalls,
      sendErrors: this.driver.sendErrors,
      receiveBufferSize: this.driver.receiveBufferSize,
    };
  }

  /** Incoming connections as they arrive; ends when the server closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<SluiceConnection, void, undefined> {
    for (;;) {
      const c = this.pending.shift();
      if (c !== undefined) {
        yield c;
        continue;
      }
      if (this.closing) return;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Closes every connection gracefully (CLOSE sent), then the socket. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const conns = [...this.byCore.values()];
    await Promise.all(conns.map((c) => c.close(200).catch(() => undefined)));
    await this.driver.close();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    this.emit('close');
  }
}

/**
 * Opens the socket driver with its send ring charged to `accountant` and a reference on the
 * shared pool; both are given back when the driver closes (or at once if binding fails).
 */
async function openDriver(
  accountant: MemoryAccountant,
  endpoint: ReturnType<typeof endpointOptions>,
  socket: Omit<SocketOptions, 'account'>,
): Promise<SocketDriver> {
  const ringName = ringAccountName();
  const giveBack = (): void => {
    accountant.closeAccount(ringName);
    releasePool(accountant);
  };
  const driver = await SocketDriver.open(endpoint, { ...socket, account: accountant.account(ringName) }).catch((err: unknown) => {
    giveBack();
    throw err;
  });
  driver.once('close', giveBack);
  return driver;
}

/**
 * Listens for sluice connections on a UDP port.
 * @throws SluiceError `ERR_SLUICE_BIND` when the port is in use; SluiceRangeError /
 *   SluiceTypeError naming a bad option.
 */
export async function listen(options: ListenOptions): Promise<SluiceServer> {
  checkInt('port', options.port, 0, 65535);
  const accountant = accountantOf(options);
  const driver = await openDriver(accountant, endpointOptions(options, true, options.maxConnections), options);
  const server = new SluiceServer(driver, accountant, options.frameQueue ?? 1024);
  options.signal?.addEventListener('abort', () => void server.close(), { once: true });
  return server;
}

/**
 * Connects to a sluice listener. Resolves when the handshake completes.
 * @throws SluiceError `ERR_SLUICE_CONNECT_TIMEOUT` (no answer, with the address),
 *   `ERR_SLUICE_AUTH_FAILED` (wrong key), `ERR_SLUICE_VERSION`, `ERR_SLUICE_PEER_BUSY`,
 *   `ERR_SLUICE_ABORTED` (signal); SluiceRangeError naming a bad option.
 */
export async function connect(options: ConnectOptions): Promise<SluiceConnection> {
  checkInt('port', options.port, 1, 65535);
  if (typeof options.host !== 'string' || options.host.length === 0) {
    throw new SluiceTypeError('host: expected an IP address string');
  }
  if (options.signal?.aborted) throw new SluiceError('ERR_SLUICE_ABORTED', 'connect: aborted');
  const accountant = accountantOf(options);
  const driver = await openDriver(accountant, endpointOptions(options, false), {
    ...options,
    host: options.host.includes(':') ? '::' : '0.0.0.0',
    port: options.localPort ?? 0,
    sendRing: options.sendRing ?? callerSendRingFor(options.expectedRateBps ?? DEFAULT_EXPECTED_RATE_BPS, options.maxDatagram ?? 1400),
  });
  // The socket talks to this one peer only: connected, its sends carry no address.
  await driver.connectTo(options.host, options.port);
  if (options.signal?.aborted) {
    await driver.close();
    throw new SluiceError('ERR_SLUICE_ABORTED', `connect to ${options.host}:${options.port}: aborted`);
  }
  const byCore = new Map<Connection, SluiceConnection>();
  wire(driver, byCore, accountant);
  const handle = driver.endpoint.connect(options.host, options.port, performance.now());
  driver.scheduleFlush();
  return new Promise<SluiceConnection>((resolve, reject) => {
    const cleanup = (): void => {
      driver.off('connected', onConnected);
      driver.off('connect-failed', onFailed);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const onConnected = (core: Connection, h: number): void => {
      if (h !== handle) return;
      cleanup();
      const conn = new SluiceConnection(core, driver, true, options.host, options.port, options.frameQueue ?? 1024);
      byCore.set(core, conn);
      options.signal?.addEventListener('abort', () => conn.destroy(), { once: true });
      resolve(conn);
    };
    const onFailed = (h: number, err: Error): void => {
      if (h !== handle) return;
      cleanup();
      void driver.close();
      reject(err);
    };
    const onAbort = (): void => {
      cleanup();
      void driver.close();
      reject(new SluiceError('ERR_SLUICE_ABORTED', `connect to ${options.host}:${options.port}: aborted`));
    };
    driver.on('connected', onConnected);
    driver.on('connect-failed', onFailed);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
