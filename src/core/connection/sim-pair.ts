/**
 * SimPair: a listener and a caller joined by a seeded in-memory link, under virtual time.
 *
 * Like quinn-proto's `tests/util.rs` `Pair::drive()`: whole conversations (handshake, a minute of
 * media under loss) run in milliseconds of real time, deterministically for a seed, with no
 * socket and no timer. Used by the tests, the fuzzers and the in-memory benchmark; useful to
 * anyone who wants to see what sluice does on a given link before deploying it.
 */
import { SeededRandom } from '../random.js';
import { LinkModel, type LinkModelOptions } from '../link-model.js';
import { SluiceStateError } from '../errors.js';
import { Endpoint, Transmit, type EndpointEvent } from './endpoint.js';
import type { Connection, ConnectionEvent, AccountSource } from './connection.js';
import type { ConnectionOptions } from './options.js';
import type { ProtectorFactory } from '../auth/protector.js';
import type { SlotSource } from '../memory/types.js';

export interface SimPairOptions {
  /** Options of both sides (the caller's proposal is what the listener negotiates from). */
  connection: ConnectionOptions;
  /** Listener-side overrides (e.g. a different key, to test a refusal). */
  listener?: Partial<ConnectionOptions>;
  /** Caller -> listener link. */
  forward?: LinkModelOptions;
  /** Listener -> caller link; default: the forward options with a derived seed. */
  backward?: LinkModelOptions;
  /** Seed of the endpoints' randomness (ids, nonces, cookie secrets). */
  seed?: number;
  /** Memory accounts for both endpoints' connections. */
  accounts?: AccountSource;
  /** Packet protector factory (default: the pure HMAC protector; tests pass node:crypto's). */
  protector?: ProtectorFactory;
  /** Shared packet slots for both endpoints' connections (as the Node layer passes its pool). */
  pool?: SlotSource;
}

const CLIENT_ADDR = '127.0.0.1';
const CLIENT_PORT = 40000;
const SERVER_ADDR = '127.0.0.2';
const SERVER_PORT = 9000;

/** What the pair saw: events per side, in order. */
export interface SimLog {
  serverEvents: ConnectionEvent[];
  clientEvents: ConnectionEvent[];
  endpointEvents: EndpointEvent[];
}

export class SimPair {
  now = 0;
  readonly server: Endpoint;
  readonly client: Endpoint;
  readonly forward: LinkModel;
  readonly backward: LinkModel;
  serverConn: Connection | null = null;
  clientConn: Connection | null = null;
  readonly log: SimLog = { serverEvents: [], clientEvents: [], endpointEvents: [] };
  connectError: Error | null = null;
  private readonly buf: Uint8Array;
  private readonly rx: Uint8Array;
  private readonly tx = new Transmit();
  private handle = 0;
  /** Called with every connection event as it is drained (before it is logged). */
  onEvent: ((side: 'server' | 'client', e: ConnectionEvent, now: number) => void) | null = null;
  /** Keep events in `log` (turn off for long runs). */
  keepLog = true;

  constructor(options: SimPairOptions) {
    const rnd = new SeededRandom(options.seed ?? 1);
    const fill = (out: Uint8Array): void => {
      for (let i = 0; i < out.length; i++) out[i] = rnd.next() & 0xff;
    };
    const serverOpts = { ...options.connection, ...(options.listener ?? {}) };
    this.server = new Endpoint(
      {
        connection: serverOpts,
        listen: true,
        random: fill,
        ...(options.accounts ? { accounts: options.accounts } : {}),
        ...(options.protector ? { protector: options.protector } : {}),
        ...(options.pool ? { pool: options.pool } : {}),
      },
      0,
    );
    this.client = new Endpoint(
      {
        connection: options.connection,
        random: fill,
        ...(options.accounts ? { accounts: options.accounts } : {}),
        ...(options.protector ? { protector: options.protector } : {}),
        ...(options.pool ? { pool: options.pool } : {}),
      },
      0,
    );
    const fwd: LinkModelOptions = { capacity: 8192, maxDatagram: 65507, ...(options.forward ?? {}) };
    this.forward = new LinkModel(fwd);
    const back: LinkModelOptions = options.backward ?? { ...fwd, seed: ((fwd.seed ?? 1) * 2654435761 + 97) >>> 0 };
    this.backward = new LinkModel({ capacity: 8192, maxDatagram: 65507, ...back });
    this.buf = new Uint8Array(65536);
    this.rx = new Uint8Array(65536);
  }

  /** Starts the handshake. */
  connect(): void {
    this.handle = this.client.connect(SERVER_ADDR, SERVER_PORT, this.now);
  }

  private flush(ep: Endpoint, link: LinkModel): void {
    while (ep.pollTransmit(this.now, this.buf, this.tx)) link.send(this.buf, 0, this.tx.length, this.now);
  }

  private drainEvents(): void {
    for (let e = this.server.pollEvent(); e !== undefined; e = this.server.pollEvent()) {
      if (e.type === 'connection') this.serverConn = e.connection;
      if (e.type === 'connection-closed') this.drainConn('server', e.connection);
      if (this.keepLog) this.log.endpointEvents.push(e);
    }
    for (let e = this.client.pollEvent(); e !== undefined; e = this.client.pollEvent()) {
      if (e.type === 'connected' && e.handle === this.handle) this.clientConn = e.connection;
      if (e.type === 'connect-failed') this.connectError = e.error;
      if (e.type === 'connection-closed') this.drainConn('client', e.connection);
      if (this.keepLog) this.log.endpointEvents.push(e);
    }
    if (this.serverConn !== null) this.drainConn('server', this.serverConn);
    if (this.clientConn !== null) this.drainConn('client', this.clientConn);
  }

  private drainConn(side: 'server' | 'client', c: Connection): void {
    const log = side === 'server' ? this.log.serverEvents : this.log.clientEvents;
    for (let e = c.pollEvent(); e !== undefined; e = c.pollEvent()) {
      this.onEvent?.(side, e, this.now);
      if (this.keepLog) log.push(e);
    }
  }

  /** One turn at the current time: deliver due datagrams, run timers, send, drain events. */
  turn(): void {
    const now = this.now;
    for (let n = this.forward.poll(now, this.rx); n >= 0; n = this.forward.poll(now, this.rx)) {
      this.server.handleDatagram(this.rx, 0, n, CLIENT_ADDR, CLIENT_PORT, now);
    }
    for (let n = this.backward.poll(now, this.rx); n >= 0; n = this.backward.poll(now, this.rx)) {
      this.client.handleDatagram(this.rx, 0, n, SERVER_ADDR, SERVER_PORT, now);
    }
    if (this.server.pollTimeout(now) <= now) this.server.handleTimeout(now);
    if (this.client.pollTimeout(now) <= now) this.client.handleTimeout(now);
    this.flush(this.client, this.forward);
    this.flush(this.server, this.backward);
    this.drainEvents();
  }

  /** Time of the next thing that will happen (ms). */
  nextTime(): number {
    return Math.min(
      this.server.pollTimeout(this.now),
      this.client.pollTimeout(this.now),
      this.forward.nextTimeout(),
      this.backward.nextTimeout(),
    );
  }

  /**
   * Runs until virtual time `until` (ms). `tick`, if given, is called at multiples of `tickMs`
   * (to feed frames at a media rate). Returns the number of turns taken.
   */
  runUntil(until: number, tick?: (now: number) => void, tickMs = 1): number {
    let turns = 0;
    let nextTick = tick === undefined ? Number.POSITIVE_INFINITY : Math.ceil(this.now / tickMs) * tickMs;
    while (this.now <= until) {
      if (this.now >= nextTick) {
        tick!(this.now);
        nextTick += tickMs;
      }
      this.turn();
      turns++;
      let next = Math.min(this.nextTime(), nextTick, until + 1);
      // Guarantee progress: something due "now" that produced nothing (e.g. the pacer's exact
      // boundary) is retried a microsecond later.
      if (!(next > this.now)) next = this.now + 0.001;
      this.now = next;
      if (turns > 50_000_000) throw new SluiceStateError('SimPair: no progress');
    }
    this.now = until;
    return turns;
  }

  /** Runs until both sides are connected (or the handshake failed); returns true when connected. */
  handshake(limitMs = 10_000): boolean {
    if (this.handle === 0) this.connect();
    const end = this.now + limitMs;
    while (this.now < end && (this.serverConn === null || this.clientConn === null) && this.connectError === null) {
      this.turn();
      let next = Math.min(this.nextTime(), end);
      if (!(next > this.now)) next = this.now + 0.001;
      this.now = next;
    }
    return this.serverConn !== null && this.clientConn !== null;
  }

  /** Releases everything (links and endpoints). */
  destroy(): void {
    this.server.destroy();
    this.client.destroy();
    this.forward.close();
    this.backward.close();
  }
}
