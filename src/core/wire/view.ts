/**
 * `PacketView`: the reusable, allocation-free result of decoding one datagram.
 *
 * One view is created per endpoint (not per packet) and overwritten by every
 * {@link decodePacket} call. Every field of every packet type is initialised in the
 * constructor so the object keeps one hidden class (STYLE.md habit 4). Variable-length parts
 * are never copied: payload, symbol, nonces, cookie and CLOSE message are reported as offsets
 * into `view.buf` (the datagram passed to decode), valid until that buffer is reused. NACK/DROP
 * ranges land in typed arrays preallocated for the largest count that fits `maxDatagram`.
 */
import { checkInt } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount } from '../memory/types.js';
import {
  DEFAULT_MAX_DATAGRAM,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_MAX_DATAGRAM,
  MAX_MAX_FRAME_BYTES,
  MIN_MAX_DATAGRAM,
  maxRangesFor,
} from './constants.js';

/**
 * Session parameters carried by HELLO (the client's proposal) and ACCEPT (the negotiated
 * values). Plain numbers; see spec/protocol.md "Session parameters".
 */
export interface SessionParams {
  /** Receiver latency (delivery deadline after the sender timestamp), milliseconds, 0..65535. */
  latencyMs: number;
  /** Largest datagram the sender of this block accepts, bytes, 1200..65507. */
  maxDatagram: number;
  /** Largest frame, bytes, 1..2^32-1. */
  maxFrameBytes: number;
  /** FEC window (source packets per repair), 0 = FEC off, at most 255. */
  fecWindow: number;
  /** FEC step (source packets between repair rounds), 1..window (0 when FEC is off). */
  fecStep: number;
  /** Repair packets per step, 0..255. */
  fecRepairs: number;
  /** {@link SessionFlags} bits (ARQ, AEAD). */
  sessionFlags: number;
}

/** A mutable {@link SessionParams} record, preallocated inside a {@link PacketView}. */
export class SessionParamsView implements SessionParams {
  latencyMs = 0;
  maxDatagram = 0;
  maxFrameBytes = 0;
  fecWindow = 0;
  fecStep = 0;
  fecRepairs = 0;
  sessionFlags = 0;
}

/** Options of {@link PacketView}. */
export interface PacketViewOptions {
  /**
   * Largest datagram accepted by decode, bytes (default {@link DEFAULT_MAX_DATAGRAM} = 1400,
   * allowed 1200..65507). Longer datagrams decode as `OVERSIZED`. Also sizes the range arrays.
   */
  maxDatagram?: number;
  /** Largest DATA `frameLength` accepted, bytes (default 8 MiB, allowed 1..2^32-1). */
  maxFrameBytes?: number;
  /** Memory account charged for the range arrays (default: detached). */
  account?: MemoryAccount;
}

const EMPTY = new Uint8Array(0);

/**
 * The decoded fields of one packet. Which fields are meaningful depends on `type`; the others
 * keep whatever the last packet of their type left (or 0).
 *
 * Ownership: `buf` is the caller's datagram (not copied). Offsets are absolute indices into it.
 * @example
 * const view = new PacketView({ maxDatagram: 1400 });
 * if (decodePacket(view, datagram, 0, n) === DecodeStatus.OK && view.type === PacketType.DATA) {
 *   consume(view.buf, view.payloadOffset, view.payloadLength);
 * }
 */
export class PacketView {
  /** Decode limit: datagram bytes. */
  readonly maxDatagram: number;
  /** Decode limit: DATA frameLength bytes. */
  readonly maxFrameBytes: number;
  /** Capacity of the range arrays: `floor((maxDatagram - 30) / 6)`. */
  readonly maxRanges: number;

  // ---- common header
  /** The datagram decoded last (not copied). */
  buf: Uint8Array = EMPTY;
  /** Index of the first byte of the packet in `buf`. */
  offset = 0;
  /** Datagram length in bytes (header + body + tag). */
  length = 0;
  /** Header version byte. */
  version = 0;
  /** {@link PacketType} code. */
  type = 0;
  /**
   * Flags byte. `peekHeader` leaves it as received; `decodePacket` masks it to the bits defined
   * for the type (DATA: FIRST/LAST/RETRANSMIT/KEYFRAME; HELLO: COOKIE; others: none), since
   * undefined flag bits are ignored on receive.
   */
  flags = 0;
  /** Destination connection id (u32). */
  connId = 0;
  /** Packet number (u32). */
  packetNumber = 0;
  /** Index in `buf` of the 16-byte tag (`offset + length - 16`). */
  tagOffset = 0;

  // ---- DATA (timestamp is shared with HELLO/ACCEPT/KEEPALIVE)
  /** DATA seq (u32, RFC 1982). */
  seq = 0;
  /** Sender clock in microseconds since the connection epoch (u32, wraps): DATA, KEEPALIVE, HELLO, ACCEPT. */
  timestamp = 0;
  /** DATA: total bytes of the frame the fragment belongs to. */
  frameLength = 0;
  /** DATA: index of the payload in `buf`. */
  payloadOffset = 0;
  /** DATA: payload bytes. */
  payloadLength = 0;

  // ---- REPAIR
  /** REPAIR: first source seq covered. */
  windowStart = 0;
  /** REPAIR: source packets covered (1..255). */
  windowLength = 0;
  /** REPAIR: Cauchy row selector. */
  repairIndex = 0;
  /** REPAIR: index of the symbol in `buf`. */
  symbolOffset = 0;
  /** REPAIR: symbol bytes. */
  symbolLength = 0;

  // ---- ACK (echoTimestamp shared with KEEPALIVE/COOKIE/ACCEPT/REJECT)
  /** ACK: next expected seq. */
  ackSeq = 0;
  /**
   * Echo of the peer's timestamp (u32 microseconds). ACK: the newest DATA timestamp.
   * KEEPALIVE: the peer's last KEEPALIVE timestamp advanced by the time it was held (0 = none).
   */
  echoTimestamp = 0;
  /** ACK: microseconds the receiver held the echoed packet before acknowledging. */
  ackDelayUs = 0;
  /** ACK: receive rate, packets per second. */
  recvRatePps = 0;
  /** ACK: free receive-buffer space, packets. */
  bufferFreePackets = 0;

  // ---- KEEPALIVE
  /**
   * KEEPALIVE: the sender's next DATA seq (u32, RFC 1982): one past the highest seq it has sent,
   * 0 before any DATA. Seqs in `[highest received + 1, nextSeq)` are missing (a lost tail).
   */
  nextSeq = 0;

  // ---- NACK / DROP
  /** Low 32 bits of the highest packet index the writer had received from its peer. */
  largestPn = 0;
  /** Number of valid entries in `rangeStarts`/`rangeLengths`. */
  rangeCount = 0;
  /** NACK/DROP range starts (seq). Entries past `rangeCount` are stale. */
  readonly rangeStarts: Uint32Array;
  /** NACK/DROP range lengths (1..65535). */
  readonly rangeLengths: Uint16Array;

  // ---- CLOSE / REJECT
  /** CLOSE or REJECT reason code. */
  reason = 0;
  /** CLOSE: index of the UTF-8 message in `buf`. */
  messageOffset = 0;
  /** CLOSE: message bytes. */
  messageLength = 0;

  // ---- handshake (HELLO, COOKIE, ACCEPT, REJECT)
  /** HELLO/REJECT: lowest version supported by the sender. */
  minVersion = 0;
  /** HELLO/REJECT: highest version supported by the sender. */
  maxVersion = 0;
  /** ACCEPT: the version chosen for the session. */
  chosenVersion = 0;
  /** HELLO/ACCEPT: the sender's own connection id (the peer puts it in `connId`). */
  sourceConnId = 0;
  /** HELLO/COOKIE/ACCEPT/REJECT: index of the client nonce (16 bytes) in `buf`. */
  clientNonceOffset = 0;
  /** ACCEPT: index of the server nonce (16 bytes) in `buf`. */
  serverNonceOffset = 0;
  /** HELLO/COOKIE: index of the cookie (32 bytes) in `buf` (meaningful in a HELLO only with the COOKIE flag). */
  cookieOffset = 0;
  /** HELLO: padding bytes after the fixed fields. */
  paddingLength = 0;
  /** HELLO/ACCEPT: session parameter block. */
  readonly params: SessionParamsView;

  private readonly _account: MemoryAccount;
  private _reserved: number;

  /**
   * @throws SluiceRangeError when `maxDatagram` or `maxFrameBytes` is outside its range.
   */
  constructor(options: PacketViewOptions = {}) {
    this.maxDatagram = checkInt(
      'maxDatagram',
      options.maxDatagram ?? DEFAULT_MAX_DATAGRAM,
      MIN_MAX_DATAGRAM,
      MAX_MAX_DATAGRAM,
    );
    this.maxFrameBytes = checkInt('maxFrameBytes', options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 1, MAX_MAX_FRAME_BYTES);
    this.maxRanges = maxRangesFor(this.maxDatagram);
    this._account = options.account ?? DETACHED_ACCOUNT;
    const bytes = this.maxRanges * 6;
    this._account.reserve(bytes);
    this._reserved = bytes;
    this.rangeStarts = new Uint32Array(this.maxRanges);
    this.rangeLengths = new Uint16Array(this.maxRanges);
    this.params = new SessionParamsView();
  }

  /** Returns the bytes reserved for the range arrays to the account. Idempotent. */
  dispose(): void {
    if (this._reserved !== 0) {
      this._account.unreserve(this._reserved);
      this._reserved = 0;
    }
    this.buf = EMPTY;
  }
}
