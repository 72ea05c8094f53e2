/**
 * The sender's bounded frame queue: frames the application handed over, waiting to be cut into
 * DATA packets as the pacer allows.
 *
 * Frames are held by reference, not copied, exactly like `dgram.Socket.send()` holds its buffer:
 * the caller must not modify a frame's bytes until the connection has cut it (the `frame-sent`
 * accounting below says when; the Node layer's write callback fires then). This keeps a
 * connection's fixed memory small whatever `maxFrameBytes` is (8 MiB by default), while the
 * queue stays bounded: `push` refuses a frame beyond `limitBytes` or `maxFrames`, it never grows.
 * The bytes held are reported to the account as used (they are the application's memory, held
 * on its behalf), the metadata rings as reserved.
 *
 * Packets are cut lazily (`cutInto`) so that the packet header, the retransmission copy and the
 * FEC symbol are all made at transmit time, in one pass. Pure; allocation-free per packet.
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
  /** Most bytes queued at once (frames not yet completely cut), in [1 KiB, 2^32 - 1]. */
  limitBytes: number;
  /** Most frames queued at once, in [1, 1 << 20]. */
  maxFrames?: number;
  account?: MemoryAccount;
}

/** Default frame table size. */
export const DEFAULT_MAX_QUEUED_FRAMES = 1024;

export class FrameQueue {
  readonly limitBytes: number;
  private readonly maxFrames: number;
  private readonly fData: (Uint8Array | null)[];
  private readonly fOff: Uint32Array;
  private readonly fLen: Uint32Array;
  private readonly fTs: Uint32Array;
  private readonly fFlags: Uint8Array;
  private fHead = 0;
  private fCount = 0;
  /** Bytes queued (not yet cut), including the uncut part of the head frame. */
  private bytes = 0;
  /** Bytes already cut from the head frame. */
  private cut = 0;
  private readonly account: MemoryAccount;
  private readonly reserved: number;

  constructor(options: FrameQueueOptions) {
    this.limitBytes = checkInt('limitBytes', options.limitBytes, 1024, 0xffff_ffff);
    this.maxFrames = checkInt('maxFrames', options.maxFrames ?? DEFAULT_MAX_QUEUED_FRAMES, 1, 1 << 20);
    this.account = options.account ?? DETACHED_ACCOUNT;
    // 8 bytes per reference slot plus the typed-array columns.
    this.reserved = this.maxFrames * (8 + 4 + 4 + 4 + 1);
    this.account.reserve(this.reserved);
    this.account.setCapacity(this.limitBytes, this.maxFrames);
    this.fData = new Array<Uint8Array | null>(this.maxFrames).fill(null);
    this.fOff = new Uint32Array(this.maxFrames);
    this.fLen = new Uint32Array(this.maxFrames);
    this.fTs = new Uint32Array(this.maxFrames);
    this.fFlags = new Uint8Array(this.maxFrames);
  }

  /** Bytes waiting to be cut into packets. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Frames not completely cut yet. */
  get queuedFrames(): number {
    return this.fCount;
  }

  /** The media timestamp (us, 32-bit wire clock) of the oldest queued frame; 0 when empty. */
  get headTimestampUs(): number {
    return this.fCount === 0 ? 0 : this.fTs[this.fHead]!;
  }

  /** True when the head frame has not been cut at all yet (it can be dropped whole). */
  get headUntouched(): boolean {
    return this.fCount > 0 && this.cut === 0;
  }

  /** Drops the head frame if none of it was sent yet. Returns its length, or -1. */
  dropHead(): number {
    if (this.fCount === 0 || this.cut !== 0) return -1;
    const slot = this.fHead;
    const len = this.fLen[slot]!;
    this.fData[slot] = null;
    this.bytes -= len;
    this.account.use(-len, -1);
    this.fHead = (this.fHead + 1) % this.maxFrames;
    this.fCount--;
    return len;
  }

  /** Bytes that may still be queued. */
  get freeBytes(): number {
    return this.limitBytes - this.bytes;
  }

  /**
   * Queues a frame by reference. Returns false (nothing queued) when it would pass
   * `limitBytes` or the frame table is full.
   * @param timestampUs the frame's 32-bit media timestamp (us)
   * @param keyframe marks every fragment with the KEYFRAME flag
   */
  push(data: Uint8Array, offset: number, length: number, timestampUs: number, keyframe: boolean): boolean {
    if (length > this.limitBytes - this.bytes || this.fCount === this.maxFrames) return false;
    const slot = (this.fHead + this.fCount) % this.maxFrames;
    this.fData[slot] = data;
    this.fOff[slot] = offset;
    this.fLen[slot] = length;
    this.fTs[slot] = timestampUs >>> 0;
    this.fFlags[slot] = keyframe ? FRAG_KEYFRAME : 0;
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
    const n = Math.min(maxPayload, flen - this.cut);
    copyBytes(out, offset, this.fData[slot]!, this.fOff[slot]! + this.cut, n);
    let flags = this.fFlags[slot]!;
    if (this.cut === 0) flags |= FRAG_FIRST;
    this.cut += n;
    this.bytes -= n;
    this.account.use(-n, 0);
    if (this.cut === flen) {
      flags |= FRAG_LAST;
      this.account.use(0, -1);
      this.fData[slot] = null;
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
    this.account.use(-this.bytes, -this.fCount);
    this.fData.fill(null);
    this.bytes = 0;
    this.cut = 0;
    this.fCount = 0;
    this.fHead = 0;
  }

  /** Returns the memory to the account. */
  close(): void {
    this.clear();
    this.account.setCapacity(0, 0);
    this.account.unreserve(this.reserved);
  }
}
