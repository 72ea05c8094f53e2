/**
 * A constant-rate UDP source and a counting sink, the two ends of every transport under test
 * in bench/compare-srt.ts and bench/memory-100.ts.
 *
 * Datagram layout (1316 bytes by default, 7 MPEG-TS packets): bytes 0..7 the sequence number
 * (u64 big-endian, from 0), bytes 8..11 a check word derived from the sequence number, the
 * same word again in the last 4 bytes, 0x47 elsewhere. The sink counts unique sequence numbers
 * in a bitmap, duplicates, and datagrams whose length or check words are wrong (corrupt).
 */
import dgram, { type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';

/** Default datagram size: 7 x 188-byte TS packets, what UDP MPEG-TS carries. */
export const DATAGRAM_BYTES = 1316;
/** Socket buffers requested for source and sink (the kernel caps them at rmem_max/wmem_max). */
const SOCKET_BUFFER = 8 * 1024 * 1024;
/** Preallocated datagrams reused round-robin; never more than half of them queued in dgram. */
const RING = 8192;

function _check(seq: number): number {
  // A cheap 32-bit mix of the sequence number (any corruption of the checked bytes shows).
  let h = Math.imul(seq ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  return Math.imul(h, 0xc2b2ae35) >>> 0;
}

/**
 * Sends `size`-byte datagrams at a constant rate, paced in small batches from a 1 ms timer
 * (token bucket on the elapsed time: a late tick sends what is due, no catch-up cap).
 */
export class UdpSource {
  readonly size: number;
  private readonly _sock: Socket;
  private readonly _bufs: Buffer[];
  private _timer: NodeJS.Timeout | null = null;
  private _t0 = 0;
  private _pps = 0;
  private _due0 = 0;
  private _burstMs = 0;
  /** Next sequence number. */
  nextSeq = 0;
  /** Datagrams handed to the socket. */
  sent = 0;
  /** Ticks where dgram's queue was too long to send all that was due (the source fell behind). */
  stalls = 0;
  /** Send errors reported by the socket. */
  errors = 0;
  /** Datagrams sent in the current {@link start}..{@link stop} run, and its time span (ms). */
  runSent = 0;
  runMs = 0;

  private constructor(sock: Socket, size: number) {
    this._sock = sock;
    this.size = size;
    this._bufs = [];
    const slab = Buffer.alloc(RING * size, 0x47);
    for (let i = 0; i < RING; i++) this._bufs.push(slab.subarray(i * size, (i + 1) * size));
    sock.on('error', () => void this.errors++);
  }

  /** Opens a source sending to `host:port` (a connected UDP socket). */
  static async open(host: string, port: number, size = DATAGRAM_BYTES): Promise<UdpSource> {
    if (size < 16) throw new RangeError(`size: expected >= 16 bytes, got ${size}`);
    const sock = dgram.createSocket({ type: 'udp4', sendBufferSize: SOCKET_BUFFER });
    await new Promise<void>((r, j) => {
      sock.once('error', j);
      sock.bind(0, '127.0.0.1', () => {
        sock.off('error', j);
        r();
      });
    });
    await new Promise<void>((r, j) => {
      sock.once('error', j);
      sock.connect(port, host, () => {
        sock.off('error', j);
        r();
      });
    });
    try {
      sock.setSendBufferSize(SOCKET_BUFFER);
    } catch {
      // capped by the kernel
    }
    return new UdpSource(sock, size);
  }

  /**
   * Starts sending at `bitsPerSecond` (UDP payload bits). Restarting changes the rate. With
   * `burstMs` > 0 the same rate goes out in bursts, every `burstMs` what is due since the last
   * one (video: a frame's datagrams back to back every 40 ms).
   */
  start(bitsPerSecond: number, burstMs = 0): void {
    this.stop();
    this._pps = bitsPerSecond / 8 / this.size;
    this._burstMs = burstMs > 0 ? burstMs : 0;
    this._t0 = performance.now();
    this._due0 = 0;
    this.runSent = 0;
    this.runMs = 0;
    this._timer = setInterval(() => this._tick(), 1);
    this._tick();
  }

  /** Stops sending (what was handed to the socket still goes out). */
  stop(): void {
    if (this._timer === null) return;
    clearInterval(this._timer);
    this._timer = null;
    this.runMs = performance.now() - this._t0;
  }

  private _tick(): void {
    const elapsed = performance.now() - this._t0;
    const b = this._burstMs;
    const due = Math.floor(((b > 0 ? Math.floor(elapsed / b) * b : elapsed) * this._pps) / 1000) - this._due0;
    if (due <= 0) return;
    const s = this._sock;
    let n = 0;
    for (; n < due; n++) {
      // dgram copies nothing: a queued datagram is read later from our buffer. Keep the queue
      // below half the ring so a buffer is never rewritten while still queued.
      if (s.getSendQueueCount() >= RING / 2) {
        this.stalls++;
        break;
      }
      const seq = this.nextSeq++;
      const b = this._bufs[seq % RING]!;
      b.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 0);
      b.writeUInt32BE(seq >>> 0, 4);
      const c = _check(seq);
      b.writeUInt32BE(c, 8);
      b.writeUInt32BE(c, this.size - 4);
      s.send(b);
    }
    // What could not go now is dropped from the schedule (the source fell behind: counted).
    this._due0 += due;
    this.sent += n;
    this.runSent += n;
  }

  /** Closes the socket. */
  close(): Promise<void> {
    this.stop();
    return new Promise((r) => this._sock.close(() => r()));
  }
}

/** Counts unique sequence numbers of {@link UdpSource} datagrams. */
export class UdpSink {
  readonly port: number;
  private readonly _sock: Socket;
  private readonly _seen: Uint8Array;
  /** Datagrams received (all). */
  received = 0;
  /** Distinct sequence numbers received. */
  unique = 0;
  /** Bytes of the distinct datagrams. */
  uniqueBytes = 0;
  duplicates = 0;
  /** Wrong length or check words. */
  corrupt = 0;
  /** Sequence numbers beyond the bitmap (more than `capacity` sent). */
  outOfRange = 0;

  private constructor(sock: Socket, capacity: number, size: number) {
    this._sock = sock;
    this.port = sock.address().port;
    this._seen = new Uint8Array(capacity);
    sock.on('message', (m: Buffer) => this._onMessage(m, size));
  }

  /**
   * Binds a sink on 127.0.0.1 (port 0: any free port).
   * @param capacity largest number of sequence numbers tracked (one byte each).
   */
  static async open(capacity: number, size = DATAGRAM_BYTES, port = 0): Promise<UdpSink> {
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: SOCKET_BUFFER });
    await new Promise<void>((r, j) => {
      sock.once('error', j);
      sock.bind(port, '127.0.0.1', () => {
        sock.off('error', j);
        r();
      });
    });
    try {
      sock.setRecvBufferSize(SOCKET_BUFFER);
    } catch {
      // capped by the kernel
    }
    return new UdpSink(sock, capacity, size);
  }

  private _onMessage(m: Buffer, size: number): void {
    this.received++;
    if (m.length !== size) {
      this.corrupt++;
      return;
    }
    const seq = m.readUInt32BE(0) * 0x1_0000_0000 + m.readUInt32BE(4);
    const c = _check(seq);
    if (m.readUInt32BE(8) !== c || m.readUInt32BE(size - 4) !== c) {
      this.corrupt++;
      return;
    }
    if (seq >= this._seen.length) {
      this.outOfRange++;
      return;
    }
    if (this._seen[seq] !== 0) {
      this.duplicates++;
      return;
    }
    this._seen[seq] = 1;
    this.unique++;
    this.uniqueBytes += m.length;
  }

  /** Distinct sequence numbers received in [from, to). */
  uniqueIn(from: number, to: number): number {
    let n = 0;
    const end = Math.min(to, this._seen.length);
    for (let i = Math.max(0, from); i < end; i++) n += this._seen[i]!;
    return n;
  }

  /** Runs of missing sequence numbers in [from, to): count of runs and the longest. */
  gaps(from: number, to: number): { runs: number; longest: number } {
    let runs = 0;
    let longest = 0;
    let cur = 0;
    const end = Math.min(to, this._seen.length);
    for (let i = Math.max(0, from); i < end; i++) {
      if (this._seen[i] === 0) {
        if (cur === 0) runs++;
        cur++;
        if (cur > longest) longest = cur;
      } else cur = 0;
    }
    return { runs, longest };
  }

  /** Receive buffer size the kernel granted. */
  receiveBufferSize(): number {
    return this._sock.getRecvBufferSize();
  }

  close(): Promise<void> {
    return new Promise((r) => this._sock.close(() => r()));
  }
}
