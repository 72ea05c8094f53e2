/**
 * The demo's synthetic media stream: frames at a fixed rate whose sizes follow a video encoder's
 * shape (a keyframe several times the size of the others at a fixed interval, every size varied
 * by a seeded PRNG), each carrying its send time, its index and a seeded byte pattern so the
 * receiver measures end-to-end latency and verifies every byte.
 *
 * Frame layout (little-endian): `sendTimeMs f64 | index u32 | length u32 | pattern...`, where
 * the pattern is a xorshift32 sequence seeded by (stream seed, index).
 */
import { SeededRandom } from '../core/random.js';

/** Bytes before the pattern: send time (8), index (4), length (4). */
export const FRAME_HEADER_BYTES = 16;

/** Shape of the synthetic stream. */
export interface StreamShape {
  /** Frames per second, (0, 1000]. */
  readonly fps: number;
  /** Mean bitrate, bits/s. */
  readonly bitrateBps: number;
  /** Seconds between keyframes. */
  readonly keyframeIntervalS: number;
  /** Keyframe size / mean other frame size. */
  readonly keyframeRatio: number;
  /** Relative size variation of a frame, uniform in [1 - v, 1 + v], [0, 0.9]. */
  readonly variation: number;
}

/** Default: 25 fps, 6 Mbit/s, a keyframe 5x the size every 2 s, +-30% per frame. */
export const DEFAULT_STREAM_SHAPE: Readonly<StreamShape> = Object.freeze({
  fps: 25,
  bitrateBps: 6_000_000,
  keyframeIntervalS: 2,
  keyframeRatio: 5,
  variation: 0.3,
});

/** Result of {@link SyntheticStream.verify}. */
export interface VerifyResult {
  readonly ok: boolean;
  readonly index: number;
  readonly sendTimeMs: number;
  /** What is wrong when not ok. */
  readonly problem: string;
}

/**
 * Generates and verifies the frames of one stream.
 * @example
 * const s = new SyntheticStream(DEFAULT_STREAM_SHAPE, 1);
 * const { size, keyframe } = s.nextFrame(0);
 * const f = new Uint8Array(size); s.fill(f, 0, performance.now());
 * s.verify(f).ok === true
 */
export class SyntheticStream {
  readonly shape: Readonly<StreamShape>;
  readonly seed: number;
  /** Frames between keyframes. */
  readonly gop: number;
  /** Mean size of a non-key frame, bytes. */
  readonly meanFrameBytes: number;
  private readonly _rng: SeededRandom;

  constructor(shape: Readonly<StreamShape> = DEFAULT_STREAM_SHAPE, seed = 1) {
    this.shape = shape;
    this.seed = seed >>> 0;
    this.gop = Math.max(1, Math.round(shape.fps * shape.keyframeIntervalS));
    const gopBytes = (shape.bitrateBps / 8) * (this.gop / shape.fps);
    this.meanFrameBytes = gopBytes / (this.gop - 1 + shape.keyframeRatio);
    this._rng = new SeededRandom(this.seed).derive('frame-sizes');
  }

  /** Size and keyframe flag of the next frame (call once per frame, in order). */
  nextFrame(index: number): { size: number; keyframe: boolean } {
    const keyframe = index % this.gop === 0;
    const v = this.shape.variation;
    const mean = keyframe ? this.meanFrameBytes * this.shape.keyframeRatio : this.meanFrameBytes;
    const size = Math.max(FRAME_HEADER_BYTES + 16, Math.round(mean * this._rng.uniform(1 - v, 1 + v)));
    return { size, keyframe };
  }

  /** Writes the header and pattern of frame `index` into `frame` (its whole length). */
  fill(frame: Uint8Array, index: number, sendTimeMs: number): void {
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    dv.setFloat64(0, sendTimeMs, true);
    dv.setUint32(8, index >>> 0, true);
    dv.setUint32(12, frame.length >>> 0, true);
    let x = this._patternSeed(index);
    for (let i = FRAME_HEADER_BYTES; i < frame.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      frame[i] = x & 0xff;
    }
  }

  /** Checks a received frame: header consistent and every pattern byte as generated. */
  verify(frame: Uint8Array): VerifyResult {
    if (frame.length < FRAME_HEADER_BYTES) return { ok: false, index: -1, sendTimeMs: 0, problem: `short frame (${frame.length} bytes)` };
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const sendTimeMs = dv.getFloat64(0, true);
    const index = dv.getUint32(8, true);
    const length = dv.getUint32(12, true);
    if (length !== frame.length) return { ok: false, index, sendTimeMs, problem: `length ${frame.length} != ${length} in its header` };
    let x = this._patternSeed(index);
    for (let i = FRAME_HEADER_BYTES; i < frame.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (frame[i] !== (x & 0xff)) return { ok: false, index, sendTimeMs, problem: `byte ${i} differs` };
    }
    return { ok: true, index, sendTimeMs, problem: '' };
  }

  private _patternSeed(index: number): number {
    // Any non-zero 32-bit state works for xorshift32; mix seed and index so frames differ.
    const s = (Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(this.seed + 0x632be5ab, 0x85ebca6b)) | 0;
    return s === 0 ? 0x1234567 : s;
  }
}
