/**
 * The thin Node shell around the sans-IO core (aioquic style): one `node:dgram` socket, one
 * core {@link Endpoint}, one timer.
 *
 * Per turn: read the clock once, feed the datagram(s) to the core, then (coalesced with
 * `setImmediate`, so a burst of up to 32 datagrams that libuv hands over in one turn is fed first)
 * drain the core's transmits to the socket, its events to the wrappers, and re-arm the ONE timer
 * if the deadline moved.
 *
 * Sending without copies or per-datagram allocation: datagrams are written into a ring of
 * preallocated buffers. `dgram.send` keeps a reference to a buffer only while libuv holds the
 * send (the kernel was busy); sends complete in order, so with `q = getSendQueueCount()` the
 * last `q` slots written are the only ones still referenced, and the next slot is free while
 * `q < ringSize`. When the ring is full (the kernel send queue is backed up), draining stops
 * until completions arrive: the core keeps what it could not send in its own bounded queues
 * (`getSendQueueCount()` never exceeds the ring size). Node's own dgram queue is unbounded; this
 * is what bounds it.
 *
 * Per-datagram costs avoided (they dominate at low packet rates, where every datagram is its
 * own event-loop turn): no send callback while the kernel takes datagrams at once (a callback
 * costs a `process.nextTick` per send; callbacks are asked for only while sends are queued, to
 * learn when a stalled ring frees up); no `dns.lookup` per send (the socket's `lookup` answers
 * IP literals at once instead of on the next tick); and a caller's socket is connected to its
 * one peer ({@link SocketDriver.connectTo}), so sends carry no address at all.
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Endpoint, Transmit, type EndpointOptions } from '../core/connection/endpoint.js';
import type { Connection } from '../core/connection/connection.js';
import { SluiceError } from '../core/errors.js';
import type { MemoryAccount } from '../core/memory/types.js';
import { randomFillSync } from 'node:crypto';

/** Default socket buffer sizes: 4 MiB (with the 208 KiB default, 16% of datagrams were dropped at 200k pps here). */
export const DEFAULT_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Datagrams in flight in the send ring (a listener's socket, shared by its connections). */
export const DEFAULT_SEND_RING = 512;
/**
 * Send ring of a caller's socket (one connection): 128 x 1500 bytes. Loopback and LAN sends
 * complete at once (libuv's queue stays empty), so the ring only covers short kernel backlogs;
 * 512 slots cost a caller 768 KiB, most of its memory (memory-100: 1.17 MB per caller).
 */
export const DEFAULT_CALLER_SEND_RING = 128;

/**
 * A caller's send ring for a stream of `expectedRateBps`: 20 ms of its packets, in [32,
 * {@link DEFAULT_CALLER_SEND_RING}]. The ring only holds datagrams libuv has not yet handed to
 * the kernel (whose 4 MiB send buffer takes the bursts); when it is full the driver waits for
 * sends to complete, it drops nothing. At 2 Mbit/s: 32 slots, 48 KiB instead of 192.
 */
export function callerSendRingFor(expectedRateBps: number, maxDatagram = 1400): number {
  const pps = expectedRateBps / 8 / maxDatagram;
  let slots = 32;
  while (slots < DEFAULT_CALLER_SEND_RING && slots < pps * 0.02) slots *= 2;
  return slots;
}

export interface SocketOptions {
  /** Address to bind, default '0.0.0.0' for a listener and an ephemeral port for a caller. */
  host?: string;
  /** Port to bind (0: ephemeral). */
  port?: number;
  /** 'udp4' or 'udp6'; chosen from the host when absent. */
  type?: 'udp4' | 'udp6';
  /** SO_RCVBUF request, bytes (the kernel may cap it: see `receiveBufferSize` after bind). */
  recvBufferSize?: number;
  /** SO_SNDBUF request, bytes. */
  sendBufferSize?: number;
  /** Datagrams the send ring holds, in [16, 65536]. */
  sendRing?: number;
  /** Account charged for the send ring. */
  account?: MemoryAccount;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * The `lookup` of sluice's sockets: an IP literal (every address the core sends to is one, from
 * `rinfo` or the caller's `host`) is answered synchronously, remembering the last one so that the
 * steady state costs one string comparison; anything else goes to `dns.lookup`. dgram's default
 * calls `dns.lookup` for every datagram sent, which tests the address with a regular expression
 * and defers the send to the next tick.
 */
function makeLookup(): (address: string, family: number, cb: LookupCallback) => void {
  let last = '';
  let lastFamily = 0;
  return (address, family, cb) => {
    if (address === last) {
      cb(null, address, lastFamily);
      return;
    }
    const f = isIP(address);
    if (f !== 0) {
      last = address;
      lastFamily = f;
      cb(null, address, f);
      return;
    }
    dnsLookup(address, family, cb);
  };
}

/** Random bytes for the core (connection ids, nonces, cookie secrets). */
export function cryptoRandom(out: Uint8Array): void {
  randomFillSync(out);
}

/**
 * Owns the UDP socket and drives the core. Emits 'connection' (server side, with a core
 * Connection), 'connected'/'connect-failed' (client handshakes), 'conn-event' (every core
 * connection event: [connection, event]), 'rejected', 'error', 'close'.
 */
export class SocketDriver extends EventEmitter {
  readonly endpoint: Endpoint;
  readonly socket: dgram.Socket;
  private timer: NodeJS.Timeout | null = null;
  private armedAt = Number.POSITIVE_INFINITY;
  /** Whole-ms delay the timer was armed with (timer.refresh() restarts it with this delay). */
  private armedMs = 0;
  private flushScheduled = false;
  private readonly ring: Buffer[];
  private readonly ringSize: number;
  private ringHead = 0;
  /** Sends are queued in libuv (the kernel was busy): ask for completions to resume a full ring. */
  private backedUp = false;
  /** The socket is connected to its one peer: send without an address. */
  private connected = false;
  private connecting = false;
  private readonly tx = new Transmit();
  private closed = false;
  private readonly account: MemoryAccount | null;
  private readonly ringBytes: number;
  /** Datagrams that could not be handed to the socket (send error). */
  sendErrors = 0;
  /** Times draining stopped because the send ring was full. */
  ringFullStalls = 0;
  /** Datagrams received. */
  datagramsIn = 0;
  /** Datagrams sent. */
  datagramsOut = 0;
  /** ICMP errors reported on a connected socket (ECONNREFUSED: nobody listens at the peer yet). */
  unreachable = 0;
  private readonly onSentBound: (err: Error | null) => void;
  private readonly flushBound: () => void;
  private readonly timerBound: () => void;

  private constructor(endpoint: Endpoint, socket: dgram.Socket, ringSize: number, maxDatagram: number, account: MemoryAccount | null) {
    super();
    this.endpoint = endpoint;
    this.socket = socket;
    this.ringSize = ringSize;
    this.account = account;
    this.ringBytes = ringSize * maxDatagram;
    account?.reserve(this.ringBytes);
    // One slab for the whole ring: ringSize views created once.
    const slab = Buffer.allocUnsafeSlow(this.ringBytes);
    this.ring = [];
    for (let i = 0; i < ringSize; i++) this.ring.push(slab.subarray(i * maxDatagram, (i + 1) * maxDatagram));
    this.onSentBound = (err) => this.onSent(err);
    this.flushBound = () => this.flush();
    this.timerBound = () => this.onTimer();
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A connected socket reports the peer's ICMP port unreachable as an error on the next
      // receive; the handshake retries (or times out) and an open connection idles out, as with
      // any lost datagram.
      if (err.code === 'ECONNREFUSED') {
        this.unreachable++;
        return;
      }
      // A failed connectTo() is reported to its caller, which carries on unconnected.
      if (this.connecting) return;
      this.emit('error', err);
    });
  }

  /**
   * Binds a socket and starts driving `endpoint`.
   * @throws SluiceError `ERR_SLUICE_BIND` naming the address when the port is in use or the
   *   address is not available.
   */
  static async open(endpointOptions: EndpointOptions, socketOptions: SocketOptions, now = performance.now()): Promise<SocketDriver> {
    const host = socketOptions.host ?? '0.0.0.0';
    const type = socketOptions.type ?? (host.includes(':') ? 'udp6' : 'udp4');
    const socket = dgram.createSocket({
      type,
      lookup: makeLookup() as unknown as dgram.SocketOptions['lookup'],
      recvBufferSize: socketOptions.recvBufferSize ?? DEFAULT_SOCKET_BUFFER_BYTES,
      sendBufferSize: socketOptions.sendBufferSize ?? DEFAULT_SOCKET_BUFFER_BYTES,
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.close();
        reject(
          new SluiceError(
            'ERR_SLUICE_BIND',
            err.code === 'EADDRINUSE'
              ? `cannot bind udp://${host}:${socketOptions.port ?? 0}: the port is in use`
              : `cannot bind udp://${host}:${socketOptions.port ?? 0}: ${err.message}`,
          ),
        );
      };
      socket.once('error', onError);
      socket.bind({ address: host, port: socketOptions.port ?? 0, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const endpoint = new Endpoint(endpointOptions, now);
    const ringSize = socketOptions.sendRing ?? DEFAULT_SEND_RING;
    const maxDg = Math.max(1500, endpointOptions.connection.maxDatagram ?? 1400);
    return new SocketDriver(endpoint, socket, ringSize, maxDg, socketOptions.account ?? null);
  }

  /** The bound address. */
  address(): { address: string; port: number; family: string } {
    return this.socket.address();
  }

  /** Kernel receive buffer size actually granted (bytes). */
  get receiveBufferSize(): number {
    // dgram throws once the socket is closed; statistics read after close report 0.
    if (this.closed) return 0;
    try {
      return this.socket.getRecvBufferSize();
    } catch {
      return 0;
    }
  }

  /**
   * Connects the socket to `host:port`, the one peer of a caller's endpoint: sends then carry no
   * address, and the kernel drops datagrams from anyone else (which the endpoint would have
   * ignored anyway: a caller's handshake only accepts replies from the address it dialled, and
   * the listener's address does not change). Call before anything is sent. Resolves true when
   * connected, false when not (the socket then keeps sending with an address); never rejects.
   */
  async connectTo(host: string, port: number): Promise<boolean> {
    if (this.closed || this.datagramsOut > 0) return false;
    this.connecting = true;
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        this.socket.once('error', onError);
        this.socket.connect(port, host, () => {
          this.socket.off('error', onError);
          resolve();
        });
      });
      this.connected = true;
    } catch {
      // Not connected (a host name that does not resolve...): sends carry the address.
    } finally {
      this.connecting = false;
    }
    return this.connected;
  }

  /** Datagrams handed to the socket and not yet completed. */
  get inFlight(): number {
    if (this.closedSocket) return 0;
    return this.socket.getSendQueueCount();
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    this.datagramsIn++;
    const now = performance.now();
    this.endpoint.handleDatagram(msg, 0, msg.length, rinfo.address, rinfo.port, now);
    this.scheduleFlush();
  }

  /** Asks for a flush at the end of this turn (coalesced). */
  scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }

  private onTimer(): void {
    this.timer = null;
    this.armedAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const now = performance.now();
    this.endpoint.handleTimeout(now);
    this.flush();
  }


  private onSent(err: Error | null): void {
    if (err) this.sendErrors++;
    // Slots freed: if draining stalled on a full ring, resume.
    if (this.stalled) {
      this.stalled = false;
      this.scheduleFlush();
    }
  }

  private stalled = false;
  private closedSocket = false;

  /** Drains transmits and events, re-arms the timer. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const now = performance.now();
    const ep = this.endpoint;
    if (ep.pollTimeout(now) <= now) ep.handleTimeout(now);
    const tx = this.tx;
    const socket = this.socket;
    // Sends complete in order: only the last `queued` slots written may still be referenced.
    let queued = this.backedUp ? socket.getSendQueueCount() : 0;
    for (;;) {
      if (queued >= this.ringSize) {
        this.stalled = true;
        this.ringFullStalls++;
        break;
      }
      const slot = this.ring[this.ringHead]!;
      if (!ep.pollTransmit(now, slot, tx)) break;
      this.ringHead = this.ringHead + 1 === this.ringSize ? 0 : this.ringHead + 1;
      this.datagramsOut++;
      // A callback costs a process.nextTick per send: ask for one only while sends queue up,
      // so that a stalled ring hears when slots free up.
      if (this.connected) {
        if (this.backedUp) socket.send(slot, 0, tx.length, this.onSentBound);
        else socket.send(slot, 0, tx.length);
      } else if (this.backedUp) socket.send(slot, 0, tx.length, tx.port, tx.address, this.onSentBound);
      else socket.send(slot, 0, tx.length, tx.port, tx.address);
      queued = socket.getSendQueueCount();
      this.backedUp = queued > 0;
    }
    this.drainEvents();
    this.arm(now);
  }

  private drainEvents(): void {
    const ep = this.endpoint;
    for (let e = ep.pollEvent(); e !== undefined; e = ep.pollEvent()) {
      switch (e.type) {
        case 'connection':
          this.emit('connection', e.connection, e.address, e.port);
          break;
        case 'connected':
          this.emit('connected', e.connection, e.handle);
          break;
        case 'connect-failed':
          this.emit('connect-failed', e.handle, e.error);
          break;
        case 'handshake-rejected':
          this.emit('rejected', e.address, e.port, e.reason);
          break;
        case 'connection-closed':
          this.drainConnection(e.connection);
          break;
      }
    }
    const conns = ep.connectionList;
    for (let i = 0; i < conns.length; i++) this.drainConnection(conns[i]!);
  }

  /** Emits every pending event of one connection as 'conn-event'. */
  drainConnection(c: Connection): void {
    for (let e = c.pollEvent(); e !== undefined; e = c.pollEvent()) this.emit('conn-event', c, e);
  }

  private arm(now: number): void {
    if (this.stalled) return;
    const t = this.endpoint.pollTimeout(now);
    if (t === Number.POSITIVE_INFINITY) {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
        this.armedAt = Number.POSITIVE_INFINITY;
      }
      return;
    }
    // libuv counts whole milliseconds from a loop clock cached at the start of the turn, so a
    // timeout of floor(delay) or even ceil(delay) ms often fires before the deadline: a wakeup
    // that finds nothing due and arms again for the next millisecond. One more millisecond
    // makes the timer fire at (or within 2 ms after) the deadline, once.
    const delay = t - now;
    const ms = delay <= 0 ? 0 : Math.ceil(delay) + 1;
    if (this.timer !== null) {
      // Armed for about this deadline (or up to 1 ms before it): keep it.
      if (t >= this.armedAt - 0.5 && t <= this.armedAt + 1) return;
      if (t > this.armedAt) {
        // The deadline moved later. With the same whole-ms delay (a deadline that follows the
        // traffic, e.g. "5 ms after the last packet"), restart the timer in place: no wakeup
        // for nothing, no allocation. Otherwise let it fire early and re-arm then.
        if (ms === this.armedMs) {
          this.timer.refresh();
          this.armedAt = t;
        }
        return;
      }
      clearTimeout(this.timer);
    }
    this.armedAt = t;
    this.armedMs = ms;
    this.timer = setTimeout(this.timerBound, ms);
  }

  /** Stops the timer, closes the socket and releases the core. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Let the in-flight sends complete before the ring is given back.
    const until = performance.now() + 200;
    while (this.inFlight > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 1));
    this.endpoint.destroy();
    this.closedSocket = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    this.account?.unreserve(this.ringBytes);
    this.emit('close');
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
