/**
 * Endpoint: one UDP socket's worth of sluice, sans-IO. It routes datagrams to connections by
 * connection id (so many connections share one socket), runs the stateless-cookie handshake on
 * the listening side and the HELLO/COOKIE/ACCEPT exchange on the calling side, and multiplexes
 * the connections' output.
 *
 * Handshake (spec/protocol.md "Handshake"):
 *   client  HELLO(no cookie, padded to 1200)            -> listener  (tag: handshake key)
 *   client  <- COOKIE(cookie = MAC(secret, addr, port, client id, nonce, time bucket))
 *   client  HELLO(cookie)                                -> listener verifies, creates state
 *   client  <- ACCEPT(server id, server nonce, params)   (tag: s2c session key)
 * The listener keeps no state before a valid cookie comes back, and every reply is smaller than
 * the 1200-byte HELLO it answers, so a spoofed source can neither make it allocate nor use it
 * to amplify traffic. Replies are also rate-limited (`handshakeRate`).
 *
 * A HELLO whose tag fails is answered (rate-limited) with an unauthenticated REJECT(AUTH_FAILED)
 * so a peer with a wrong key learns why; the client honours such a REJECT only while it waits
 * for its handshake and only when it echoes its nonce (spec: a forged REJECT can at worst fail
 * a handshake, which dropping HELLOs could do anyway).
 *
 * Pure: time and randomness are injected.
 */
import { SluiceError, SluiceRangeError, SluiceStateError, checkInt } from '../errors.js';
import { deriveHandshakeKey, deriveSessionKeys, DIRECTION_C2S, DIRECTION_S2C } from '../auth/keys.js';
import type { PacketProtector, ProtectorFactory } from '../auth/protector.js';
import { createHmacProtector } from '../auth/hmac-protector.js';
import { CookieIssuer, type RandomFill } from '../auth/cookie.js';
import {
  HELLO_MIN_LENGTH,
  MAX_SUPPORTED_VERSION,
  MIN_SUPPORTED_VERSION,
  NONCE_LENGTH,
  PacketType,
  RejectReason,
  SessionFlags,
  TAG_LENGTH,
  WIRE_VERSION,
  COOKIE_LENGTH,
} from '../wire/constants.js';
import { DecodeStatus, DECODE_STATUS_COUNTERS } from '../wire/status.js';
import { PacketView, SessionParamsView, type SessionParams } from '../wire/view.js';
import { decodePacket, peekHeader } from '../wire/decode.js';
import { encodeAcceptInto, encodeCookieInto, encodeHelloInto, encodeRejectInto, type HelloFields } from '../wire/encode.js';
import { Connection, type AccountSource } from './connection.js';
import type { SlotSource } from '../memory/types.js';
import { MAX_FEC_WINDOW_SESSION, maxPayloadFor, resolveOptions, type ConnectionOptions, type ResolvedOptions } from './options.js';


export interface EndpointOptions {
  /** Defaults for every connection of this endpoint (the key is required). */
  connection: ConnectionOptions;
  /** Accept incoming connections. Default false. */
  listen?: boolean;
  /** Most connections at once, in [1, 1_000_000]. Default 10_000. */
  maxConnections?: number;
  /** Handshake replies per second at most (COOKIE/ACCEPT/REJECT), in [1, 1e6]. Default 2000. */
  handshakeRate?: number;
  /** Random source. Required. */
  random: RandomFill;
  /** Builds packet protectors; default: the pure HMAC protector. */
  protector?: ProtectorFactory;
  /** Memory accounts for connections. */
  accounts?: AccountSource;
  /** Shared packet slots for every connection's reorder and send buffers (see ConnectionSetup.pool). */
  pool?: SlotSource;
  /** Pools for the connections' FEC rings, by ring size (see ConnectionSetup.fecRings). */
  fecRings?: (bytes: number) => SlotSource | undefined;
}

/** A datagram to send, filled by {@link Endpoint.pollTransmit}. */
export class Transmit {
  length = 0;
  address = '';
  port = 0;
}

export type EndpointEvent =
  | { readonly type: 'connection'; readonly connection: Connection; readonly address: string; readonly port: number }
  | { readonly type: 'connected'; readonly connection: Connection; readonly handle: number }
  | { readonly type: 'connect-failed'; readonly handle: number; readonly error: SluiceError }
  | { readonly type: 'handshake-rejected'; readonly address: string; readonly port: number; readonly reason: string }
  /** A connection closed and left the endpoint; drain its last events (its 'closed'). */
  | { readonly type: 'connection-closed'; readonly connection: Connection };

/** Counters of datagrams the endpoint dropped before any connection saw them. */
export class EndpointCounters {
  received = 0;
  unknownConnection = 0;
  decode: Record<string, number> = {};
  handshakeAuthFailed = 0;
  handshakeBadCookie = 0;
  handshakeRateLimited = 0;
  handshakeUnexpected = 0;
  cookiesSent = 0;
  acceptsSent = 0;
  rejectsSent = 0;
  connectionsAccepted = 0;
  connectionsRefused = 0;
}

interface PendingClient {
  readonly handle: number;
  readonly address: string;
  readonly port: number;
  readonly options: ResolvedOptions;
  readonly localId: number;
  readonly nonce: Uint8Array;
  readonly hsTx: PacketProtector;
  readonly hsRx: PacketProtector;
  readonly startedAt: number;
  cookie: Uint8Array | null;
  pn: number;
  nextSendAt: number;
  interval: number;
}

interface Route {
  readonly conn: Connection;
  address: string;
  port: number;
  /** Key of the handshake index for this connection (server side), or ''. */
  readonly hsKey: string;
  /** Server side: ACCEPT bytes kept to answer a repeated HELLO(cookie). */
  readonly accept: Uint8Array | null;
}

interface QueuedReply {
  readonly bytes: Uint8Array;
  readonly address: string;
  readonly port: number;
}

const INITIAL_HELLO_INTERVAL_MS = 250;

/** Negotiates the session: listener's options `l` against the client's proposal `p`. */
function negotiate(l: ResolvedOptions, p: SessionParams): ResolvedOptions | null {
  if (p.maxDatagram < 1200 || p.maxFrameBytes < 1) return null;
  const latencyMs = Math.min(60_000, Math.max(l.latencyMs, p.latencyMs, 20));
  const maxDatagram = Math.min(l.maxDatagram, p.maxDatagram);
  const fec = p.fecWindow === 0 ? null : { window: p.fecWindow, step: p.fecStep, repairs: p.fecRepairs };
  if (
    fec !== null &&
    (fec.window > MAX_FEC_WINDOW_SESSION ||
      fec.step < 1 ||
      fec.step > fec.window ||
      fec.repairs < 1 ||
      fec.repairs * Math.ceil(fec.window / fec.step) > MAX_FEC_WINDOW_SESSION)
  ) {
    return null;
  }
  return Object.freeze({
    ...l,
    latencyMs,
    maxDatagram,
    maxPayload: maxPayloadFor(maxDatagram, fec !== null),
    maxFrameBytes: Math.min(l.maxFrameBytes, p.maxFrameBytes),
    fec: fec === null ? null : Object.freeze(fec),
    arq: l.arq && (p.sessionFlags & SessionFlags.ARQ) !== 0,
    auth: l.auth === 'aead' || (p.sessionFlags & SessionFlags.AEAD) !== 0 ? 'aead' : 'hmac',
  });
}

function paramsOf(o: ResolvedOptions, out: SessionParamsView): SessionParamsView {
  out.latencyMs = o.latencyMs;
  out.maxDatagram = o.maxDatagram;
  out.maxFrameBytes = o.maxFrameBytes;
  out.fecWindow = o.fec === null ? 0 : o.fec.window;
  out.fecStep = o.fec === null ? 0 : o.fec.step;
  out.fecRepairs = o.fec === null ? 0 : o.fec.repairs;
  out.sessionFlags = (o.arq ? SessionFlags.ARQ : 0) | (o.auth === 'aead' ? SessionFlags.AEAD : 0);
  return out;
}

const textEncoder = new TextEncoder();

export class Endpoint {
  readonly counters = new EndpointCounters();
  private readonly defaults: ResolvedOptions;
  private readonly listening: boolean;
  private readonly maxConnections: number;
  private readonly random: RandomFill;
  private readonly protector: ProtectorFactory;
  private readonly accounts: AccountSource | undefined;
  private readonly pool: SlotSource | undefined;
  private readonly fecRings: ((bytes: number) => SlotSource | undefined) | undefined;
  private readonly view: PacketView;
  private readonly routes = new Map<number, Route>();
  private readonly handshakes = new Map<string, number>();
  private readonly pending = new Map<number, PendingClient>();
  private readonly replies: QueuedReply[] = [];
  private readonly events: EndpointEvent[] = [];
  private readonly cookies: CookieIssuer | null;
  private readonly hsKey: Uint8Array;
  /** Listener side handshake protectors (c2s opens HELLOs, s2c tags COOKIE/REJECT). */
  private readonly hsOpen: PacketProtector;
  private readonly hsSeal: PacketProtector;
  private readonly handshakeRate: number;
  private hsTokens: number;
  private hsRefillAt: number;
  private nextHandle = 1;
  private rr: Connection[] = [];
  private rrIndex = 0;
  private closed = false;
  private readonly scratch = new Uint8Array(4);
  private readonly paramsScratch = new SessionParamsView();

  constructor(options: EndpointOptions, now: number) {
    this.defaults = resolveOptions(options.connection);
    this.listening = options.listen === true;
    this.maxConnections = checkInt('maxConnections', options.maxConnections ?? 10_000, 1, 1_000_000);
    this.handshakeRate = checkInt('handshakeRate', options.handshakeRate ?? 2000, 1, 1_000_000);
    if (typeof options.random !== 'function') throw new SluiceRangeError('random: expected a function filling a Uint8Array');
    this.random = options.random;
    this.protector = options.protector ?? createHmacProtector;
    this.accounts = options.accounts;
    this.pool = options.pool;
    this.fecRings = options.fecRings;
    this.view = new PacketView({ maxDatagram: 65507, maxFrameBytes: this.defaults.maxFrameBytes });
    this.cookies = this.listening ? new CookieIssuer({ random: this.random }) : null;
    this.hsKey = deriveHandshakeKey(this.defaults.psk);
    this.hsOpen = this.protector(this.hsKey, 'hmac', DIRECTION_C2S);
    this.hsSeal = this.protector(this.hsKey, 'hmac', DIRECTION_S2C);
    this.hsTokens = this.handshakeRate;
    this.hsRefillAt = now;
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.routes.size;
  }

  /** Every open connection. */
  connections(): IterableIterator<Connection> {
    return this.rr.values();
  }

  /** Open connections, in round-robin order: a live view (read-only; changes as they close). */
  get connectionList(): readonly Connection[] {
    return this.rr;
  }

  private randomU32(): number {
    this.random(this.scratch);
    const s = this.scratch;
    return ((s[0]! << 24) | (s[1]! << 16) | (s[2]! << 8) | s[3]!) >>> 0;
  }

  private freshId(): number {
    for (;;) {
      const id = this.randomU32();
      if (id !== 0 && !this.routes.has(id) && !this.pending.has(id)) return id;
    }
  }

  private takeHandshakeToken(now: number): boolean {
    const dt = now - this.hsRefillAt;
    if (dt > 0) {
      this.hsTokens = Math.min(this.handshakeRate, this.hsTokens + (dt * this.handshakeRate) / 1000);
      this.hsRefillAt = now;
    }
    if (this.hsTokens < 1) {
      this.counters.handshakeRateLimited++;
      return false;
    }
    this.hsTokens -= 1;
    return true;
  }

  /**
   * Starts a connection to `address:port` with `options` merged over the endpoint's defaults.
   * Returns a handle; a 'connected' or 'connect-failed' event with that handle follows.
   * @throws SluiceRangeError / SluiceTypeError for bad options.
   */
  connect(address: string, port: number, now: number, options?: Partial<ConnectionOptions>): number {
    if (this.closed) throw new SluiceStateError('connect: the endpoint is closed');
    checkInt('port', port, 1, 65535);
    const o = options === undefined ? this.defaults : resolveOptions({ ...this.defaultsAsOptions(), ...options });
    const nonce = new Uint8Array(NONCE_LENGTH);
    this.random(nonce);
    const handle = this.nextHandle++;
    const hsKey = o.psk === this.defaults.psk ? this.hsKey : deriveHandshakeKey(o.psk);
    const p: PendingClient = {
      handle,
      address,
      port,
      options: o,
      localId: this.freshId(),
      nonce,
      hsTx: this.protector(hsKey, 'hmac', DIRECTION_C2S),
      hsRx: this.protector(hsKey, 'hmac', DIRECTION_S2C),
      startedAt: now,
      cookie: null,
      pn: 0,
      nextSendAt: now,
      interval: INITIAL_HELLO_INTERVAL_MS,
    };
    this.pending.set(p.localId, p);
    return handle;
  }

  private defaultsAsOptions(): ConnectionOptions {
    const d = this.defaults;
    return {
      key: d.psk,
      latencyMs: d.latencyMs,
      maxDatagram: d.maxDatagram,
      maxFrameBytes: d.maxFrameBytes,
      fec: d.fec === null ? false : { ...d.fec },
      fecMinLoss: d.fecMinLoss,
      arq: d.arq,
      auth: d.auth,
      maxRateBps: d.maxRateBps,
      expectedRateBps: d.expectedRateBps,
      sendQueueBytes: d.sendQueueBytes,
      retransmitShare: d.retransmitShare,
      keepaliveMs: d.keepaliveMs,
      idleTimeoutMs: d.idleTimeoutMs,
      handshakeTimeoutMs: d.handshakeTimeoutMs,
    };
  }

  /** Drains the next endpoint event. */
  pollEvent(): EndpointEvent | undefined {
    return this.events.shift();
  }

  /**
   * Handles one datagram from `address:port`. Never throws on network input.
   */
  handleDatagram(buf: Uint8Array, offset: number, length: number, address: string, port: number, now: number): void {
    if (this.closed) return;
    this.counters.received++;
    const v = this.view;
    const st = peekHeader(buf, offset, length, v);
    if (st !== DecodeStatus.OK) {
      this.countDecode(st);
      return;
    }
    if (v.type === PacketType.HELLO) {
      this.onHello(buf, offset, length, address, port, now);
      return;
    }
    const route = this.routes.get(v.connId);
    if (route !== undefined) {
      const before = route.conn.counters.packetsReceived;
      route.conn.handleDatagram(buf, offset, length, now);
      // Follow the peer to a new address (NAT rebinding) only on an authenticated packet.
      if (route.conn.counters.packetsReceived !== before && (route.address !== address || route.port !== port)) {
        route.address = address;
        route.port = port;
      }
      this.reap(route);
      return;
    }
    const pending = this.pending.get(v.connId);
    if (pending !== undefined) {
      this.onClientHandshake(pending, buf, offset, length, address, port, now);
      return;
    }
    this.counters.unknownConnection++;
  }

  private countDecode(st: number): void {
    const name = DECODE_STATUS_COUNTERS[st] ?? 'rx_unknown_status';
    this.counters.decode[name] = (this.counters.decode[name] ?? 0) + 1;
  }

  // ---- listener side -------------------------------------------------------------------------

  private onHello(buf: Uint8Array, offset: number, length: number, address: string, port: number, now: number): void {
    if (!this.listening || this.cookies === null) {
      this.counters.handshakeUnexpected++;
      return;
    }
    const v = this.view;
    const st = decodePacket(v, buf, offset, length);
    if (st !== DecodeStatus.OK) {
      this.countDecode(st);
      return;
    }
    // Copy what the reply needs out of the datagram before anything else can reuse it.
    const clientId = v.sourceConnId;
    const echo = v.timestamp;
    const nonceOff = v.clientNonceOffset;
    if (!this.hsOpen.open(buf, offset, length, offset + length - TAG_LENGTH, v.packetNumber)) {
      this.counters.handshakeAuthFailed++;
      this.events.push({ type: 'handshake-rejected', address, port, reason: 'authentication failed (wrong key?)' });
      this.reject(RejectReason.AUTH_FAILED, clientId, echo, buf, nonceOff, address, port, now);
      return;
    }
    if (v.maxVersion < MIN_SUPPORTED_VERSION || v.minVersion > MAX_SUPPORTED_VERSION) {
      this.events.push({ type: 'handshake-rejected', address, port, reason: `unsupported versions ${v.minVersion}..${v.maxVersion}` });
      this.reject(RejectReason.VERSION, clientId, echo, buf, nonceOff, address, port, now);
      return;
    }
    const addrBytes = textEncoder.encode(address);
    if ((v.flags & 0x01) === 0) {
      // First HELLO: answer with a cookie, keep nothing.
      if (!this.takeHandshakeToken(now)) return;
      const cookie = new Uint8Array(COOKIE_LENGTH);
      this.cookies.mint(cookie, 0, addrBytes, port, clientId, buf, nonceOff, now);
      const out = new Uint8Array(128);
      const n = encodeCookieInto(out, 0, clientId, 0, echo, buf, nonceOff, cookie, 0);
      this.hsSeal.protect(out, 0, n, n - TAG_LENGTH, 0);
      this.replies.push({ bytes: out.subarray(0, n), address, port });
      this.counters.cookiesSent++;
      return;
    }
    if (!this.cookies.verify(buf, v.cookieOffset, addrBytes, port, clientId, buf, nonceOff, now)) {
      this.counters.handshakeBadCookie++;
      this.reject(RejectReason.BAD_COOKIE, clientId, echo, buf, nonceOff, address, port, now);
      return;
    }
    const nonceHex = hex(buf, nonceOff, NONCE_LENGTH);
    const key = `${address}|${port}|${clientId}|${nonceHex}`;
    const existing = this.handshakes.get(key);
    if (existing !== undefined) {
      // The ACCEPT was lost: send the same ACCEPT again (no new state).
      const r = this.routes.get(existing);
      if (r !== undefined && r.accept !== null && this.takeHandshakeToken(now)) {
        this.replies.push({ bytes: r.accept, address, port });
        this.counters.acceptsSent++;
      }
      return;
    }
    const negotiated = negotiate(this.defaults, v.params);
    if (negotiated === null) {
      this.reject(RejectReason.BAD_PARAMS, clientId, echo, buf, nonceOff, address, port, now);
      return;
    }
    if (this.routes.size >= this.maxConnections) {
      this.counters.connectionsRefused++;
      this.reject(RejectReason.BUSY, clientId, echo, buf, nonceOff, address, port, now);
      return;
    }
    const clientNonce = buf.slice(nonceOff, nonceOff + NONCE_LENGTH);
    const serverNonce = new Uint8Array(NONCE_LENGTH);
    this.random(serverNonce);
    const keys = deriveSessionKeys(negotiated.psk, clientNonce, serverNonce);
    const localId = this.freshId();
    let conn: Connection;
    try {
      conn = new Connection(
        {
          role: 'server',
          localId,
          remoteId: clientId,
          options: negotiated,
          tx: this.protector(keys.s2c, negotiated.auth, DIRECTION_S2C),
          rx: this.protector(keys.c2s, negotiated.auth, DIRECTION_C2S),
          epochMs: now,
          firstPacketNumber: 1,
          ...(this.accounts !== undefined ? { accounts: this.accounts } : {}),
          ...(this.pool !== undefined && this.pool.slotSize >= negotiated.maxPayload ? { pool: this.pool } : {}),
          ...(this.fecRings !== undefined ? { fecRings: this.fecRings } : {}),
        },
        now,
      );
    } catch (err) {
      // Budget refusal (ERR_SLUICE_BUDGET_EXCEEDED) or another local limit: tell the client.
      this.counters.connectionsRefused++;
      this.events.push({ type: 'handshake-rejected', address, port, reason: (err as Error).message });
      this.reject(RejectReason.BUSY, clientId, echo, buf, nonceOff, address, port, now);
      return;
    }
    const out = new Uint8Array(128);
    const n = encodeAcceptInto(out, 0, clientId, 0, {
      chosenVersion: WIRE_VERSION,
      sourceConnId: localId,
      timestamp: 0,
      echoTimestamp: echo,
      clientNonce,
      clientNonceOffset: 0,
      serverNonce,
      serverNonceOffset: 0,
      params: paramsOf(negotiated, this.paramsScratch),
    });
    // ACCEPT is HMAC-tagged with the s2c session key as packet 0 of that key (the connection
    // starts at 1): it proves knowledge of the PSK and binds both nonces.
    this.protector(keys.s2c, 'hmac', DIRECTION_S2C).protect(out, 0, n, n - TAG_LENGTH, 0);
    const accept = out.slice(0, n);
    this.routes.set(localId, { conn, address, port, hsKey: key, accept });
    this.handshakes.set(key, localId);
    this.rr.push(conn);
    this.replies.push({ bytes: accept, address, port });
    this.counters.acceptsSent++;
    this.counters.connectionsAccepted++;
    this.events.push({ type: 'connection', connection: conn, address, port });
  }

  private reject(
    reason: number,
    clientId: number,
    echo: number,
    buf: Uint8Array,
    nonceOff: number,
    address: string,
    port: number,
    now: number,
  ): void {
    if (!this.takeHandshakeToken(now)) return;
    const out = new Uint8Array(64);
    const n = encodeRejectInto(out, 0, clientId, 0, reason, MIN_SUPPORTED_VERSION, MAX_SUPPORTED_VERSION, echo, buf, nonceOff);
    this.hsSeal.protect(out, 0, n, n - TAG_LENGTH, 0);
    this.replies.push({ bytes: out.subarray(0, n), address, port });
    this.counters.rejectsSent++;
  }

  // ---- client side ---------------------------------------------------------------------------

  private onClientHandshake(
    p: PendingClient,
    buf: Uint8Array,
    offset: number,
    length: number,
    address: string,
    port: number,
    now: number,
  ): void {
    const v = this.view;
    const st = decodePacket(v, buf, offset, length);
    if (st !== DecodeStatus.OK) {
      this.countDecode(st);
      return;
    }
    if (address !== p.address || port !== p.port) {
      this.counters.handshakeUnexpected++;
      return;
    }
    const nonceMatches = constantTimeEq(buf, v.clientNonceOffset, p.nonce);
    if (!nonceMatches) {
      this.counters.handshakeUnexpected++;
      return;
    }
    if (v.type === PacketType.COOKIE) {
      if (!p.hsRx.open(buf, offset, length, offset + length - TAG_LENGTH, v.packetNumber)) {
        this.counters.handshakeAuthFailed++;
        return;
      }
      p.cookie = buf.slice(v.cookieOffset, v.cookieOffset + COOKIE_LENGTH);
      p.nextSendAt = now;
      p.interval = INITIAL_HELLO_INTERVAL_MS;
      return;
    }
    if (v.type === PacketType.REJECT) {
      const authentic = p.hsRx.open(buf, offset, length, offset + length - TAG_LENGTH, v.packetNumber);
      const reason = v.reason;
      if (reason === RejectReason.BAD_COOKIE && authentic) {
        p.cookie = null;
        p.nextSendAt = now;
        return;
      }
      const what =
        reason === RejectReason.AUTH_FAILED
          ? ['ERR_SLUICE_AUTH_FAILED', `peer ${address}:${port} rejected the handshake: authentication failed (wrong key?)`]
          : reason === RejectReason.VERSION
            ? ['ERR_SLUICE_VERSION', `peer ${address}:${port} supports wire versions ${v.minVersion}..${v.maxVersion}, we speak ${MIN_SUPPORTED_VERSION}..${MAX_SUPPORTED_VERSION}`]
            : reason === RejectReason.BUSY
              ? ['ERR_SLUICE_PEER_BUSY', `peer ${address}:${port} refused the connection: busy (connection limit or memory budget)`]
              : ['ERR_SLUICE_REJECTED', `peer ${address}:${port} rejected the handshake (reason ${reason})`];
      // An unauthenticated REJECT is only honoured for AUTH_FAILED: the listener could not tag it
      // with a key we share (spec: REJECT).
      if (!authentic && reason !== RejectReason.AUTH_FAILED) {
        this.counters.handshakeAuthFailed++;
        return;
      }
      this.pending.delete(p.localId);
      this.events.push({ type: 'connect-failed', handle: p.handle, error: new SluiceError(what[0]!, what[1]!) });
      return;
    }
    if (v.type === PacketType.ACCEPT) {
      const negotiated = negotiate(p.options, v.params);
      if (negotiated === null || v.version !== WIRE_VERSION) {
        this.counters.handshakeUnexpected++;
        return;
      }
      const serverNonce = buf.slice(v.serverNonceOffset, v.serverNonceOffset + NONCE_LENGTH);
      const keys = deriveSessionKeys(p.options.psk, p.nonce, serverNonce);
      const rx = this.protector(keys.s2c, negotiated.auth, DIRECTION_S2C);
      // The ACCEPT itself is always HMAC-tagged (nothing in it is secret).
      const check = this.protector(keys.s2c, 'hmac', DIRECTION_S2C);
      if (!check.open(buf, offset, length, offset + length - TAG_LENGTH, v.packetNumber)) {
        this.counters.handshakeAuthFailed++;
        return;
      }
      const serverId = v.sourceConnId;
      this.pending.delete(p.localId);
      let conn: Connection;
      try {
        conn = new Connection(
          {
            role: 'client',
            localId: p.localId,
            remoteId: serverId,
            options: negotiated,
            tx: this.protector(keys.c2s, negotiated.auth, DIRECTION_C2S),
            rx,
            epochMs: now,
            firstPacketNumber: 0,
            ...(this.accounts !== undefined ? { accounts: this.accounts } : {}),
          ...(this.pool !== undefined && this.pool.slotSize >= negotiated.maxPayload ? { pool: this.pool } : {}),
          ...(this.fecRings !== undefined ? { fecRings: this.fecRings } : {}),
          },
          now,
        );
      } catch (err) {
        this.events.push({
          type: 'connect-failed',
          handle: p.handle,
          error: err instanceof SluiceError ? err : new SluiceError('ERR_SLUICE_CONNECT', (err as Error).message),
        });
        return;
      }
      conn.markAcceptSeen(v.packetNumber);
      this.routes.set(p.localId, { conn, address, port, hsKey: '', accept: null });
      this.rr.push(conn);
      this.events.push({ type: 'connected', connection: conn, handle: p.handle });
      return;
    }
    this.counters.handshakeUnexpected++;
  }

  private helloInto(p: PendingClient, out: Uint8Array): number {
    const h: HelloFields = {
      minVersion: MIN_SUPPORTED_VERSION,
      maxVersion: MAX_SUPPORTED_VERSION,
      sourceConnId: p.localId,
      timestamp: 0,
      clientNonce: p.nonce,
      clientNonceOffset: 0,
      params: paramsOf(p.options, this.paramsScratch),
      cookie: p.cookie,
      cookieOffset: 0,
      length: HELLO_MIN_LENGTH,
    };
    const pn = p.pn++;
    const n = encodeHelloInto(out, 0, pn, h);
    p.hsTx.protect(out, 0, n, n - TAG_LENGTH, pn);
    return n;
  }

  // ---- output and timers ---------------------------------------------------------------------

  /**
   * Writes the next datagram into `out` (at least `max(1200, maxDatagram)` bytes) and its
   * destination into `tx`. Returns false when nothing is due.
   */
  pollTransmit(now: number, out: Uint8Array, tx: Transmit): boolean {
    const r = this.replies.shift();
    if (r !== undefined) {
      out.set(r.bytes, 0);
      tx.length = r.bytes.length;
      tx.address = r.address;
      tx.port = r.port;
      return true;
    }
    // (Map iterators are objects: skip them in the steady state, when no handshake is pending.)
    if (this.pending.size > 0) {
      for (const p of this.pending.values()) {
        if (now >= p.nextSendAt) {
          if (now - p.startedAt >= p.options.handshakeTimeoutMs) continue;
          p.nextSendAt = now + p.interval;
          p.interval = Math.min(p.interval * 2, 2000);
          tx.length = this.helloInto(p, out);
          tx.address = p.address;
          tx.port = p.port;
          return true;
        }
      }
    }
    const conns = this.rr;
    const n = conns.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.rrIndex + i) % n;
      const c = conns[idx]!;
      const len = c.pollTransmit(now, out);
      if (len > 0) {
        this.rrIndex = (idx + 1) % n;
        const route = this.routes.get(c.localId)!;
        tx.length = len;
        tx.address = route.address;
        tx.port = route.port;
        return true;
      }
      const route = this.routes.get(c.localId);
      if (route !== undefined && this.reap(route)) return this.pollTransmit(now, out, tx);
    }
    return false;
  }

  /** Removes a closed connection from the tables. Returns true when it did. */
  private reap(route: Route): boolean {
    if (route.conn.state !== 'closed') return false;
    this.routes.delete(route.conn.localId);
    if (route.hsKey !== '') this.handshakes.delete(route.hsKey);
    const i = this.rr.indexOf(route.conn);
    if (i >= 0) this.rr.splice(i, 1);
    if (this.rrIndex >= this.rr.length) this.rrIndex = 0;
    this.events.push({ type: 'connection-closed', connection: route.conn });
    return true;
  }

  /** Earliest time `handleTimeout` must run. */
  pollTimeout(now: number): number {
    if (this.replies.length > 0) return now;
    let t = Number.POSITIVE_INFINITY;
    if (this.pending.size > 0) {
      for (const p of this.pending.values()) t = Math.min(t, p.nextSendAt, p.startedAt + p.options.handshakeTimeoutMs);
    }
    const rr = this.rr;
    for (let i = 0; i < rr.length; i++) t = Math.min(t, rr[i]!.pollTimeout(now));
    return t;
  }

  /** Runs timers: handshake timeouts and every connection's deadlines. */
  handleTimeout(now: number): void {
    if (this.pending.size > 0) {
      for (const p of this.pending.values()) {
        if (now - p.startedAt >= p.options.handshakeTimeoutMs) {
          this.pending.delete(p.localId);
          this.events.push({
            type: 'connect-failed',
            handle: p.handle,
            error: new SluiceError(
              'ERR_SLUICE_CONNECT_TIMEOUT',
              `no answer from ${p.address}:${p.port} within ${p.options.handshakeTimeoutMs} ms (is a sluice listener running there?)`,
            ),
          });
        }
      }
    }
    for (let i = 0; i < this.rr.length; i++) {
      const c = this.rr[i]!;
      c.handleTimeout(now);
      if (c.state === 'closed') {
        const route = this.routes.get(c.localId);
        if (route !== undefined && this.reap(route)) i--;
      }
    }
  }

  /** Closes every connection gracefully (CLOSE is sent as the timers allow). */
  closeAll(now: number, reason?: number, message?: string): void {
    for (const c of this.rr) c.close(now, reason, message);
  }

  /** Tears everything down at once and releases all memory. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.rr) c.abort('endpoint destroyed');
    for (const route of this.routes.values()) this.reap(route);
    this.routes.clear();
    this.pending.clear();
    this.rr = [];
    this.cookies?.close();
  }
}

function hex(buf: Uint8Array, off: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += buf[off + i]!.toString(16).padStart(2, '0');
  return s;
}

function constantTimeEq(buf: Uint8Array, off: number, want: Uint8Array): boolean {
  if (off < 0 || off + want.length > buf.length) return false;
  let d = 0;
  for (let i = 0; i < want.length; i++) d |= buf[off + i]! ^ want[i]!;
  return d === 0;
}
