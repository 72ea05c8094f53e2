/**
 * Connection: one established sluice session, sans-IO (quinn-proto style).
 *
 * Inputs: `handleDatagram(buf, offset, length, now)` for every datagram routed to this
 * connection, `handleTimeout(now)` when `pollTimeout()` comes due, `sendFrame(...)` from the
 * application. Outputs: `pollTransmit(now, out)` writes the next datagram to send (or returns 0),
 * `pollEvent()` drains events (frames, lost frames, drain, closed). `now` is monotonic ms.
 *
 * Data path (sender): frames wait in the {@link FrameQueue} (by reference, bounded); the pacer
 * decides when the next datagram may leave; each DATA packet is cut, stored in the SendBuffer for
 * retransmission and fed to the FEC encoder, which emits REPAIR packets every `step` packets.
 * Priorities: control (ACK/NACK/DROP/KEEPALIVE/CLOSE) > retransmissions > repairs > new data.
 *
 * Data path (receiver): every DATA goes to the ReorderBuffer (deadline delivery) and to the FEC
 * decoder; REPAIRs go to the decoder, whose recovered packets go to the ReorderBuffer as if
 * received. The NACK scheduler reads the ReorderBuffer's loss list and asks for what FEC did not
 * rebuild; DROP notices from the sender end the wait for what it no longer has. In-order packets
 * are reassembled into frames; a gap given up at its deadline loses exactly the frames it touched.
 *
 * RTT: each side's KEEPALIVE (sent every `rttProbeMs`) carries its clock and the peer's last
 * KEEPALIVE timestamp advanced by how long it was held, so `now - echo` is one round trip
 * (spec/protocol.md, KEEPALIVE). Samples feed the RFC 6298 estimator on both sides: the sender
 * spaces retransmissions with it, the receiver spaces NACKs with it.
 */
import { SluiceError, SluiceStateError } from '../errors.js';
import { seqAdd, seqLt } from '../seq.js';
import { DETACHED_ACCOUNT, type MemoryAccount, type SlotSource } from '../memory/types.js';
import { copyBytes } from '../bytes.js';
import type { PacketProtector } from '../auth/protector.js';
import { ReplayWindow } from '../auth/replay-window.js';
import {
  CloseReason,
  DATA_PAYLOAD_OFFSET,
  DataFlags,
  PacketType,
  REPAIR_SYMBOL_OFFSET,
  TAG_LENGTH,
} from '../wire/constants.js';
import { DecodeStatus, DECODE_STATUS_COUNTERS } from '../wire/status.js';
import { PacketView } from '../wire/view.js';
import { decodePacket } from '../wire/decode.js';
import {
  encodeAckInto,
  encodeCloseInto,
  encodeDataHeaderInto,
  encodeKeepaliveInto,
  encodeRangesInto,
  encodeRepairHeaderInto,
} from '../wire/encode.js';
import { ReorderBuffer, ReorderEvent, ReorderOutput, InsertStatus } from '../reorder-buffer.js';
import { DEFAULT_RETRANSMIT_BURST_PACKETS, SendBuffer, SentPacketView } from '../send-buffer.js';
import { NackScheduler } from '../nack-scheduler.js';
import { RttEstimator } from '../rtt.js';
import { StreamingFecDecoder, StreamingFecEncoder, RepairInfo, RecoveredPacket } from '../fec/index.js';
import { DEFAULT_MAX_QUEUED_FRAMES, FrameQueue, Fragment } from './frame-queue.js';
import { FrameAssembler, AssemblyStatus } from './frame-assembler.js';
import { Pacer } from './pacer.js';
import { ClockMap } from './clock-map.js';
import { ConnectionCounters, type ConnectionStats } from './stats.js';
import { DEFAULT_ACK_INTERVAL_MS, DEFAULT_FEC_LONG, DEFAULT_RTT_PROBE_MS, FEC_OFF_SHARE, defaultFecFor, type ResolvedOptions } from './options.js';

/** Connection states. */
export type ConnectionState = 'open' | 'closing' | 'closed';

/** Events drained with {@link Connection.pollEvent}. */
export type ConnectionEvent =
  | {
      readonly type: 'frame';
      /** The frame's bytes: a buffer owned by the receiver of the event. */
      readonly data: Uint8Array;
      /** Sender time of the frame, ms since the sender's connection epoch. */
      readonly timestampMs: number;
      readonly keyframe: boolean;
      readonly firstSeq: number;
      readonly lastSeq: number;
    }
  | {
      readonly type: 'frame-lost';
      /** First sequence of the run given up (a frame's first fragment when known). */
      readonly firstSeq: number;
      /** Sequences covered. */
      readonly count: number;
      readonly reason: 'loss' | 'inconsistent' | 'oversized';
    }
  | { readonly type: 'drain' }
  | {
      readonly type: 'closed';
      /** CloseReason code. */
      readonly reason: number;
      readonly message: string;
      /** True when the peer closed (or went silent), false when closed locally. */
      readonly byPeer: boolean;
    };

/** Source of named memory accounts (a MemoryAccountant satisfies it). */
export interface AccountSource {
  account(name: string): MemoryAccount & { close?(): void };
}

/** Everything the handshake settled, needed to open a connection. */
export interface ConnectionSetup {
  readonly role: 'client' | 'server';
  /** Our connection id: the peer puts it in the header of packets to us. */
  readonly localId: number;
  /** The peer's connection id: we put it in the header of packets to it. */
  readonly remoteId: number;
  /** Negotiated options (both sides agree on latency, FEC, datagram size, frame size, ARQ, auth). */
  readonly options: ResolvedOptions;
  /** Protects what we send. */
  readonly tx: PacketProtector;
  /** Opens what we receive. */
  readonly rx: PacketProtector;
  /** Our clock origin (ms): timestamps we send are (now - epoch) in microseconds. */
  readonly epochMs: number;
  /** First packet number we send (the handshake used the ones before). */
  readonly firstPacketNumber?: number;
  /** Memory accounts; detached when absent. */
  readonly accounts?: AccountSource;
  /**
   * Shared packet slots for the reorder and send buffers (slotSize >= maxPayload). With a pool a
   * connection's payload memory follows its occupancy instead of its capacity, so many mostly
   * idle connections cost little; without one each buffer preallocates its own slab.
   */
  readonly pool?: SlotSource;
  /**
   * Pools for the FEC rings, by ring size: returns a pool whose slots hold `bytes` (or
   * undefined to allocate inside). Rings are then reused across connections.
   */
  readonly fecRings?: (bytes: number) => SlotSource | undefined;
}

/** A frame handed to {@link Connection.sendFrame}. */
export interface SendFrameOptions {
  /** Marks the frame as a keyframe (random access point). */
  keyframe?: boolean;
}

/** Result of {@link Connection.sendFrame}. */
export const SendStatus = {
  /** Queued; the queue is below its limit. */
  OK: 0,
  /** Queued; the queue is above half its limit: wait for 'drain' before sending more. */
  PRESSURE: 1,
  /** Not queued: the queue is full. Wait for 'drain' and send again. */
  FULL: 2,
} as const;
export type SendStatus = (typeof SendStatus)[keyof typeof SendStatus];

const NACK_MAX_RANGES = 128;
/** Quiet time after the send queue drains before a KEEPALIVE announces our next seq, ms. */
const TAIL_PROBE_MS = 5;
/** After a loss hint, NACK polls stay urgent this long (repeats every urgentIntervalMs). */
const HINT_URGENT_MS = 5;
const LOSS_SCAN_MAX = 256;
/** Slots of a direction's stand-in tables until the direction is used (see Connection.sendSized). */
const IDLE_SLOTS = 16;
/** The forward-loss estimate takes a sample at most this often, ms. */
const LOSS_SAMPLE_MS = 250;
/** Fewest original DATA packets in one loss sample (a slow stream makes longer samples). */
const LOSS_SAMPLE_MIN_PACKETS = 32;
/**
 * Weight of a new sample in the loss estimate: a rising sample counts half (repairs start
 * within one or two samples of the loss appearing), a falling one an eighth (about 2 s of
 * memory before they stop).
 */
const LOSS_EWMA_GAIN_UP = 0.5;
const LOSS_EWMA_GAIN_DOWN = 0.125;
/** Shortest geometry fitFecGeometry uses when even a 16-packet window outlasts the latency. */
const MIN_FEC_GEOMETRY = Object.freeze({ window: 16, step: 16, repairs: 1 });

export class Connection {
  readonly localId: number;
  readonly remoteId: number;
  readonly role: 'client' | 'server';
  readonly options: ResolvedOptions;
  readonly counters = new ConnectionCounters();
  private _state: ConnectionState = 'open';

  private readonly tx: PacketProtector;
  private readonly rx: PacketProtector;
  private readonly replay: ReplayWindow;
  private readonly epochMs: number;
  private readonly openedAt: number;
  private txPn: number;
  private readonly view: PacketView;
  private readonly accounts: AccountSource | null;
  private readonly accountNames: string[] = [];

  // sender side
  private queue: FrameQueue;
  private sendBuf: SendBuffer;
  /** Created with the first DATA sent (a receive-only side never holds an encoder window). */
  private fecEnc: StreamingFecEncoder | null = null;
  private readonly pacer: Pacer;
  private readonly frag = new Fragment();
  private readonly repairInfo = new RepairInfo();
  private readonly sent = new SentPacketView();
  private nextSeq = 0;
  private repairsReady = 0;
  /** Forward loss measured from the peer's NACKs (EWMA of samples), a share in [0, 1]. */
  private lossEstimate = 0;
  private lossSampleAt = 0;
  private lossSampleSent = 0;
  private lossSampleNacked = 0;
  /** Repairs go out (options.fecMinLoss against lossEstimate, with hysteresis). */
  private fecActive = true;
  /** The encoder's geometry follows the measured send rate (the negotiated FEC is DEFAULT_FEC_LONG). */
  private fecFollowsRate = false;
  private wasPressured = false;

  // receiver side
  private reorder: ReorderBuffer;
  private readonly reorderOut = new ReorderOutput();
  /** Created with the first DATA or REPAIR received (a send-only side never holds decoder state). */
  private fecDec: StreamingFecDecoder | null = null;
  /** FEC state could not be created (memory budget): the connection runs on ARQ alone. */
  private fecUnavailable = false;
  private readonly fecRings: ((bytes: number) => SlotSource | undefined) | null;
  /** The shared packet pool: the FEC decoder keeps its symbols in its slots (memory follows occupancy). */
  private readonly fecSlots: SlotSource | null;
  private readonly recovered = new RecoveredPacket();
  private readonly recoveredBuf: Uint8Array;
  private nack: NackScheduler | null;
  /**
   * Each direction's tables are sized for the stream only once the direction is used: until the
   * first sendFrame() the send queue and send buffer, until the first DATA, REPAIR or tail fence
   * the reorder buffer and NACK state, are {@link IDLE_SLOTS}-slot stand-ins (a receive-only
   * connection at 20 Mbit/s would otherwise hold ~200 KiB of send tables, a send-only one
   * ~250 KiB of receive tables).
   */
  private sendSized = false;
  private receiveSized = false;
  private readonly setupPool: SlotSource | null;
  private readonly sendAccounts: { readonly queue: MemoryAccount; readonly buffer: MemoryAccount };
  private readonly receiveAccounts: { readonly reorder: MemoryAccount; readonly nack: MemoryAccount };
  private readonly assembler: FrameAssembler;
  private readonly clock = new ClockMap();
  private readonly rtt: RttEstimator;
  private highestSeq = 0;
  private anyData = false;
  private newestTs = 0;
  private newestArrival = 0;
  private ackDue = false;
  private nextAckAt = 0;
  private lastAckSeq = -1;
  /** When a retransmission last filled a gap here (receiver side), ms. */
  private lastRtxAt = 0;
  /** A gap in the peer's packet numbers was seen since the last NACK poll. */
  private lossHint = false;

  // NACK / DROP scratch
  private readonly rangeStarts = new Uint32Array(NACK_MAX_RANGES);
  private readonly rangeCounts = new Uint32Array(NACK_MAX_RANGES);
  private readonly dropStarts = new Uint32Array(NACK_MAX_RANGES);
  private readonly dropCounts = new Uint32Array(NACK_MAX_RANGES);
  private readonly lossStarts = new Uint32Array(LOSS_SCAN_MAX);
  private readonly lossCounts = new Uint32Array(LOSS_SCAN_MAX);
  private readonly lossSince = new Float64Array(LOSS_SCAN_MAX);
  private readonly lossDeadline = new Float64Array(LOSS_SCAN_MAX);

  // liveness
  private lastHeardAt: number;
  private lastSentAt: number;
  private nextProbeAt: number;
  private tailProbeAt = Number.POSITIVE_INFINITY;
  /** NACK polls until then are urgent (a loss hint was just acted on). */
  private hintUrgentUntil = 0;
  private peerKeepaliveTs = 0;
  private peerKeepaliveAt = -1;
  private closeReason: number = CloseReason.NORMAL;
  private closeMessage = '';
  private closeSendsLeft = 0;

  private readonly events: ConnectionEvent[] = [];
  private closedNextExpected = 0;

  constructor(setup: ConnectionSetup, now: number) {
    const o = setup.options;
    this.options = o;
    this.role = setup.role;
    this.localId = setup.localId;
    this.remoteId = setup.remoteId;
    this.tx = setup.tx;
    this.rx = setup.rx;
    this.epochMs = setup.epochMs;
    this.openedAt = now;
    this.txPn = setup.firstPacketNumber ?? 0;
    this.accounts = setup.accounts ?? null;
    this.fecRings = setup.fecRings ?? null;
    this.fecSlots = setup.pool ?? null;
    this.replay = new ReplayWindow(undefined, this.acct('replay'));
    this.view = new PacketView({ maxDatagram: Math.max(o.maxDatagram, 1400), maxFrameBytes: o.maxFrameBytes });

    this.rtt = new RttEstimator();
    this.setupPool = setup.pool ?? null;
    this.sendAccounts = { queue: this.acct('send-queue'), buffer: this.acct('send') };
    this.receiveAccounts = { reorder: this.acct('reorder'), nack: this.acct('nack') };
    this.queue = this.makeQueue(IDLE_SLOTS);
    this.sendBuf = this.makeSendBuffer(IDLE_SLOTS);
    // The bucket holds at least 2 ms at the ceiling rate: timers fire with ~1 ms granularity, so a
    // smaller bucket would cap the rate below the ceiling.
    const burst = Math.max(14_000, 10 * o.maxDatagram, Math.ceil((o.maxRateBps / 8) * 0.002));
    this.pacer = new Pacer({ rateBps: o.maxRateBps, burstBytes: Math.min(burst, 16 * 1024 * 1024) }, now);

    this.reorder = this.makeReorder(IDLE_SLOTS);
    this.recoveredBuf = new Uint8Array(o.maxPayload);
    this.nack = this.makeNack(IDLE_SLOTS);
    this.assembler = new FrameAssembler({ maxFrameBytes: o.maxFrameBytes, account: this.acct('frames') });

    this.lastHeardAt = now;
    this.lastSentAt = now;
    this.nextProbeAt = now;
    this.nextAckAt = now + DEFAULT_ACK_INTERVAL_MS;
    // Until measured, assume the loss that calls for repairs: they stop after about a second on
    // a clean link, and a lossy one never starts without them.
    this.lossEstimate = o.fecMinLoss;
    this.lossSampleAt = now;
  }

  private makeQueue(frames: number): FrameQueue {
    return new FrameQueue({ limitBytes: this.options.sendQueueBytes, maxFrames: frames, account: this.sendAccounts.queue });
  }

  private makeSendBuffer(capacity: number): SendBuffer {
    const o = this.options;
    return new SendBuffer({
      capacity,
      maxBytes: capacity === o.sendCapacity ? o.sendBufferBytes : Math.min(o.sendBufferBytes, capacity * o.maxPayload),
      maxPayload: o.maxPayload,
      usefulLifeMs: o.latencyMs + 100,
      deadlineMs: o.latencyMs,
      retransmitShare: o.retransmitShare,
      // Tokens come only from original sends; the bucket may keep the share of a whole send
      // buffer. With the SendBuffer's default (64 packets) a stream's last packets, or a
      // keyframe's, could not get their later rounds once the sender went quiet: nothing sent,
      // no tokens (50 Mbit/s, 500 ms, 20% loss: the 4 packets lost in 19k were all at the end).
      retransmitBurstBytes: Math.max(DEFAULT_RETRANSMIT_BURST_PACKETS * o.maxPayload, o.retransmitShare * o.sendBufferBytes),
      account: this.sendAccounts.buffer,
      rtt: this.rtt,
      ...(this.setupPool !== null ? { pool: this.setupPool } : {}),
    });
  }

  private makeReorder(capacity: number): ReorderBuffer {
    const o = this.options;
    const rb = new ReorderBuffer({
      capacity,
      latencyMs: o.latencyMs,
      maxPayload: o.maxPayload,
      // A stream that outruns the window (a burst bigger than the derived capacity) gets the
      // held packets in the way delivered early, not discarded.
      beyondWindow: 'release',
      account: this.receiveAccounts.reorder,
      ...(this.setupPool !== null ? { pool: this.setupPool } : {}),
    });
    // Both sides number DATA from 0: starting the window there lets the first packets be
    // recovered even when they are the ones lost.
    rb.start(0);
    return rb;
  }

  private makeNack(capacity: number): NackScheduler | null {
    if (!this.options.arq) return null;
    return new NackScheduler({ capacity, maxRanges: NACK_MAX_RANGES, reorderToleranceMs: 2, account: this.receiveAccounts.nack });
  }

  /** First use of the send direction: the send queue and buffer get their full size. */
  private sizeSend(): void {
    this.sendSized = true;
    this.queue.close();
    this.sendBuf.close();
    this.queue = this.makeQueue(DEFAULT_MAX_QUEUED_FRAMES);
    this.sendBuf = this.makeSendBuffer(this.options.sendCapacity);
  }

  /** First use of the receive direction (nothing received yet): full-size reorder and NACK state. */
  private sizeReceive(): void {
    this.receiveSized = true;
    this.reorder.close();
    this.nack?.close();
    this.reorder = this.makeReorder(this.options.receiveCapacity);
    this.nack = this.makeNack(this.options.receiveCapacity);
  }

  private acct(component: string): MemoryAccount {
    if (this.accounts === null) return DETACHED_ACCOUNT;
    const name = `conn.${this.localId}.${component}`;
    this.accountNames.push(name);
    return this.accounts.account(name);
  }

  /** Records the ACCEPT's packet number (client side) so that repeated ACCEPTs count as replays. */
  markAcceptSeen(packetNumber: number): void {
    this.replay.commit(packetNumber);
  }

  /** The FEC encoder, created on first use; null when FEC is off or could not be had. */
  private encoder(): StreamingFecEncoder | null {
    const f = this.options.fec;
    if (this.fecEnc !== null || f === null || this.fecUnavailable) return this.fecEnc;
    try {
      const opts = { window: f.window, step: f.step, repairs: f.repairs, maxPayload: this.options.maxPayload };
      const ring = this.fecRings?.(StreamingFecEncoder.ringBytes(opts));
      this.fecEnc = new StreamingFecEncoder({ ...opts, account: this.acct('fec-enc'), ...(ring !== undefined ? { ring } : {}) });
      this.fecFollowsRate = f.window === DEFAULT_FEC_LONG.window && f.step === DEFAULT_FEC_LONG.step && f.repairs === DEFAULT_FEC_LONG.repairs;
      if (this.fecFollowsRate) this.fitFecGeometry(this.options.expectedRateBps);
    } catch {
      // Budget refusal: carry on without FEC (ARQ still repairs), counted.
      this.fecUnavailable = true;
    }
    return this.fecEnc;
  }

  /** The FEC decoder, created on first use; null when FEC is off or could not be had. */
  private decoder(): StreamingFecDecoder | null {
    const f = this.options.fec;
    if (this.fecDec !== null || f === null || this.fecUnavailable) return this.fecDec;
    try {
      const opts = {
        maxWindow: f.window,
        maxPayload: this.options.maxPayload,
        maxRepairs: Math.min(256, Math.max(16, 4 * f.repairs * Math.ceil(f.window / f.step))),
      };
      const slots = this.fecSlots;
      if (slots !== null && slots.slotSize >= StreamingFecDecoder.slotBytes(opts) && (slots.slotSize & 3) === 0) {
        this.fecDec = new StreamingFecDecoder({ ...opts, account: this.acct('fec-dec'), slots });
      } else {
        const ring = this.fecRings?.(StreamingFecDecoder.ringBytes(opts));
        this.fecDec = new StreamingFecDecoder({ ...opts, account: this.acct('fec-dec'), ...(ring !== undefined ? { ring } : {}) });
      }
    } catch {
      this.fecUnavailable = true;
    }
    return this.fecDec;
  }

  /** Current state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** Our clock as sent on the wire: microseconds since our epoch, 32-bit. */
  private wireNow(now: number): number {
    return Math.floor((now - this.epochMs) * 1000) >>> 0;
  }

  // ------------------------------------------------------------------------------------------
  // Application side

  /**
   * Queues a frame for sending, by reference: do not modify `data` until the queue has moved
   * past it (the Node layer copies for you unless told otherwise).
   * @returns {@link SendStatus}: OK, PRESSURE (queued, but wait for 'drain'), FULL (not queued).
   * @throws SluiceRangeError when the frame is larger than `maxFrameBytes`;
   *   SluiceStateError after close().
   */
  sendFrame(data: Uint8Array, now: number, options?: SendFrameOptions): SendStatus {
    if (this._state !== 'open') throw new SluiceStateError('sendFrame: the connection is closed');
    if (data.length > this.options.maxFrameBytes) {
      throw new SluiceError(
        'ERR_SLUICE_FRAME_TOO_LARGE',
        `sendFrame: frame of ${data.length} bytes exceeds maxFrameBytes (${this.options.maxFrameBytes})`,
      );
    }
    if (!this.sendSized) this.sizeSend();
    const ok = this.queue.push(data, 0, data.length, this.wireNow(now), options?.keyframe === true);
    if (!ok) {
      this.counters.framesRefused++;
      this.wasPressured = true;
      return SendStatus.FULL;
    }
    this.counters.framesQueued++;
    if (this.queue.queuedBytes > this.options.sendQueueBytes / 2 || this.queueAgeMs(now) > this.options.latencyMs / 4) {
      this.wasPressured = true;
      return SendStatus.PRESSURE;
    }
    return SendStatus.OK;
  }

  /**
   * How long the oldest queued frame has waited, ms. Live media has a deadline, so backpressure
   * is about time, not bytes: a frame that waits a quarter of the latency budget in our queue
   * means the application writes faster than the path (or the process) can carry.
   */
  private queueAgeMs(now: number): number {
    if (this.queue.queuedFrames === 0) return 0;
    return (((this.wireNow(now) - this.queue.headTimestampUs) >>> 0) / 1000);
  }

  /** Bytes of frames waiting to be sent. */
  get queuedBytes(): number {
    return this.queue.queuedBytes;
  }

  /** Drains the next event, or undefined. */
  pollEvent(): ConnectionEvent | undefined {
    return this.events.shift();
  }

  /**
   * Starts a graceful close: queued frames are dropped, a CLOSE is sent (three times, paced by
   * the timer), then the connection is closed and its memory returned.
   */
  close(now: number, reason: number = CloseReason.NORMAL, message = ''): void {
    if (this._state !== 'open') return;
    this.closeReason = reason;
    this.closeMessage = message;
    this.closeSendsLeft = 3;
    this._state = 'closing';
    this.queue.clear();
    this.lastSentAt = now - this.options.keepaliveMs;
  }

  // ------------------------------------------------------------------------------------------
  // Network input

  /**
   * Handles one datagram addressed to this connection (the endpoint routed it by connection id).
   * Never throws on network input: bad datagrams are counted and dropped.
   */
  handleDatagram(buf: Uint8Array, offset: number, length: number, now: number): void {
    if (this._state === 'closed') return;
    const v = this.view;
    const st = decodePacket(v, buf, offset, length);
    if (st !== DecodeStatus.OK) {
      const name = DECODE_STATUS_COUNTERS[st] ?? 'rx_unknown_status';
      const d = this.counters.rejected.decode;
      d[name] = (d[name] ?? 0) + 1;
      return;
    }
    if (v.connId !== this.localId) {
      this.counters.rejected.unexpected++;
      return;
    }
    const pn = v.packetNumber;
    if (!this.replay.check(pn)) {
      this.counters.rejected.replay++;
      return;
    }
    // The tag binds the full packet index (the header carries its low 32 bits), so a packet
    // recorded 2^32 packets ago can never verify again (src/core/auth/protector.ts).
    const index = this.replay.index(pn);
    const bodyOffset =
      v.type === PacketType.DATA ? offset + DATA_PAYLOAD_OFFSET : v.type === PacketType.REPAIR ? offset + REPAIR_SYMBOL_OFFSET : offset + length - TAG_LENGTH;
    if (!this.rx.open(buf, offset, length, bodyOffset, index)) {
      this.counters.rejected.auth++;
      return;
    }
    // A gap in the peer's packet numbers: some packet was lost just now, perhaps a copy we asked
    // for; the NACK scheduler takes it as a hint (NackScheduler, module comment).
    if (index > this.replay.stats.highest + 1 && this.replay.stats.highest >= 0) this.lossHint = true;
    this.replay.commit(pn);
    this.counters.packetsReceived++;
    this.counters.bytesReceived += length;
    this.lastHeardAt = now;

    switch (v.type) {
      case PacketType.DATA:
        this.onData(v, now);
        break;
      case PacketType.REPAIR:
        this.onRepair(v, now);
        break;
      case PacketType.ACK:
        this.sendBuf.onAck(v.ackSeq, now, v.echoTimestamp, v.ackDelayUs / 1000);
        break;
      case PacketType.NACK:
        if (this.options.arq) this.sendBuf.onNack(v.rangeStarts, v.rangeLengths, v.rangeCount, now, v.largestPn);
        break;
      case PacketType.DROP:
        this.onDrop(v, now);
        break;
      case PacketType.KEEPALIVE:
        this.onKeepalive(v.timestamp, v.echoTimestamp, now);
        this.onTailFence(v.nextSeq, v.timestamp, now);
        break;
      case PacketType.CLOSE:
        // A graceful end: the peer sent everything it meant to. What we hold is handed over now
        // (early rather than never), gaps are reported lost, then the connection closes.
        this.deliver(Number.POSITIVE_INFINITY);
        this.finish(v.reason, 'closed by peer', true);
        break;
      default:
        // HELLO/COOKIE/ACCEPT/REJECT after the handshake: a retransmitted handshake packet that
        // crossed the ACCEPT, harmless; counted.
        this.counters.rejected.unexpected++;
    }
  }

  private onData(v: PacketView, now: number): void {
    if (!this.receiveSized) this.sizeReceive();
    const seq = v.seq;
    const flags = v.flags;
    if (!this.anyData) {
      this.anyData = true;
      this.highestSeq = seq;
      if (seq !== 0) this.nack?.onGap(now);
    }
    if ((flags & DataFlags.RETRANSMIT) === 0) {
      // Originals only: a retransmission's timestamp says nothing about the path delay.
      this.clock.observe(this.clock.senderMs(v.timestamp), now);
    } else {
      this.clock.senderMs(v.timestamp);
    }
    if (seqLt(this.highestSeq, seq)) this.highestSeq = seq;
    this.newestTs = v.timestamp;
    this.newestArrival = now;
    this.ackDue = true;
    const st = this.insert(seq, flags, v.timestamp, v.frameLength, v.buf, v.payloadOffset, v.payloadLength, now);
    if (st === InsertStatus.Accepted) {
      this.counters.dataReceived++;
      if ((flags & DataFlags.RETRANSMIT) !== 0) {
        this.counters.recoveredByArq++;
        this.lastRtxAt = now;
      }
      this.nack?.onArrival(seq, now);
    }
    const dec = this.decoder();
    if (dec !== null) {
      dec.addSource(seq, flags & ~DataFlags.RETRANSMIT, v.timestamp, v.frameLength, v.buf, v.payloadOffset, v.payloadLength);
      this.drainRecovered(now);
    }
  }

  private insert(
    seq: number,
    flags: number,
    wireTs: number,
    frameLength: number,
    payload: Uint8Array,
    off: number,
    len: number,
    now: number,
  ): InsertStatus {
    const base = this.clock.toReceiver(this.clock.senderMs(wireTs));
    if (base + this.options.latencyMs < now) {
      // Past its own deadline (a retransmission or recovery that came too late): delivering it
      // would break the latency bound, and the gap it fills is skipped when the next packet is
      // due. Too late is counted like SRT's too-late drop.
      this.counters.late++;
      return InsertStatus.Late;
    }
    let st = this.reorder.insert(seq, base, flags, frameLength, payload, off, len, now);
    if (st === InsertStatus.NeedsRoom) {
      // Deliver what is in the way (early), then the packet fits.
      this.deliver(now);
      st = this.reorder.insert(seq, base, flags, frameLength, payload, off, len, now);
    }
    switch (st) {
      case InsertStatus.Accepted:
        break;
      case InsertStatus.Duplicate:
      case InsertStatus.TooOld:
        this.counters.duplicate++;
        break;
      case InsertStatus.Late:
        this.counters.late++;
        break;
      default:
        this.counters.refused++;
    }
    return st;
  }

  private onRepair(v: PacketView, now: number): void {
    if (!this.receiveSized) this.sizeReceive();
    this.counters.repairReceived++;
    this.ackDue = true;
    const dec = this.decoder();
    if (dec === null) return;
    dec.addRepair(v.windowStart, v.windowLength, v.repairIndex, v.buf, v.symbolOffset, v.symbolLength);
    this.drainRecovered(now);
  }

  private drainRecovered(now: number): void {
    const dec = this.fecDec!;
    const rec = this.recovered;
    for (;;) {
      const n = dec.pollRecovered(this.recoveredBuf, 0, rec);
      if (n < 0) break;
      const st = this.insert(rec.seq, rec.flags | DataFlags.FEC_RECOVERED, rec.timestamp, rec.frameLength, this.recoveredBuf, 0, n, now);
      if (st === InsertStatus.Accepted) {
        this.counters.recoveredByFec++;
        this.nack?.onArrival(rec.seq, now);
      }
    }
  }

  private onDrop(v: PacketView, now: number): void {
    // The sender no longer has these: stop asking. They are given up at their deadline like any
    // loss (the reorder buffer skips them); only the NACKs stop.
    if (this.nack === null) return;
    for (let i = 0; i < v.rangeCount; i++) this.nack.cancel(v.rangeStarts[i]!, v.rangeLengths[i]!, now);
  }

  /**
   * The peer's next DATA seq (from a KEEPALIVE): sequences in [highest received + 1, nextSeq)
   * are missing even though no later packet revealed the gap. They are registered in the reorder
   * buffer with the KEEPALIVE's timestamp as their release bound, so they are NACKed and, if they
   * never come, given up and reported at their deadline.
   */
  private onTailFence(nextSeq: number, wireTs: number, now: number): void {
    if (nextSeq === 0 && !this.anyData) return;
    const top = this.anyData ? seqAdd(this.highestSeq, 1) : 0;
    if (!seqLt(top, nextSeq)) return;
    const base = this.clock.samples > 0 ? this.clock.toReceiver(this.clock.senderMs(wireTs)) : now;
    if (!this.receiveSized) this.sizeReceive();
    if (this.reorder.fence(nextSeq, base, now)) {
      if (!this.anyData) this.anyData = true;
      this.highestSeq = seqAdd(nextSeq, -1);
      this.nack?.onGap(now);
      this.ackDue = true;
    }
  }

  private onKeepalive(peerTs: number, echo: number, now: number): void {
    this.peerKeepaliveTs = peerTs;
    this.peerKeepaliveAt = now;
    // The peer has no RTT sample yet (echo 0): answer at once so both sides have one within a
    // round trip of the handshake, before the first losses need NACK timing.
    if (echo === 0 || !this.rtt.hasSample) this.nextProbeAt = now;
    if (echo !== 0) {
      const rttUs = (this.wireNow(now) - echo) >>> 0;
      // A sample beyond 60 s is a stale or bogus echo (the clock wraps every 71 min).
      if (rttUs < 60_000_000) this.rtt.onSample(rttUs / 1000);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  /** Earliest time `handleTimeout` must run (ms); Infinity when nothing is scheduled. */
  pollTimeout(now: number): number {
    if (this._state === 'closed') return Number.POSITIVE_INFINITY;
    let t = this.lastHeardAt + this.options.idleTimeoutMs;
    t = Math.min(t, this.reorder.nextTimeout());
    if (this.ackDue) t = Math.min(t, this.nextAckAt);
    if (this.nack !== null) t = Math.min(t, this.lossHint && this.anyData && this._state === 'open' ? now : this.nack.nextTimeout());
    t = Math.min(t, this.nextProbeAt, this.tailProbeAt, this.lastSentAt + this.options.keepaliveMs);
    t = Math.min(t, this.sendBuf.nextTimeout());
    if (this.hasPacedWork(now)) t = Math.min(t, this.pacer.nextSendTime(this.options.maxDatagram, now));
    return t;
  }

  private hasPacedWork(now: number): boolean {
    return this.repairsReady > 0 || this.queue.queuedFrames > 0 || this.sendBuf.hasRetransmit(now);
  }

  /** Runs what is due at `now`: deliveries, idle timeout, buffer expiry. */
  handleTimeout(now: number): void {
    if (this._state === 'closed') return;
    if (now - this.lastHeardAt >= this.options.idleTimeoutMs) {
      this.finish(CloseReason.IDLE_TIMEOUT, `no packet from the peer for ${this.options.idleTimeoutMs} ms`, true);
      return;
    }
    this.sendBuf.expire(now);
    this.deliver(now);
  }

  private deliver(now: number): void {
    const out = this.reorderOut;
    const asm = this.assembler;
    while (this.reorder.poll(now, out)) {
      if (out.kind === ReorderEvent.Lost) {
        this.counters.lost += out.count;
        this.nack?.cancel(out.seq, out.count, now);
        this.fecDec?.forgetBefore(seqAdd(out.seq, out.count));
        if (asm.lost(out.seq, out.count)) this.emitLost();
        continue;
      }
      const tsMs = out.releaseAt - this.options.latencyMs - this.clock.offsetMs;
      const st = asm.push(out.seq, out.flags, tsMs, out.frameLength, out.payload, out.offset, out.length);
      if (st === AssemblyStatus.FRAME) {
        const f = asm.frame!;
        this.counters.framesDelivered++;
        this.events.push({
          type: 'frame',
          data: f.data,
          timestampMs: f.timestampMs,
          keyframe: f.keyframe,
          firstSeq: f.firstSeq,
          lastSeq: f.lastSeq,
        });
      } else if (asm.lostFrame !== null) {
        this.emitLost();
      }
      this.fecDec?.forgetBefore(seqAdd(out.seq, 1));
    }
  }

  private emitLost(): void {
    const l = this.assembler.lostFrame!;
    this.counters.framesLost++;
    this.events.push({ type: 'frame-lost', firstSeq: l.firstSeq, count: l.count, reason: l.reason });
  }

  // ------------------------------------------------------------------------------------------
  // Output

  /**
   * Writes the next datagram to send into `out` (which must hold `maxDatagram` bytes) and returns
   * its length, or 0 when nothing may be sent now. Call until it returns 0, then re-arm the timer
   * with `pollTimeout()`.
   */
  pollTransmit(now: number, out: Uint8Array): number {
    if (this._state === 'closed') return 0;
    this.deliver(now);
    let n = this.pollControl(now, out);
    if (n === 0 && this._state === 'open') n = this.pollPaced(now, out);
    if (n > 0) {
      this.counters.packetsSent++;
      this.counters.bytesSent += n;
      this.lastSentAt = now;
    }
    if (this.wasPressured && this.queue.queuedBytes <= this.options.sendQueueBytes / 4 && this.queueAgeMs(now) <= this.options.latencyMs / 8) {
      this.wasPressured = false;
      this.events.push({ type: 'drain' });
    }
    return n;
  }

  /**
   * Next packet index. The header carries `index >>> 0`; the tag binds the whole index (2^53
   * packets per key: centuries at any rate), so no (key, nonce) pair ever repeats.
   */
  private nextPn(now: number): number {
    const idx = this.txPn;
    if (idx >= Number.MAX_SAFE_INTEGER) {
      this.finish(CloseReason.KEY_EXHAUSTED, 'packet index space exhausted', false);
      return -1;
    }
    this.txPn = idx + 1;
    void now;
    return idx;
  }

  private seal(out: Uint8Array, length: number, bodyOffset: number, index: number): number {
    this.tx.protect(out, 0, length, bodyOffset, index);
    return length;
  }

  private pollControl(now: number, out: Uint8Array): number {
    if (this._state === 'closing') {
      if (this.closeSendsLeft === 0) {
        this.finish(this.closeReason, this.closeMessage, false);
        return 0;
      }
      this.closeSendsLeft--;
      const pn = this.nextPn(now);
      if (pn < 0) return 0;
      const len = encodeCloseInto(out, 0, this.remoteId, pn >>> 0, this.closeReason, EMPTY, 0, 0);
      this.counters.controlSent++;
      return this.seal(out, len, len - TAG_LENGTH, pn);
    }
    // ACK
    if (this.ackDue && now >= this.nextAckAt) {
      this.ackDue = false;
      this.nextAckAt = now + DEFAULT_ACK_INTERVAL_MS;
      const pn = this.nextPn(now);
      if (pn < 0) return 0;
      const ackSeq = this.ackSeq();
      const delayUs = Math.min(0xffff_ffff, Math.max(0, Math.round((now - this.newestArrival) * 1000)));
      const free = Math.max(0, this.reorder.capacity - this.reorder.packets);
      const len = encodeAckInto(out, 0, this.remoteId, pn >>> 0, ackSeq, this.newestTs, delayUs, 0, free);
      this.counters.controlSent++;
      return this.seal(out, len, len - TAG_LENGTH, pn);
    }
    // NACK
    if (this.nack !== null && this.anyData && (this.lossHint || now >= this.nack.nextTimeout())) {
      const hint = this.lossHint;
      this.lossHint = false;
      // Urgent: NACKs are out but no retransmission has arrived for half an RTT, so the NACKs
      // (or the retransmissions) are being lost; overdue sequences are then repeated every few
      // ms to get through a burst on the return path (NackScheduler, module comment).
      const srtt = this.rtt.hasSample ? this.rtt.srtt : this.rtt.rto;
      // A loss hint is the first moment a lost copy is proven; its NACK is the one the sender
      // answers, so it is repeated every few ms for HINT_URGENT_MS rather than once.
      if (hint) this.hintUrgentUntil = now + HINT_URGENT_MS;
      const urgent = now - this.lastRtxAt > srtt / 2 || now < this.hintUrgentUntil;
      const nl = this.reorder.copyLossRanges(this.lossStarts, this.lossCounts, this.lossSince, LOSS_SCAN_MAX, this.lossDeadline);
      const k = this.nack.poll(now, this.rtt.hasSample ? this.rtt.srtt : 0, this.lossStarts, this.lossCounts, this.lossSince, this.lossDeadline, nl, this.rangeStarts, this.rangeCounts,
        // The scheduler repeats after rtt + 4 x var (RFC 6298's RTO). For media the cost of a
        // spare retransmission is small and the deadline is near: repeat after rtt + var.
        this.rtt.hasSample ? this.rtt.rttvar / 4 : 0,
        urgent,
        hint,
      );
      if (k > 0) {
        const pn = this.nextPn(now);
        if (pn < 0) return 0;
        // largestPn: what we had received when writing this NACK, so the sender can tell which
        // of its copies this NACK proves lost (SendBuffer.onNack).
        const len = encodeRangesInto(out, 0, PacketType.NACK, this.remoteId, pn >>> 0, this.rangeStarts, this.rangeCounts, 0, k, this.largestPnSeen());
        this.counters.controlSent++;
        this.counters.nackSent++;
        for (let i = 0; i < k; i++) this.counters.nackedSequences += this.rangeCounts[i]!;
        return this.seal(out, len, len - TAG_LENGTH, pn);
      }
    }
    // DROP notices for NACKed packets the send buffer no longer holds
    const d = this.sendBuf.copyDropRanges(this.dropStarts, this.dropCounts, NACK_MAX_RANGES);
    if (d > 0) {
      const pn = this.nextPn(now);
      if (pn < 0) return 0;
      const len = encodeRangesInto(out, 0, PacketType.DROP, this.remoteId, pn >>> 0, this.dropStarts, this.dropCounts, 0, d, this.largestPnSeen());
      this.counters.controlSent++;
      this.counters.dropNoticesSent += d;
      return this.seal(out, len, len - TAG_LENGTH, pn);
    }
    // KEEPALIVE: RTT probe every DEFAULT_RTT_PROBE_MS, and keepalive when idle
    if (now >= this.nextProbeAt || now >= this.tailProbeAt || now - this.lastSentAt >= this.options.keepaliveMs) {
      this.nextProbeAt = now + DEFAULT_RTT_PROBE_MS;
      this.tailProbeAt = Number.POSITIVE_INFINITY;
      const pn = this.nextPn(now);
      if (pn < 0) return 0;
      let echo = 0;
      if (this.peerKeepaliveAt >= 0) {
        // Echo the peer's stamp advanced by how long we held it, so now - echo is one RTT there.
        echo = (this.peerKeepaliveTs + Math.round((now - this.peerKeepaliveAt) * 1000)) >>> 0;
        if (echo === 0) echo = 1;
      }
      const len = encodeKeepaliveInto(out, 0, this.remoteId, pn >>> 0, this.wireNow(now), echo, this.nextSeq);
      this.counters.controlSent++;
      return this.seal(out, len, len - TAG_LENGTH, pn);
    }
    return 0;
  }

  /** Low 32 bits of the highest packet index received from the peer (0 before any): `largestPn`. */
  private largestPnSeen(): number {
    const h = this.replay.stats.highest;
    return h < 0 ? 0 : h % 0x1_0000_0000;
  }

  /** Next expected sequence: everything before it was received, recovered or given up. */
  private ackSeq(): number {
    if (!this.anyData) return 0;
    const n = this.reorder.copyLossRanges(this.lossStarts, this.lossCounts, this.lossSince, 1);
    return n > 0 ? this.lossStarts[0]! : seqAdd(this.highestSeq, 1);
  }

  private pollPaced(now: number, out: Uint8Array): number {
    const maxDg = this.options.maxDatagram;
    if (!this.pacer.canSend(maxDg, now)) return 0;
    // 1. retransmissions
    if (this.options.arq && this.sendBuf.pollRetransmit(now, this.sent)) {
      const s = this.sent;
      const pn = this.nextPn(now);
      if (pn < 0) return 0;
      const len = encodeDataHeaderInto(out, 0, this.remoteId, pn >>> 0, s.flags | DataFlags.RETRANSMIT, s.seq, s.timestamp, s.frameLength, s.length);
      copyBytes(out, DATA_PAYLOAD_OFFSET, s.payload, s.offset, s.length);
      this.sendBuf.recordPacketNumber(s.seq, pn >>> 0);
      this.counters.retransmitSent++;
      this.pacer.consume(len, now);
      // A retransmission is proven lost only by a later packet number reaching the receiver
      // (SendBuffer.onNack, largestPn). A bursty sender (video between frames) may send nothing
      // for tens of ms after it: the tail probe's KEEPALIVE brings that proof within a few ms.
      if (this.queue.queuedFrames === 0) this.tailProbeAt = now + TAIL_PROBE_MS;
      return this.seal(out, len, DATA_PAYLOAD_OFFSET, pn);
    }
    // 2. repairs
    if (this.repairsReady > 0 && this.fecEnc !== null) {
      const info = this.repairInfo;
      const symLen = this.fecEnc.pollRepair(out, REPAIR_SYMBOL_OFFSET, info);
      this.repairsReady--;
      if (symLen > 0) {
        const pn = this.nextPn(now);
        if (pn < 0) return 0;
        const len = encodeRepairHeaderInto(out, 0, this.remoteId, pn >>> 0, info.windowStart, info.windowLength, info.repairIndex, symLen);
        this.counters.repairSent++;
        this.pacer.consume(len, now);
        return this.seal(out, len, REPAIR_SYMBOL_OFFSET, pn);
      }
    }
    // 3. new data. A frame that already waited the whole latency budget would arrive after its
    // deadline: drop it whole, before it costs bandwidth (SRT's sender-side drop), and count it.
    while (this.queue.headUntouched && this.queueAgeMs(now) > this.options.latencyMs) {
      this.queue.dropHead();
      this.counters.framesDroppedLate++;
    }
    const frag = this.frag;
    const n = this.queue.cutInto(out, DATA_PAYLOAD_OFFSET, this.options.maxPayload, frag);
    if (n < 0) return 0;
    const pn = this.nextPn(now);
    if (pn < 0) return 0;
    const seq = this.nextSeq;
    this.nextSeq = seqAdd(seq, 1);
    const len = encodeDataHeaderInto(out, 0, this.remoteId, pn >>> 0, frag.flags, seq, frag.timestampUs, frag.frameLength, n);
    this.sendBuf.add(seq, frag.timestampUs, frag.flags, frag.frameLength, out, DATA_PAYLOAD_OFFSET, n, now);
    const enc = this.encoder();
    if (enc !== null) {
      // addSource returns the repairs ready to poll. While repairs are off they are left
      // unpolled: the encoder counts them skipped at its next step and computes nothing.
      const ready = enc.addSource(seq, frag.flags, frag.timestampUs, frag.frameLength, out, DATA_PAYLOAD_OFFSET, n);
      if (now - this.lossSampleAt >= LOSS_SAMPLE_MS) this.sampleLoss(now);
      this.repairsReady = this.fecActive ? ready : 0;
    }
    this.counters.dataSent++;
    this.counters.dataBytesSent += n;
    this.pacer.consume(len, now);
    // End of a burst: if nothing follows within TAIL_PROBE_MS, a KEEPALIVE tells the receiver our
    // next seq, so a lost tail (which no later packet would reveal) is NACKed or reported. A
    // steady stream never waits that long, so it sends no extra packets.
    this.tailProbeAt = this.queue.queuedFrames === 0 ? now + TAIL_PROBE_MS : Number.POSITIVE_INFINITY;
    return this.seal(out, len, DATA_PAYLOAD_OFFSET, pn);
  }

  /**
   * One sample of the forward loss: sequences the peer NACKed for the first time per original
   * DATA sent since the last sample (the NACKs answer packets sent about an RTT earlier, which
   * the smoothing absorbs). Switches repairs on at `fecMinLoss` and off under
   * FEC_OFF_SHARE x it.
   */
  private sampleLoss(now: number): void {
    const sent = this.counters.dataSent - this.lossSampleSent;
    if (sent < LOSS_SAMPLE_MIN_PACKETS) return;
    if (this.fecFollowsRate && now > this.lossSampleAt) {
      this.fitFecGeometry(((sent * this.options.maxPayload * 8) / (now - this.lossSampleAt)) * 1000);
    }
    const nacked = this.sendBuf.stats.firstNacked - this.lossSampleNacked;
    const p = nacked >= sent ? 1 : nacked / sent;
    this.lossEstimate += (p > this.lossEstimate ? LOSS_EWMA_GAIN_UP : LOSS_EWMA_GAIN_DOWN) * (p - this.lossEstimate);
    this.lossSampleAt = now;
    this.lossSampleSent = this.counters.dataSent;
    this.lossSampleNacked = this.sendBuf.stats.firstNacked;
    // Without ARQ (or its budget) repairs are the only recovery, and NACKs may not even exist.
    const min = this.options.arq && this.options.retransmitShare > 0 ? this.options.fecMinLoss : 0;
    if (this.lossEstimate >= min) this.fecActive = true;
    else if (this.lossEstimate < min * FEC_OFF_SHARE) this.fecActive = false;
  }

  /**
   * The default long FEC ({@link DEFAULT_FEC_LONG}) keeps its windows spanning the time
   * `defaultFecFor` allows at the rate actually sent: 128/64/2 at 20 Mbit/s, 64/32/1 at 10, a
   * shorter window below (never none: the repairs were negotiated).
   */
  private fitFecGeometry(rateBps: number): void {
    const o = this.options;
    const g = defaultFecFor(Math.max(64_000, rateBps), o.latencyMs, o.maxDatagram) ?? MIN_FEC_GEOMETRY;
    const enc = this.fecEnc!;
    if (g.window !== enc.geometryWindow) enc.setGeometry(g.window, g.step, g.repairs);
  }

  // ------------------------------------------------------------------------------------------
  // Teardown and statistics

  private finish(reason: number, message: string, byPeer: boolean): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.closedNextExpected = this.reorder.nextExpected;
    // A frame cut short by the end of the connection is lost, and said so.
    if (this.assembler.inProgress && this.assembler.lost(this.reorder.nextExpected, 0)) this.emitLost();
    this.release();
    this.events.push({ type: 'closed', reason, message, byPeer });
  }

  /** Returns every byte to the pool and the accounts. Idempotent. */
  private release(): void {
    this.queue.close();
    this.sendBuf.close();
    this.fecEnc?.close();
    this.reorder.close();
    this.fecDec?.close();
    this.nack?.close();
    this.replay.close();
    this.assembler.close();
    if (this.accounts !== null) {
      const a = this.accounts as { closeAccount?(name: string): unknown };
      if (typeof a.closeAccount === 'function') for (const name of this.accountNames) a.closeAccount(name);
    }
  }

  /** Closes at once without telling the peer (endpoint shutdown, fatal error). */
  abort(message = 'aborted'): void {
    this.finish(CloseReason.APPLICATION, message, false);
  }

  /** A plain statistics record. */
  stats(now: number): ConnectionStats {
    const c = this.counters;
    const elapsed = Math.max(1, now - this.openedAt);
    return {
      connId: this.localId,
      remoteConnId: this.remoteId,
      state: this._state,
      elapsedMs: now - this.openedAt,
      sent: {
        packets: c.packetsSent,
        bytes: c.bytesSent,
        data: c.dataSent,
        dataBytes: c.dataBytesSent,
        repair: c.repairSent,
        retransmit: c.retransmitSent,
        control: c.controlSent,
        dropNotices: c.dropNoticesSent,
        framesQueued: c.framesQueued,
        framesRefused: c.framesRefused,
        framesDroppedLate: c.framesDroppedLate,
        nextSeq: this.nextSeq,
        rateBps: (c.bytesSent * 8 * 1000) / elapsed,
        overhead: c.dataSent === 0 ? 0 : (c.repairSent + c.retransmitSent) / c.dataSent,
        lossEstimate: this.lossEstimate,
        fecActive: this.options.fec !== null && this.fecActive,
        repairWithheld: this.fecEnc === null ? 0 : this.fecEnc.stats.repairsSkipped,
        fecWindow: this.fecEnc === null ? 0 : this.fecEnc.geometryWindow,
      },
      received: {
        packets: c.packetsReceived,
        bytes: c.bytesReceived,
        data: c.dataReceived,
        duplicate: c.duplicate,
        late: c.late,
        repair: c.repairReceived,
        refused: c.refused,
        expedited: this.reorder.stats.expedited,
        framesDelivered: c.framesDelivered,
        framesLost: c.framesLost,
        nextExpectedSeq: this._state === 'closed' ? this.closedNextExpected : this.reorder.nextExpected,
        knownExtent: this.anyData ? seqAdd(this.highestSeq, 1) : 0,
      },
      recovery: {
        byFec: c.recoveredByFec,
        byArq: c.recoveredByArq,
        lost: c.lost,
        nacksSent: c.nackSent,
        nackedSequences: c.nackedSequences,
      },
      rejected: {
        decode: { ...c.rejected.decode },
        auth: c.rejected.auth,
        replay: c.rejected.replay,
        unexpected: c.rejected.unexpected,
      },
      rtt: { srttMs: this.rtt.srtt, rttvarMs: this.rtt.rttvar, rtoMs: this.rtt.rto, samples: this.rtt.samples },
      receiveBuffer: {
        packets: this._state === 'closed' ? 0 : this.reorder.packets,
        bytes: this._state === 'closed' ? 0 : this.reorder.bytes,
        ms: this._state === 'closed' ? 0 : this.reorder.spanMs,
        capacity: this.options.receiveCapacity,
      },
      sendBuffer: {
        packets: this.sendBuf.packets,
        bytes: this.sendBuf.bytes,
        capacityBytes: this.options.sendBufferBytes,
        evictedByCap: this.sendBuf.stats.evictedCap,
        retransmitTooLate: this.sendBuf.stats.retransmitTooLate,
        retransmitRateLimited: this.sendBuf.stats.retransmitSuppressedRate,
      },
      sendQueue: { frames: this.queue.queuedFrames, bytes: this.queue.queuedBytes, limitBytes: this.options.sendQueueBytes },
      clockOffsetMs: this.clock.offsetMs,
    };
  }
}

const EMPTY = new Uint8Array(0);
