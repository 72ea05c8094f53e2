/**
 * The sender's bounded frame queue: frames the application handed over, waiting to be cut into
 * DATA packets as the pacer allows.
 *
 * Frames are copied into one preallocated byte ring (so the caller may reuse its buffer at once,
 * and the queue's memory is fixed and accounted); their metadata lives in a power-of-two ring of
 * typed arrays. A frame that does not fit is refused (`push` returns false), never queued: the
 * queue never grows. Packets are cut lazily (`cutInto`) so that the packet header, the
 * retransmission copy and the FEC symbol are all made at transmit time, in one pass.
 *
 * Pure and allocation-free per frame and per packet.
 */
import { checkInt } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount } from '../memory/types.js';
import { copyBytes } from '../bytes.js';

/** Fragment flags, as on the wire (spec/protocol.md, DATA flags). */
export const FRAG_FIRST = 0x01;
export const FRAG_LAST = 0x02;
export const FRAG_KEYFRAME = 0x08;

/** What `cutInto` tells about the fragment it wrote. Reused by the caller. */
export class Fragment {
  flags = 0;
  timestampUs = 0;
  frameLength = 0;
  length = 0;
}

export interface FrameQueueOptions {
  /** Byte capacity of the ring, in [1 KiB, 1 GiB]. Must hold the largest frame. */
  capacityBytes: number;
  /** Maximum frames queued at once (power of two is not required), in [1, 1 << 20]. */
  maxFrames?: number;
  account?: MemoryAccount;
}

export class FrameQueue {
  readonly capacityBytes: number;
  private readonly ring: Uint8Array;
  private readonly maxFrames: number;
  private readonly fStart: Float64Array;
  private readonly fLen: Uint32Array;
  private readonly fTs: Uint32Array;
  private readonly fFlags: Uint8Array;
  private fHead = 0;
  private fCount = 0;
  /** Write position in the byte ring. */
  private wpos = 0;
  /** Bytes queued (not yet cut). */
  private bytes = 0;
  /** Bytes already cut from the head frame. */
  private cut = 0;
  private readonly account: MemoryAccount;
  private readonly reserved: number;

  constructor(options: FrameQueueOptions) {
    this.capacityBytes = checkInt('capacityBytes', options.capacityBytes, 1024, 1 << 30);
    this.maxFrames = checkInt('maxFrames', options.maxFrames ?? 4096, 1, 1 << 20);
    this.account = options.account ?? DETACHED_ACCOUNT;
    this.reserved = this.capacityBytes + this.maxFrames * (8 + 4 + 4 + 1);
    this.account.reserve(this.reserved);
    this.account.setCapacity(this.capacityBytes, this.maxFrames);
    this.ring = new Uint8Array(this.capacityBytes);
    this.fStart = new Float64Array(this.maxFrames);
    this.fLen = new Uint32Array(this.maxFrames);
    this.fTs = new Uint32Array(this.maxFrames);
    this.fFlags = new Uint8Array(this.maxFrames);
  }

  /** Bytes waiting to be cut into packets. */
  get queuedBytes(): number {
    return this.bytes - this.cut;
  }

  /** Frames not completely cut yet. */
  get queuedFrames(): number {
    return this.fCount;
  }

  /** Free bytes. */
  get freeBytes(): number {
    return this.capacityBytes - this.bytes;
  }

  /**
   * Copies a frame in. Returns false (nothing queued) when the ring or the frame table is full.
   * @param timestampUs the frame's 32-bit media timestamp (us)
   * @param keyframe marks every fragment with the KEYFRAME flag
   */
  push(data: Uint8Array, offset: number, length: number, timestampUs: number, keyframe: boolean): boolean {
    if (length > this.capacityBytes - this.bytes || this.fCount === this.maxFrames) return false;
    const slot = (this.fHead + this.fCount) % this.maxFrames;
    this.fStart[slot] = this.wpos;
    this.fLen[slot] = length;
    this.fTs[slot] = timestampUs >>> 0;
    this.fFlags[slot] = keyframe ? FRAG_KEYFRAME : 0;
    const first = Math.min(length, this.capacityBytes - this.wpos);
    copyBytes(this.ring, this.wpos, data, offset, first);
    if (first < length) copyBytes(this.ring, 0, data, offset + first, length - first);
    this.wpos = (this.wpos + length) % this.capacityBytes;
    this.bytes += length;
    this.fCount++;
    this.account.use(length, 1);
    return true;
  }

  /**
   * Cuts the next fragment of at most `maxPayload` bytes into `out[offset..]` and describes it in
   * `frag`. Returns the payload length, or -1 when the queue is empty. A zero-length frame yields
   * one zero-length fragment flagged FIRST|LAST.
   */
  cutInto(out: Uint8Array, offset: number, maxPayload: number, frag: Fragment): number {
    if (this.fCount === 0) return -1;
    const slot = this.fHead;
    const flen = this.fLen[slot]!;
    const start = this.fStart[slot]!;
    const n = Math.min(maxPayload, flen - this.cut);
    const pos = (start + this.cut) % this.capacityBytes;
    const first = Math.min(n, this.capacityBytes - pos);
    copyBytes(out, offset, this.ring, pos, first);
    if (first < n) copyBytes(out, offset + first, this.ring, 0, n - first);
    let flags = this.fFlags[slot]!;
    if (this.cut === 0) flags |= FRAG_FIRST;
    this.cut += n;
    if (this.cut === flen) {
      flags |= FRAG_LAST;
      this.bytes -= flen;
      this.account.use(-flen, -1);
      this.cut = 0;
      this.fHead = (this.fHead + 1) % this.maxFrames;
      this.fCount--;
    }
    frag.flags = flags;
    frag.timestampUs = this.fTs[slot]!;
    frag.frameLength = flen;
    frag.length = n;
    return n;
  }

  /** Drops everything queued (on close). */
  clear(): void {
    this.account.use(-(this.bytes), -this.fCount);
    this.bytes = 0;
    this.cut = 0;
    this.fCount = 0;
    this.fHead = 0;
    this.wpos = 0;
  }

  /** Returns the memory to the account. */
  close(): void {
    this.clear();
    this.account.setCapacity(0, 0);
    this.account.unreserve(this.reserved);
  }
}
