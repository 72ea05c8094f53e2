/**
 * Receiver-side frame reassembly: in-order DATA packets (from the ReorderBuffer, after FEC and
 * retransmission did what they could) become whole frames; a lost packet loses exactly the frame
 * it belonged to, and the stream resumes at the next FIRST fragment.
 *
 * A frame's buffer is allocated once, at its FIRST fragment, with the length announced in the
 * header (validated against `maxFrameBytes`), and handed to the application when complete: that
 * is the one allocation per frame (the frame is the application's data). While a frame is being
 * assembled its bytes are charged to the account.
 */
import { checkInt } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount } from '../memory/types.js';
import { seqAdd } from '../seq.js';
import { copyBytes } from '../bytes.js';
import { FRAG_FIRST, FRAG_KEYFRAME, FRAG_LAST } from './frame-queue.js';

/** Result of {@link FrameAssembler.push}. */
export const AssemblyStatus = {
  /** Fragment stored; the frame is not complete yet. */
  PROGRESS: 0,
  /** A frame is complete: read it from `assembler.frame`. */
  FRAME: 1,
  /** Fragment ignored while skipping to the next FIRST fragment after a loss. */
  SKIPPED: 2,
  /** Fragment inconsistent with its frame (length, flags): the frame is dropped and reported lost. */
  INCONSISTENT: 3,
  /** FIRST fragment announcing a frame above maxFrameBytes: dropped and reported lost. */
  OVERSIZED: 4,
} as const;
export type AssemblyStatus = (typeof AssemblyStatus)[keyof typeof AssemblyStatus];

/** A completed frame; the `data` buffer belongs to the receiver of the event. */
export interface AssembledFrame {
  data: Uint8Array;
  /** Sender media time, ms (unwrapped). */
  timestampMs: number;
  keyframe: boolean;
  firstSeq: number;
  lastSeq: number;
}

/** A frame (or a run of fragments) reported lost. */
export interface LostFrame {
  firstSeq: number;
  /** Sequence numbers covered, from firstSeq. */
  count: number;
  reason: 'loss' | 'inconsistent' | 'oversized';
}

export class FrameAssembler {
  private readonly maxFrameBytes: number;
  private readonly account: MemoryAccount;
  private buf: Uint8Array | null = null;
  private filled = 0;
  private frameLength = 0;
  private firstSeq = 0;
  private timestampMs = 0;
  private keyframe = false;
  private skipping = false;
  /** The frame completed by the last push that returned FRAME. */
  frame: AssembledFrame | null = null;
  /** Set when push/lost reports a lost frame. */
  lostFrame: LostFrame | null = null;
  framesDelivered = 0;
  framesLost = 0;
  inconsistent = 0;
  oversized = 0;

  constructor(options: { maxFrameBytes: number; account?: MemoryAccount }) {
    this.maxFrameBytes = checkInt('maxFrameBytes', options.maxFrameBytes, 1, 1 << 30);
    this.account = options.account ?? DETACHED_ACCOUNT;
  }

  /** True while a frame is partly assembled. */
  get inProgress(): boolean {
    return this.buf !== null;
  }

  /** Bytes held by the partial frame. */
  get heldBytes(): number {
    return this.buf === null ? 0 : this.buf.length;
  }

  private dropPartial(): void {
    if (this.buf !== null) {
      this.account.use(-this.buf.length, -1);
      this.buf = null;
    }
    this.filled = 0;
  }

  private reportLost(firstSeq: number, count: number, reason: LostFrame['reason']): void {
    this.framesLost++;
    this.lostFrame = { firstSeq, count, reason };
  }

  /**
   * Consumes the next in-order packet. Sets `frame` when it completes one, `lostFrame` when the
   * packet reveals one lost (a FIRST arriving mid-frame, an inconsistent fragment).
   */
  push(
    seq: number,
    flags: number,
    timestampMs: number,
    frameLength: number,
    payload: Uint8Array,
    offset: number,
    length: number,
  ): AssemblyStatus {
    this.frame = null;
    this.lostFrame = null;
    if ((flags & FRAG_FIRST) !== 0) {
      if (this.buf !== null) {
        // A new frame starts before the previous one ended: its tail was lost without a gap in
        // sequence numbers, which a correct sender never produces.
        this.inconsistent++;
        this.reportLost(this.firstSeq, (seq - this.firstSeq) >>> 0, 'inconsistent');
        this.dropPartial();
      }
      this.skipping = false;
      if (frameLength > this.maxFrameBytes || length > frameLength) {
        this.oversized++;
        this.skipping = true;
        this.reportLost(seq, 1, frameLength > this.maxFrameBytes ? 'oversized' : 'inconsistent');
        return AssemblyStatus.OVERSIZED;
      }
      this.firstSeq = seq;
      this.frameLength = frameLength;
      this.timestampMs = timestampMs;
      this.keyframe = (flags & FRAG_KEYFRAME) !== 0;
      this.buf = new Uint8Array(frameLength);
      this.account.use(frameLength, 1);
      this.filled = 0;
    } else if (this.buf === null) {
      this.skipping = true;
      return AssemblyStatus.SKIPPED;
    } else if (frameLength !== this.frameLength) {
      this.inconsistent++;
      this.reportLost(this.firstSeq, (seq - this.firstSeq + 1) >>> 0, 'inconsistent');
      this.dropPartial();
      this.skipping = true;
      return AssemblyStatus.INCONSISTENT;
    }
    const buf = this.buf!;
    if (this.filled + length > this.frameLength) {
      this.inconsistent++;
      this.reportLost(this.firstSeq, (seq - this.firstSeq + 1) >>> 0, 'inconsistent');
      this.dropPartial();
      this.skipping = true;
      return AssemblyStatus.INCONSISTENT;
    }
    copyBytes(buf, this.filled, payload, offset, length);
    this.filled += length;
    if ((flags & FRAG_LAST) !== 0) {
      if (this.filled !== this.frameLength) {
        this.inconsistent++;
        this.reportLost(this.firstSeq, (seq - this.firstSeq + 1) >>> 0, 'inconsistent');
        this.dropPartial();
        return AssemblyStatus.INCONSISTENT;
      }
      this.account.use(-buf.length, -1);
      this.buf = null;
      this.framesDelivered++;
      this.frame = {
        data: buf,
        timestampMs: this.timestampMs,
        keyframe: this.keyframe,
        firstSeq: this.firstSeq,
        lastSeq: seq,
      };
      return AssemblyStatus.FRAME;
    }
    return AssemblyStatus.PROGRESS;
  }

  /**
   * Sequences `[from, from + count)` were lost for good (too late, dropped by the sender). The
   * partial frame, if any, is lost with them and reported (its range runs to the end of the gap);
   * fragments up to the next FIRST are skipped. Returns true when a frame was reported lost.
   */
  lost(from: number, count: number): boolean {
    this.frame = null;
    this.lostFrame = null;
    if (this.buf !== null) {
      const first = this.firstSeq;
      this.dropPartial();
      this.skipping = true;
      this.reportLost(first, (seqAdd(from, count) - first) >>> 0, 'loss');
      return true;
    }
    if (!this.skipping) {
      this.skipping = true;
      this.reportLost(from, count, 'loss');
      return true;
    }
    return false;
  }

  /** Releases the partial frame (on close). */
  close(): void {
    this.dropPartial();
  }
}
