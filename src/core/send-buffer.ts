/**
 * SendBuffer: the sender's retransmission store.
 *
 * Holds every DATA packet sent, in a power-of-two ring indexed by `seq & mask` (the held
 * sequences are always the contiguous run `[oldest, next)`), until one of:
 * - a cumulative ACK covers it (`evictedAcked`),
 * - it is older than its useful life, the receiver's deadline plus a margin, after which a
 *   retransmission would arrive too late to be played (`evictedExpired`),
 * - the packet-count or byte cap pushes it out, oldest first (`evictedCap`).
 *
 * NACKs queue retransmissions. A NACK for a sequence no longer held becomes a drop notice (the
 * receiver stops waiting for it, like SRT's DROPREQ). Retransmissions are limited two ways:
 * - volume: a token bucket filled only by original sends (`length x retransmitShare` bytes per
 *   packet, capped at `retransmitBurstBytes`), so no NACK stream, genuine or forged, can make
 *   the sender emit more than that share of its send rate;
 * - time: a packet already retransmitted is not sent again before one smoothed RTT has passed
 *   since its last transmission.
 * The queue is a bitmap over the ring: queued packets go out oldest sequence first (the one
 * nearest its deadline), each at most once per NACK.
 *
 * RTT: {@link SendBuffer.onAck} can take the ACK's echoed timestamp and ack delay; the sample is
 * taken on the newest packet carrying that timestamp unless a packet with that timestamp was
 * retransmitted (Karn's algorithm, RFC 6298 §3), and fed to {@link SendBuffer.rtt}.
 *
 * Per-packet methods allocate nothing.
 */
import { DETACHED_ACCOUNT, type MemoryAccount, type SlotSource } from './memory/types.js';
import { SluiceRangeError, SluiceStateError, SluiceTypeError, checkInt, checkNumber, checkPowerOfTwo } from './errors.js';
import { MAX_RTT_SAMPLE_MS, RttEstimator, type RttEstimatorOptions } from './rtt.js';
import { seqDiff } from './seq.js';

/** Default share of the original send volume that retransmissions may use (0.25 = 25 %). */
export const DEFAULT_RETRANSMIT_SHARE = 0.25;
/** Default cap of the retransmission token bucket, in payloads of `maxPayload` bytes. */
export const DEFAULT_RETRANSMIT_BURST_PACKETS = 64;
/** Default copies in a packet's first retransmission round. */
export const DEFAULT_RETRANSMIT_COPIES = 1;
/** Most copies handed out in one retransmission round. */
export const MAX_RETRANSMIT_COPIES = 4;
/** Pending spaced copies held at most (power of two); beyond it a copy is not scheduled. */
const COPY_RING = 256;
/**
 * Default spacing of the copies of one retransmission round, ms. Copies sent back to back die
 * together in a loss burst (a Gilbert-Elliott bad state lasts ~10 packets at r = 0.1); 10 ms
 * apart they see independent states, and the deadline still leaves room for them.
 */
export const DEFAULT_COPY_SPACING_MS = 10;
/** Default number of pending drop-notice ranges kept (more are counted and dropped). */
export const DEFAULT_MAX_DROP_RANGES = 64;
/** Largest capacity accepted (packets). */
export const MAX_SEND_CAPACITY = 1 << 20;
/** Longest drop range emitted (the NACK/DROP wire count is a u16). */
const MAX_RANGE_COUNT = 0xffff;
/** Packets scanned backwards to match an ACK's echoed timestamp. */
const ECHO_SCAN_LIMIT = 1024;

/** Options of {@link SendBuffer}. */
export interface SendBufferOptions {
  /** Ring size in packets: a power of two in [2, 2^20]. */
  capacity: number;
  /** Byte cap on held payload bytes, in [maxPayload, 2^40]: the oldest packets are evicted to stay under it. */
  maxBytes: number;
  /** Largest payload, bytes, in [1, 65535]. */
  maxPayload: number;
  /** Useful life of a packet after its first send, ms, in [0, 600000] (receiver latency + margin). */
  usefulLifeMs: number;
  /**
   * The receiver's latency budget, ms, in [0, usefulLifeMs]: a copy scheduled for later than
   * `first send + deadlineMs` would arrive after the packet's deadline and is not sent.
   * Default `usefulLifeMs`.
   */
  deadlineMs?: number;
  /** Spacing of the extra copies of a round, ms, in [0, 1000]. Default {@link DEFAULT_COPY_SPACING_MS}. */
  copySpacingMs?: number;
  /** Share of original bytes sent that retransmissions may use, in [0, 16]. Default {@link DEFAULT_RETRANSMIT_SHARE}. */
  retransmitShare?: number;
  /** Token bucket cap, bytes, in [0, 2^40]. Default {@link DEFAULT_RETRANSMIT_BURST_PACKETS} x maxPayload. */
  retransmitBurstBytes?: number;
  /**
   * Copies handed out in the first retransmission round of a packet, in [1, 4], `copySpacingMs`
   * apart; each later round of the same packet adds one copy (at most {@link MAX_RETRANSMIT_COPIES}):
   * a packet that needs another round is short of time. Default {@link DEFAULT_RETRANSMIT_COPIES}.
   * Why: with a latency of about 3 RTT only two rounds fit before the deadline, so single
   * copies leave about p^3 of the packets lost at a loss rate p (0.1 % at 10 %); 2 then 3
   * copies make that about p^6 for about twice the retransmission volume. Every copy spends
   * tokens, so `retransmitShare` still bounds the total.
   */
  retransmitCopies?: number;
  /** Pending drop-notice ranges kept, in [1, 4096]. Default {@link DEFAULT_MAX_DROP_RANGES}. */
  maxDropRanges?: number;
  /**
   * The RTT estimator to use (shared with the connection, which may also feed it from
   * KEEPALIVE echoes), or options for a private one. Default: a private estimator.
   */
  rtt?: RttEstimator | RttEstimatorOptions;
  /** Memory account charged for the tables (and the slab). Default: detached. */
  account?: MemoryAccount;
  /** Slot source for payloads (slotSize >= maxPayload); without it a slab is preallocated. */
  pool?: SlotSource;
}

/** Counters of a {@link SendBuffer}; all monotonic. */
export class SendBufferStats {
  /** Packets added. */
  added = 0;
  /** Packets evicted because an ACK covered them. */
  evictedAcked = 0;
  /** Packets evicted because their useful life ended. */
  evictedExpired = 0;
  /** Packets evicted by the packet-count or byte cap (oldest first). */
  evictedCap = 0;
  /** Packets not stored because the slot source was exhausted and nothing was held. */
  noSlot = 0;
  /** Retransmissions handed out by pollRetransmit (each copy counts). */
  retransmitted = 0;
  /** Payload bytes of those retransmissions. */
  retransmittedBytes = 0;
  /** Payload bytes of original sends (the base of the rate limit). */
  sentBytes = 0;
  /** Queued retransmissions that had to wait for the token bucket (counted once per packet and NACK). */
  retransmitSuppressedRate = 0;
  /** NACKed sequences ignored: the NACK was written before their last copy could arrive (largestPn), or, without that, they were sent again less than one RTT ago. */
  retransmitSuppressedRtt = 0;
  /** Queued retransmissions dropped unsent: they would have reached the receiver after the deadline (`deadlineMs`). */
  retransmitTooLate = 0;
  /** NACKed sequences already queued. */
  nackDuplicate = 0;
  /**
   * Sequences queued for their first retransmission: each is a loss the peer reported (the
   * base of the sender's loss estimate; FEC repairs race these, so FEC-recovered losses count).
   */
  firstNacked = 0;
  /** NACKed sequences turned into drop notices (no longer held). */
  dropNoticed = 0;
  /** Drop ranges refused because the drop-notice list was full. */
  dropNoticeOverflow = 0;
  /** NACK ranges (or parts) naming sequences never sent: ignored. */
  nackInvalid = 0;
  /** ACKs for sequences never sent: ignored. */
  ackInvalid = 0;
  /** RTT samples skipped because the echoed packet was retransmitted (Karn). */
  rttKarnSkipped = 0;
}

const EMPTY = new Uint8Array(0);

/**
 * Reusable output record of {@link SendBuffer.pollRetransmit}. `payload` is a view of an
 * internal slot, valid until the next call that changes the buffer (add, onAck, onNack, expire,
 * pollRetransmit, close). Set the RETRANSMIT flag (0x04) on the wire; `flags` is as added.
 */
export class SentPacketView {
  seq = 0;
  /** Wire timestamp (u32 microseconds) as added. */
  timestamp = 0;
  flags = 0;
  frameLength = 0;
  payload: Uint8Array = EMPTY;
  offset = 0;
  length = 0;
  /** Transmissions of this packet including this one (saturates at 65535). */
  transmissions = 0;
  /** Time of the original send, ms. */
  firstSentAt = 0;
}

/**
 * The sender's store of sent packets (see the module comment).
 *
 * @example
 * ```ts
 * const sb = new SendBuffer({ capacity: 4096, maxBytes: 4 << 20, maxPayload: 1360, usefulLifeMs: 150 });
 * sb.add(seq, tsUs, flags, frameLength, payload, 0, payload.length, now);   // after sending it
 * sb.onAck(ack.ackSeq, now, ack.echoTimestamp, ack.ackDelayUs / 1000);
 * sb.onNack(nack.starts, nack.counts, nack.rangeCount, now);
 * const view = new SentPacketView();
 * while (sb.pollRetransmit(now, view)) send(view);
 * const n = sb.copyDropRanges(dropStarts, dropCounts, 227); // then send a DROP if n > 0
 * ```
 */
export class SendBuffer {
  // Numeric fields start as `= 0`: with ES2022 class fields a bare `x: number;` is first defined
  // as undefined, V8 then tracks it as a tagged field and every fractional store allocates a
  // HeapNumber. Starting from a small integer keeps the field unboxed (in-place double).
  /** Counters. */
  readonly stats: SendBufferStats;
  /** RFC 6298 estimator fed from ACK echoes (Karn-filtered). */
  readonly rtt: RttEstimator;
  readonly capacity: number = 0;
  readonly maxBytes: number = 0;
  readonly maxPayload: number = 0;
  readonly usefulLifeMs: number = 0;
  readonly deadlineMs: number = 0;
  readonly copySpacingMs: number = 0;
  readonly retransmitShare: number = 0;
  readonly retransmitBurstBytes: number = 0;
  readonly retransmitCopies: number = 0;
  /** Retransmission budget available, bytes. */
  tokens: number = 0;

  private readonly _mask: number = 0;
  private readonly _account: MemoryAccount;
  private readonly _pool: SlotSource | null;
  private readonly _reserved: number = 0;
  private readonly _timestamp: Uint32Array;
  private readonly _flags: Uint8Array;
  private readonly _frameLength: Uint32Array;
  private readonly _length: Uint32Array;
  private readonly _firstSent: Float64Array;
  private readonly _lastSent: Float64Array;
  /** Packet number of the last transmission, when the caller recorded it (`_pnKnown`). */
  private readonly _lastPn: Uint32Array;
  private readonly _pnKnown: Uint8Array;
  private readonly _tx: Uint16Array;
  /** Retransmission rounds started per packet (saturates at 255). */
  private readonly _rounds: Uint8Array;
  /** 1 once a queued packet was held back by the bucket (so it is counted once). */
  private readonly _blocked: Uint8Array;
  private readonly _queued: Uint32Array;
  private readonly _slots: Array<Uint8Array | null>;
  private readonly _dropStart: Uint32Array;
  private readonly _dropCount: Uint32Array;
  private _dropHead: number = 0;
  private _dropLen: number = 0;
  private _started: boolean;
  /** Sequences sent and no longer held, saturating at 2^31 - 1 (the drop-notice domain). */
  private _gone: number = 0;
  private _oldest: number = 0;
  private _next: number = 0;
  private _held: number = 0;
  private _heldBytes: number = 0;
  private _queuedCount: number = 0;
  /** No queued sequence lies before this one (scan start). */
  private _cursor: number = 0;
  private _closed: boolean;
  /** Sequence whose extra copies are still to be handed out, and how many. */
  /** Extra copies waiting for their time: a ring of (seq, due ms) kept sorted by due time. */
  private readonly _cpSeq: Int32Array;
  private readonly _cpDue: Float64Array;
  private _cpHead: number = 0;
  private _cpLen: number = 0;

  /**
   * @throws SluiceTypeError / SluiceRangeError naming the option when an option is invalid.
   * @throws BudgetExceededError from `account.reserve` when the budget refuses the tables.
   */
  constructor(options: SendBufferOptions) {
    if (options === null || typeof options !== 'object') {
      throw new SluiceTypeError('SendBuffer options: expected an object');
    }
    const capacity = checkPowerOfTwo('capacity', options.capacity, 2, MAX_SEND_CAPACITY);
    this.maxPayload = checkInt('maxPayload', options.maxPayload, 1, 65_535);
    this.maxBytes = checkInt('maxBytes', options.maxBytes, this.maxPayload, 2 ** 40);
    this.usefulLifeMs = checkNumber('usefulLifeMs', options.usefulLifeMs, 0, 600_000);
    this.deadlineMs = checkNumber('deadlineMs', options.deadlineMs ?? this.usefulLifeMs, 0, this.usefulLifeMs);
    this.copySpacingMs = checkNumber('copySpacingMs', options.copySpacingMs ?? DEFAULT_COPY_SPACING_MS, 0, 1000);
    this.retransmitShare = checkNumber('retransmitShare', options.retransmitShare ?? DEFAULT_RETRANSMIT_SHARE, 0, 16);
    this.retransmitBurstBytes = checkNumber(
      'retransmitBurstBytes',
      options.retransmitBurstBytes ?? DEFAULT_RETRANSMIT_BURST_PACKETS * this.maxPayload,
      0,
      2 ** 40,
    );
    this.retransmitCopies = checkInt('retransmitCopies', options.retransmitCopies ?? DEFAULT_RETRANSMIT_COPIES, 1, MAX_RETRANSMIT_COPIES);
    const maxDrop = checkInt('maxDropRanges', options.maxDropRanges ?? DEFAULT_MAX_DROP_RANGES, 1, 4096);
    const pool = options.pool ?? null;
    if (pool !== null && !(pool.slotSize >= this.maxPayload)) {
      throw new SluiceRangeError(`pool: expected slotSize >= maxPayload (${this.maxPayload}), got ${String(pool.slotSize)}`);
    }
    this.rtt = options.rtt instanceof RttEstimator ? options.rtt : new RttEstimator(options.rtt);
    this.capacity = capacity;
    this._mask = capacity - 1;
    this._account = options.account ?? DETACHED_ACCOUNT;
    this._pool = pool;
    const words = (capacity + 31) >>> 5;
    const tableBytes = capacity * (4 + 1 + 4 + 4 + 8 + 8 + 2 + 1 + 1 + 4 + 1) + words * 4 + maxDrop * 8;
    const slabBytes = pool === null ? capacity * this.maxPayload : 0;
    this._reserved = tableBytes + slabBytes;
    this._account.reserve(this._reserved);
    this._timestamp = new Uint32Array(capacity);
    this._flags = new Uint8Array(capacity);
    this._frameLength = new Uint32Array(capacity);
    this._length = new Uint32Array(capacity);
    this._firstSent = new Float64Array(capacity);
    this._lastSent = new Float64Array(capacity);
    this._lastPn = new Uint32Array(capacity);
    this._pnKnown = new Uint8Array(capacity);
    this._tx = new Uint16Array(capacity);
    this._rounds = new Uint8Array(capacity);
    this._blocked = new Uint8Array(capacity);
    this._queued = new Uint32Array(words);
    this._slots = new Array<Uint8Array | null>(capacity).fill(null);
    if (pool === null) {
      const slab = new Uint8Array(slabBytes);
      for (let i = 0; i < capacity; i++) this._slots[i] = slab.subarray(i * this.maxPayload, (i + 1) * this.maxPayload);
    }
    this._dropStart = new Uint32Array(maxDrop);
    this._dropCount = new Uint32Array(maxDrop);
    this._account.setCapacity(Math.min(this.maxBytes, capacity * this.maxPayload), capacity);
    this.stats = new SendBufferStats();
    this.tokens = 0;
    this._dropHead = 0;
    this._dropLen = 0;
    this._started = false;
    this._gone = 0;
    this._oldest = 0;
    this._next = 0;
    this._held = 0;
    this._heldBytes = 0;
    this._queuedCount = 0;
    this._cursor = 0;
    this._closed = false;
    this._cpSeq = new Int32Array(COPY_RING);
    this._cpDue = new Float64Array(COPY_RING);
    this._cpHead = 0;
    this._cpLen = 0;
  }

  /** Packets held. */
  get packets(): number {
    return this._held;
  }
  /** Payload bytes held. */
  get bytes(): number {
    return this._heldBytes;
  }
  /** Oldest sequence held (equals {@link nextSeq} when empty). */
  get oldestSeq(): number {
    return this._oldest >>> 0;
  }
  /** Sequence the next add() must carry. */
  get nextSeq(): number {
    return this._next >>> 0;
  }
  /** Retransmissions queued. */
  get queued(): number {
    return this._queuedCount;
  }
  /**
   * True when a retransmission, or a copy due by `now` (default: any scheduled copy), could go
   * out now (the token bucket allows it).
   */
  hasRetransmit(now = Number.POSITIVE_INFINITY): boolean {
    if (this._closed) return false;
    if (this._cpLen > 0 && this._cpDue[this._cpHead]! <= now && this.tokens >= this._length[this._cpSeq[this._cpHead]! & this._mask]!) return true;
    return this._queuedCount > 0 && this.tokens >= this._length[this._nextQueued() & this._mask]!;
  }
  /** Span between the first sends of the oldest and newest packets held, ms. */
  get spanMs(): number {
    if (this._held < 2) return 0;
    return this._firstSent[(this._next - 1) & this._mask]! - this._firstSent[this._oldest & this._mask]!;
  }

  /**
   * Records a packet just sent for the first time and copies its payload
   * `payload[offset .. offset+length)` (the caller keeps `payload`). Sequences must be
   * consecutive (the first add sets the start); `seq` and `timestamp` may be given as uint32 or
   * int32 (`x | 0`, allocation-free from a hot loop, see ReorderBuffer.insert). Evicts the oldest
   * packets while the ring or the
   * byte cap is full (`evictedCap`), and feeds the retransmission bucket.
   * @throws SluiceStateError after close(); SluiceRangeError on a non-consecutive seq, a length
   *   above maxPayload or offset/length outside `payload` (all caller bugs).
   */
  add(seq: number, timestamp: number, flags: number, frameLength: number, payload: Uint8Array, offset: number, length: number, now: number): void {
    if (this._closed) throw new SluiceStateError('SendBuffer.add: buffer is closed');
    seq = seq | 0;
    if (!this._started) {
      this._started = true;
      this._oldest = seq;
      this._next = seq;
      this._cursor = seq;
    } else if (seq !== this._next) {
      throw new SluiceRangeError(`add: expected seq ${this._next >>> 0} (consecutive), got ${seq >>> 0}`);
    }
    if (!(length >= 0 && length <= this.maxPayload && offset >= 0 && offset + length <= payload.length)) {
      throw new SluiceRangeError(
        `add: expected length in [0, ${this.maxPayload}] and offset + length <= payload.length (${payload.length}), got offset=${offset} length=${length}`,
      );
    }
    while (this._held === this.capacity || this._heldBytes + length > this.maxBytes) {
      this._evictOldest();
      this.stats.evictedCap++;
    }
    const idx = seq & this._mask;
    let slot: Uint8Array | null;
    if (this._pool !== null) {
      slot = this._pool.acquire();
      while (slot === null && this._held > 0) {
        this._evictOldest();
        this.stats.evictedCap++;
        slot = this._pool.acquire();
      }
      if (slot === null) {
        // Nothing held and no slot: the packet is sent but cannot be kept.
        this.stats.noSlot++;
        if (this._gone < 0x7fff_ffff) this._gone++;
        this._next = _add(seq, 1);
        this._oldest = this._next;
        this._feed(length);
        return;
      }
      this._slots[idx] = slot;
    } else {
      slot = this._slots[idx]!;
    }
    _copy(payload, offset, slot, 0, length);
    this._timestamp[idx] = timestamp >>> 0;
    this._flags[idx] = flags;
    this._frameLength[idx] = frameLength >>> 0;
    this._length[idx] = length;
    this._firstSent[idx] = now;
    this._lastSent[idx] = now;
    this._pnKnown[idx] = 0;
    this._tx[idx] = 1;
    this._rounds[idx] = 0;
    this._blocked[idx] = 0;
    this._next = _add(seq, 1);
    this._held++;
    this._heldBytes += length;
    this.stats.added++;
    this._account.use(length, 1);
    this._reportSpan();
    this._feed(length);
  }

  /**
   * Cumulative acknowledgement: every sequence before `ackSeq` was received (or given up) by
   * the peer and is evicted (`evictedAcked`). When `echoTimestamp` (u32, the timestamp of the
   * newest DATA the peer received) is given, an RTT sample `now - sendTime - ackDelayMs` is
   * taken first (Karn-filtered). An ACK beyond what was sent is ignored (`ackInvalid`). Never throws.
   */
  onAck(ackSeq: number, now: number, echoTimestamp = -1, ackDelayMs = 0): void {
    if (this._closed || !this._started) return;
    ackSeq = ackSeq | 0;
    if (seqDiff(this._next, ackSeq) > 0) {
      this.stats.ackInvalid++;
      return;
    }
    if (echoTimestamp >= 0) this._rttSample(echoTimestamp | 0, now, ackDelayMs);
    while (this._held > 0 && seqDiff(this._oldest, ackSeq) > 0) {
      this._evictOldest();
      this.stats.evictedAcked++;
    }
  }

  /**
   * Negative acknowledgement: `n` ranges `(starts[i], counts[i])` the peer is missing. Held
   * sequences are queued for retransmission unless already queued or the NACK cannot know about
   * the last retransmission yet: with `largestPn` (the NACK's field: the highest packet number
   * its writer had received, u32) and the packet number of that retransmission recorded by
   * {@link recordPacketNumber}, a sequence is sent again when `largestPn` is at or past it
   * (RFC 1982 order: that copy was lost), or when it was sent last at least srtt + 2 rttvar ago
   * (a bursty stream may give the receiver nothing newer for a while); without `largestPn`
   * (-1) or a recorded number, when it was sent last at least one smoothed RTT ago. Sequences sent but no longer held become drop notices;
   * sequences never sent are ignored (`nackInvalid`). Work is bounded by the held window per
   * range. Never throws for range contents; `n` larger than the arrays is clamped.
   */
  onNack(starts: Uint32Array, counts: Uint32Array | Uint16Array, n: number, now: number, largestPn = -1): void {
    if (this._closed) return;
    if (n > starts.length) n = starts.length;
    if (n > counts.length) n = counts.length;
    for (let i = 0; i < n; i++) this._nackRange(starts[i]!, counts[i]!, now, largestPn);
  }

  /**
   * Records the packet number (u32) a retransmission of `seq` just went out under (call after
   * {@link pollRetransmit} handed it out), for the `largestPn` test of {@link onNack}. Ignored
   * for a sequence no longer held.
   */
  recordPacketNumber(seq: number, packetNumber: number): void {
    seq = seq | 0;
    if (!(seqDiff(this._oldest, seq) >= 0 && seqDiff(seq, this._next) > 0)) return;
    const idx = seq & this._mask;
    this._lastPn[idx] = packetNumber >>> 0;
    this._pnKnown[idx] = 1;
  }

  /**
   * Hands out the next queued retransmission (oldest sequence first) if the token bucket allows
   * it; expires old packets first so nothing past its useful life is ever returned. Marks the
   * packet sent at `now`. Returns false when nothing can be sent now.
   */
  pollRetransmit(now: number, out: SentPacketView): boolean {
    if (this._closed) return false;
    this.expire(now);
    while (this._cpLen > 0 && this._cpDue[this._cpHead]! <= now) {
      // A spaced copy of an earlier retransmission (see retransmitCopies).
      const seq = this._cpSeq[this._cpHead]!;
      const idx = seq & this._mask;
      if (!(seqDiff(this._oldest, seq) >= 0 && seqDiff(seq, this._next) > 0) || this._firstSent[idx]! + this.deadlineMs <= now) {
        this._cpPop();
        continue;
      }
      if (this.tokens < this._length[idx]!) break;
      this._cpPop();
      this._emit(seq, now, out);
      return true;
    }
    // A retransmission that would reach the receiver after the packet's deadline is not sent.
    while (this._queuedCount > 0) {
      const late = this._nextQueued() & this._mask;
      if (this._firstSent[late]! + this.deadlineMs > now) break;
      this._unqueue(late);
      this._blocked[late] = 0;
      this.stats.retransmitTooLate++;
    }
    if (this._queuedCount === 0) return false;
    const seq = this._nextQueued();
    const idx = seq & this._mask;
    const length = this._length[idx]!;
    if (this.tokens < length) {
      if (this._blocked[idx] === 0) {
        this._blocked[idx] = 1;
        this.stats.retransmitSuppressedRate++;
      }
      return false;
    }
    this._unqueue(idx);
    this._blocked[idx] = 0;
    const rounds = this._rounds[idx]! + 1;
    if (rounds < 256) this._rounds[idx] = rounds;
    const copies = this.retransmitCopies + rounds - 1;
    const extra = (copies < MAX_RETRANSMIT_COPIES ? copies : MAX_RETRANSMIT_COPIES) - 1;
    for (let k = 1; k <= extra; k++) {
      if (this._cpLen === COPY_RING) break;
      // Keep the ring sorted by due time: later copies of earlier packets move back.
      const due = now + k * this.copySpacingMs;
      if (due >= this._firstSent[idx]! + this.deadlineMs) break; // would arrive too late
      let at = (this._cpHead + this._cpLen) & (COPY_RING - 1);
      let n = this._cpLen;
      while (n > 0) {
        const prev = (at - 1) & (COPY_RING - 1);
        if (this._cpDue[prev]! <= due) break;
        this._cpDue[at] = this._cpDue[prev]!;
        this._cpSeq[at] = this._cpSeq[prev]!;
        at = prev;
        n--;
      }
      this._cpSeq[at] = seq | 0;
      this._cpDue[at] = due;
      this._cpLen++;
    }
    this._emit(seq, now, out);
    return true;
  }

  private _cpPop(): void {
    this._cpHead = (this._cpHead + 1) & (COPY_RING - 1);
    this._cpLen--;
  }

  private _emit(seq: number, now: number, out: SentPacketView): void {
    const idx = seq & this._mask;
    const length = this._length[idx]!;
    this.tokens -= length;
    const tx = this._tx[idx]!;
    if (tx < 0xffff) this._tx[idx] = tx + 1;
    this._lastSent[idx] = now;
    out.seq = seq >>> 0;
    out.timestamp = this._timestamp[idx]!;
    out.flags = this._flags[idx]!;
    out.frameLength = this._frameLength[idx]!;
    out.payload = this._slots[idx]!;
    out.offset = 0;
    out.length = length;
    out.transmissions = this._tx[idx]!;
    out.firstSentAt = this._firstSent[idx]!;
    this.stats.retransmitted++;
    this.stats.retransmittedBytes += length;
  }

  /**
   * Moves up to `max` pending drop notices (oldest first) into `starts`/`counts` (caller-owned)
   * and forgets them. Each count is in [1, 65535]. Returns the number written.
   */
  copyDropRanges(starts: Uint32Array, counts: Uint32Array | Uint16Array, max: number): number {
    let n = 0;
    const cap = this._dropStart.length;
    while (n < max && this._dropLen > 0) {
      starts[n] = this._dropStart[this._dropHead]!;
      counts[n] = this._dropCount[this._dropHead]!;
      this._dropHead = (this._dropHead + 1) % cap;
      this._dropLen--;
      n++;
    }
    return n;
  }

  /** Pending drop-notice ranges. */
  get pendingDrops(): number {
    return this._dropLen;
  }

  /** Evicts every packet whose useful life has ended at `now` (`evictedExpired`). */
  expire(now: number): void {
    const mask = this._mask;
    const life = this.usefulLifeMs;
    while (this._held > 0 && this._firstSent[this._oldest & mask]! + life <= now) {
      this._evictOldest();
      this.stats.evictedExpired++;
    }
  }

  /**
   * Earliest time (ms) something needs doing: -Infinity when a retransmission can go out or
   * drop notices are pending, else the earlier of the next scheduled copy and the expiry of the
   * oldest packet (Infinity when empty).
   * A queued retransmission waiting for tokens does not count: only a send can refill them.
   */
  nextTimeout(): number {
    if (this._closed) return Number.POSITIVE_INFINITY;
    if (this._dropLen > 0) return Number.NEGATIVE_INFINITY;
    if (this._queuedCount > 0 && this.tokens >= this._length[this._nextQueued() & this._mask]!) return Number.NEGATIVE_INFINITY;
    if (this._held === 0) return Number.POSITIVE_INFINITY;
    const expiry = this._firstSent[this._oldest & this._mask]! + this.usefulLifeMs;
    if (this._cpLen === 0) return expiry;
    // A copy waiting for tokens is not a timer either (only a send refills them).
    const head = this._cpHead;
    if (this.tokens < this._length[this._cpSeq[head]! & this._mask]!) return expiry;
    return this._cpDue[head]! < expiry ? this._cpDue[head]! : expiry;
  }

  /** Releases every slot and returns occupancy and reservations to the account. Idempotent. */
  close(): void {
    if (this._closed) return;
    while (this._held > 0) this._evictOldest();
    this._closed = true;
    this._dropLen = 0;
    this._account.setSpanMs(0);
    this._account.unreserve(this._reserved);
  }

  /**
   * Reports the span to the account in whole milliseconds: a small integer stays unboxed
   * when passed to the (polymorphic) account, where a fractional double would allocate a
   * HeapNumber per packet.
   */
  private _reportSpan(): void {
    let span = 0;
    if (this._held >= 2) span = this._firstSent[(this._next - 1) & this._mask]! - this._firstSent[this._oldest & this._mask]!;
    this._account.setSpanMs((span + 0.5) | 0);
  }

  private _feed(length: number): void {
    this.stats.sentBytes += length;
    const t = this.tokens + length * this.retransmitShare;
    this.tokens = t > this.retransmitBurstBytes ? this.retransmitBurstBytes : t;
  }

  private _evictOldest(): void {
    const idx = this._oldest & this._mask;
    const length = this._length[idx]!;
    if (this._isQueued(idx)) this._unqueue(idx);
    if (this._pool !== null) {
      this._pool.release(this._slots[idx]!);
      this._slots[idx] = null;
    }
    this._oldest = _add(this._oldest, 1);
    if (this._gone < 0x7fff_ffff) this._gone++;
    this._held--;
    this._heldBytes -= length;
    this._account.use(-length, -1);
    this._reportSpan();
  }

  private _isQueued(idx: number): boolean {
    return (this._queued[idx >>> 5]! & (1 << (idx & 31))) !== 0;
  }

  private _unqueue(idx: number): void {
    this._queued[idx >>> 5]! &= ~(1 << (idx & 31));
    this._queuedCount--;
  }

  /** Oldest queued sequence (requires _queuedCount > 0); advances the scan cursor. */
  private _nextQueued(): number {
    const mask = this._mask;
    const q = this._queued;
    let s = seqDiff(this._oldest, this._cursor) > 0 ? this._cursor : this._oldest;
    for (;;) {
      const j = s & mask;
      const w = q[j >>> 5]!;
      if ((j & 31) === 0 && w === 0 && this.capacity >= 32) {
        s = (s + 32) | 0;
        continue;
      }
      if ((w & (1 << (j & 31))) !== 0) break;
      s = (s + 1) | 0;
    }
    this._cursor = s;
    return s;
  }

  private _nackRange(start: number, count: number, now: number, largestPn: number): void {
    start = start | 0;
    if (!(count > 0)) return;
    if (!this._started) {
      this.stats.nackInvalid++;
      return;
    }
    if (count > 0x7fff_ffff) count = 0x7fff_ffff;
    // Split [start, start+count) against: sent and gone [firstSeq, oldest), held [oldest, next),
    // never sent (everything else). Offsets are taken relative to `oldest`.
    const endOff = seqDiff(this._oldest, start) + count; // may exceed int32: plain number math
    const startOff = seqDiff(this._oldest, start);
    const heldLen = this._held;
    const goneLen = this._gone;
    // Gone part: offsets [-goneLen, 0).
    const gA = startOff > -goneLen ? startOff : -goneLen;
    const gB = endOff < 0 ? endOff : 0;
    if (gA < gB) this._dropNotice(_add(this._oldest, gA), gB - gA);
    // Held part: offsets [0, heldLen).
    const hA = startOff > 0 ? startOff : 0;
    const hB = endOff < heldLen ? endOff : heldLen;
    const valid = (gA < gB ? gB - gA : 0) + (hA < hB ? hB - hA : 0);
    if (hA < hB) {
      const mask = this._mask;
      const srtt = this.rtt.hasSample ? this.rtt.srtt : this.rtt.rto;
      const patience = this.rtt.hasSample ? this.rtt.srtt + 2 * this.rtt.rttvar : this.rtt.rto;
      for (let o = hA; o < hB; o++) {
        const seq = _add(this._oldest, o);
        const idx = seq & mask;
        if (this._isQueued(idx)) {
          this.stats.nackDuplicate++;
          continue;
        }
        // The first retransmission answers the first NACK at once; a later one a NACK written
        // after the previous copy could have arrived (largestPn, see onNack), or, failing that
        // proof (a sparse or bursty stream leaves the receiver nothing newer to show for a
        // while), one that comes srtt + 2 rttvar after it.
        if (
          this._tx[idx]! > 1 &&
          (largestPn >= 0 && this._pnKnown[idx] === 1
            ? seqDiff(largestPn, this._lastPn[idx]!) > 0 && now - this._lastSent[idx]! < patience
            : now - this._lastSent[idx]! < srtt)
        ) {
          this.stats.retransmitSuppressedRtt++;
          continue;
        }
        if (this._tx[idx] === 1) this.stats.firstNacked++;
        this._queued[idx >>> 5]! |= 1 << (idx & 31);
        this._queuedCount++;
        this._blocked[idx] = 0;
        if (this._queuedCount === 1 || seqDiff(this._cursor, seq) < 0) this._cursor = seq;
      }
    }
    if (valid < count) this.stats.nackInvalid++;
  }

  private _dropNotice(start: number, count: number): void {
    const cap = this._dropStart.length;
    if (count > MAX_RANGE_COUNT) count = MAX_RANGE_COUNT;
    // Already covered by a pending notice? (at most maxDropRanges entries; NACK path only)
    for (let k = 0; k < this._dropLen; k++) {
      const i = (this._dropHead + k) % cap;
      const ds = this._dropStart[i]!;
      const dc = this._dropCount[i]!;
      const off = seqDiff(ds, start);
      if (off >= 0 && off + count <= dc) return;
      // Extends it contiguously?
      if (off >= 0 && off <= dc && off + count <= MAX_RANGE_COUNT) {
        this._dropCount[i] = off + count > dc ? off + count : dc;
        this.stats.dropNoticed += off + count > dc ? off + count - dc : 0;
        return;
      }
    }
    if (this._dropLen === cap) {
      this.stats.dropNoticeOverflow++;
      return;
    }
    const i = (this._dropHead + this._dropLen) % cap;
    this._dropStart[i] = start;
    this._dropCount[i] = count;
    this._dropLen++;
    this.stats.dropNoticed += count;
  }

  private _rttSample(echo: number, now: number, ackDelayMs: number): void {
    const mask = this._mask;
    let s = _add(this._next, -1);
    let found = -1;
    let karn = false;
    const limit = this._held < ECHO_SCAN_LIMIT ? this._held : ECHO_SCAN_LIMIT;
    for (let k = 0; k < limit; k++) {
      const idx = s & mask;
      const d = seqDiff(echo, this._timestamp[idx]!);
      if (d < 0) break; // timestamps before the echo: no match further back
      if (d === 0) {
        if (found < 0) found = idx;
        if (this._tx[idx]! > 1) karn = true;
      }
      s = _add(s, -1);
    }
    if (found < 0) return;
    if (karn) {
      this.stats.rttKarnSkipped++;
      return;
    }
    const ms = now - this._firstSent[found]! - (ackDelayMs > 0 ? ackDelayMs : 0);
    // Whole microseconds as a small integer: no HeapNumber per ACK (see RttEstimator.onSampleUs).
    if (ms >= 0 && ms <= MAX_RTT_SAMPLE_MS) this.rtt.onSampleUs((ms * 1000 + 0.5) | 0);
    else this.rtt.rejected++;
  }
}

/**
 * `a + n` modulo 2^32 as a signed 32-bit integer: sequence numbers are kept in this form inside
 * the buffer (see the same helper in reorder-buffer.ts: a uint32 >= 2^31 crossing a call that
 * is not inlined is boxed into a HeapNumber). Public outputs are converted with `>>> 0`.
 */
function _add(a: number, n: number): number {
  return (a + n) | 0;
}

/** Copies `len` bytes (a whole-array source or a short range allocate nothing; a payload takes one view). */
function _copy(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  if (srcOff === 0 && len === src.length) {
    dst.set(src, dstOff);
    return;
  }
  // A payload is ~1.3 KB: a byte loop costs ~2.5 µs, a native copy through a short-lived view
  // ~0.1 µs (measured here; the view is one young-generation object, see ../bytes.ts).
  if (len > 64) {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
    return;
  }
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
}
