/**
 * Connection options: one object, defaults as named constants, validated once
 * (STYLE.md habit 9). Every buffer bound is derived here from `latency x bitrate`.
 */
import { checkInt, checkNumber, SluiceRangeError, SluiceTypeError } from '../errors.js';
import { pskBytes } from '../auth/keys.js';
import {
  DATA_OVERHEAD,
  DEFAULT_MAX_DATAGRAM,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_MAX_DATAGRAM,
  MIN_MAX_DATAGRAM,
} from '../wire/constants.js';

/** Default receiver latency (delivery deadline after the sender's timestamp), ms. */
export const DEFAULT_LATENCY_MS = 120;
/** Default expected stream bitrate, used to size the buffers: 20 Mbit/s. */
export const DEFAULT_EXPECTED_RATE_BPS = 20_000_000;
/** Default pacing ceiling: 1 Gbit/s (the pacer smooths bursts; set it to the link rate). */
export const DEFAULT_MAX_RATE_BPS = 1_000_000_000;
/** Default keepalive interval when idle, ms. */
export const DEFAULT_KEEPALIVE_MS = 1000;
/** Default RTT probe interval, ms. */
export const DEFAULT_RTT_PROBE_MS = 250;
/** Default idle timeout: nothing heard from the peer for this long closes the connection, ms. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
/** Default handshake timeout, ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * Default ACK interval, ms. SRT sends a full ACK every 10 ms; 20 ms halves the ACK bytes (0.19%
 * of a 10 Mbit/s stream) with no measurable change in recovery: losses are reported by NACKs,
 * and the send buffer releases packets by age as well as by ACK (bench/sim-recovery.ts).
 */
export const DEFAULT_ACK_INTERVAL_MS = 20;

/** FEC configuration: window W, step N, repairs R (see spec/fec.md). */
export interface FecOptions {
  /** Source packets covered by each repair, in [1, 128]. */
  window: number;
  /** Source packets between repair emissions, in [1, window]. */
  step: number;
  /** Repairs per emission, in [1, 128 / ceil(window / step)]. */
  repairs: number;
}

/**
 * Default FEC: one repair every 32 packets over a sliding window of 64 (3.1% overhead): every
 * packet is covered by two repairs, so isolated losses are rebuilt within a few milliseconds
 * with no round trip, and ARQ repairs the rest. Chosen on the simulated 10 Mbit/s, 20 ms,
 * 120 ms-latency link (test/core/connection, bench/e2e): no residual loss at 5% and 10% random
 * loss with 7.6% and 13.9% total overhead.
 */
export const DEFAULT_FEC: Readonly<FecOptions> = Object.freeze({ window: 64, step: 32, repairs: 1 });

/**
 * The FEC a session negotiates by default wherever {@link DEFAULT_FEC} fits: two repairs every
 * 64 packets over a window of 128, the same 3.1%. The sender uses it where 128 packets fit the
 * latency at the rate it actually sends (from about 18 Mbit/s at 120 ms) and 64/32/1 below
 * (`Connection.fitFecGeometry`), so a window spans about as much time at any rate. Measured in virtual time at 20
 * Mbit/s, 21 +- 3 ms, 120 ms (6 seeds x 10 s): residual loss at 20% 0.132% -> 0.031%, at 10%
 * 6 -> 0 packets, Gilbert-Elliott 0.075% -> 0.099%, same overhead. At 10 Mbit/s a 128-packet
 * window (135 ms) does worse than 64 at random loss (20%: 0.155% against 0.039%).
 */
export const DEFAULT_FEC_LONG: Readonly<FecOptions> = Object.freeze({ window: 128, step: 64, repairs: 2 });

/**
 * Default `fecMinLoss`: repairs go out while the forward loss the sender measures is at least
 * 5%, and stop when it falls under 3% ({@link FEC_OFF_SHARE} of it). Below that, retransmission
 * alone loses nothing within a 120 ms budget on a 40 ms round trip, and repairs only cost bytes
 * and CPU: on the simulated 10 Mbit/s, 21 +- 3 ms link (bench/sim-recovery.ts, 4 seeds x 20 s),
 * ARQ alone lost 0 of 75,984 frames at 1% and 3% loss and 3 at 7%; FEC cost 3.2 points of total
 * overhead at 0% loss (6.5% against 3.3%) and 2.8-3 points at 1-5%.
 */
export const DEFAULT_FEC_MIN_LOSS = 0.05;
/** Repairs stop when the measured loss falls under this share of `fecMinLoss` (hysteresis). */
export const FEC_OFF_SHARE = 0.6;

export interface ConnectionOptions {
  /** Pre-shared key (string, UTF-8, or bytes), at least 16 bytes. Required. */
  key: string | Uint8Array;
  /** Receiver latency budget in ms, in [20, 60_000]. Default 120. */
  latencyMs?: number;
  /** Largest datagram sent, bytes, in [1200, 65507]. Default 1400. */
  maxDatagram?: number;
  /** Largest frame, bytes, in [1, 256 MiB]. Default 8 MiB. */
  maxFrameBytes?: number;
  /**
   * FEC configuration, or false to disable FEC. Default: {@link defaultFecFor} the expected rate
   * and latency ({@link DEFAULT_FEC} at 10 Mbit/s and 120 ms; none at 2 Mbit/s, where a 64-packet
   * window would outlast the latency).
   */
  fec?: FecOptions | false;
  /**
   * Send repairs only while the forward loss this side measures (sequences the peer NACKs for
   * the first time / original DATA sent, smoothed over about 2 s) is at least this share, in
   * [0, 1]; they stop under 0.6 x it. 0: always, as configured. A connection starts with
   * repairs on and turns them off after about a second on a clean link. The wire format and the
   * receiver are unchanged: the FEC negotiated in the handshake is the most a sender sends.
   * Ignored when ARQ is off or has no budget (`retransmitShare` 0): repairs are then the only
   * recovery and always go out. Default {@link DEFAULT_FEC_MIN_LOSS} (5%) with the default FEC,
   * 0 (always) when `fec` is given explicitly.
   */
  fecMinLoss?: number;
  /** Selective retransmission (NACK/DROP). Default true. */
  arq?: boolean;
  /** 'hmac' (authenticate) or 'aead' (authenticate and encrypt payloads). Default 'hmac'. */
  auth?: 'hmac' | 'aead';
  /** Pacing ceiling, bits/s, in [64k, 10G]. Default 1 Gbit/s. */
  maxRateBps?: number;
  /** Expected stream bitrate, bits/s, in [64k, 10G]: sizes the buffers. Default 20 Mbit/s. */
  expectedRateBps?: number;
  /** Most bytes of frames queued for sending (held by reference), >= maxFrameBytes. Default 2 x maxFrameBytes. */
  sendQueueBytes?: number;
  /** Retransmission budget as a share of the original send rate, in [0, 4]. Default 1 (100%). */
  retransmitShare?: number;
  /** Keepalive interval, ms, in [50, 60_000]. */
  keepaliveMs?: number;
  /** Idle timeout, ms, in [200, 3_600_000]. */
  idleTimeoutMs?: number;
  /** Handshake timeout, ms, in [100, 120_000]. */
  handshakeTimeoutMs?: number;
  /** Receive (reorder) capacity in packets, a power of two in [16, 1 << 20]; derived by default. */
  receiveCapacity?: number;
  /** Send (retransmission) buffer byte cap; derived by default. */
  sendBufferBytes?: number;
}

/**
 * Burst allowance of the derived receive capacity and send-buffer cap, ms of the expected rate.
 * A video keyframe arrives at the pacing rate, many times the average: both buffers must hold
 * it together with a latency of the ordinary stream, or the receiver slides its window over
 * packets it already holds and the sender evicts packets it will be asked for. Measured in
 * virtual time with the soak's stream (20 Mbit/s, 25 fps, a 500 kB keyframe every 2 s, 4% loss
 * plus bursts, 120 ms): sized from latency x rate alone (512 packets) the receiver lost 3,718 of
 * 76,900 packets, all slid over; with 4,096 packets and a 3 MB send cap, 1. Encoders keep
 * keyframes within their VBV buffer, typically 0.5-1 s of the stream.
 */
export const BURST_ALLOWANCE_MS = 1000;

/** Options after validation and derivation: every field present. */
export interface ResolvedOptions {
  readonly psk: Uint8Array;
  readonly latencyMs: number;
  readonly maxDatagram: number;
  readonly maxPayload: number;
  readonly maxFrameBytes: number;
  readonly fec: Readonly<FecOptions> | null;
  readonly fecMinLoss: number;
  readonly arq: boolean;
  readonly auth: 'hmac' | 'aead';
  readonly maxRateBps: number;
  readonly expectedRateBps: number;
  readonly sendQueueBytes: number;
  readonly retransmitShare: number;
  readonly keepaliveMs: number;
  readonly idleTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly receiveCapacity: number;
  readonly sendCapacity: number;
  readonly sendBufferBytes: number;
}

/**
 * Largest window (and `repairs x ceil(window / step)`) a session may use: the Cauchy code
 * gives each source position and each live repair row a distinct GF(2^8) element (spec/fec.md).
 */
export const MAX_FEC_WINDOW_SESSION = 128;

/**
 * Largest DATA payload for a datagram size. With FEC a REPAIR carries the 12-byte symbol prefix
 * and pads the symbol to 32 bytes, and must fit the same datagram: 1400 -> 1332 (1360 without).
 */
export function maxPayloadFor(maxDatagram: number, fec: boolean): number {
  const room = maxDatagram - DATA_OVERHEAD;
  return fec ? Math.floor(room / 32) * 32 - 12 : room;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Packets per second at a bitrate with full-size payloads. */
function packetRate(rateBps: number, maxPayload: number): number {
  return rateBps / 8 / maxPayload;
}

/**
 * The FEC a connection uses when `fec` is not given: {@link DEFAULT_FEC_LONG} when its
 * 128-packet window fits the latency, {@link DEFAULT_FEC} when 64 packets do, else a shorter
 * window, else none. A repair is only useful if it arrives before
 * the first packet of its window is delivered, so the window must span well under the latency:
 * at most `0.75 x (latency - 20 ms)` of packets at `expectedRateBps` (the 20 ms for jitter and
 * the repair's own trip). 64 packets span 68 ms at 10 Mbit/s but 340 ms at 2 Mbit/s, where
 * every repair used to arrive too old to help (measured in the simulator: 0 recoveries) while
 * still costing 3.1%. Windows of 32..63 keep one repair every 32 packets (3.1%); 16..31 use
 * one repair per window (at most 6.25%); below 16 packets the connection relies on ARQ alone.
 * @example defaultFecFor(10e6, 120, 1400) // { window: 64, step: 32, repairs: 1 }
 * @example defaultFecFor(20e6, 120, 1400) // { window: 128, step: 64, repairs: 2 }
 * @example defaultFecFor(2e6, 120, 1400)  // null: ARQ only
 */
export function defaultFecFor(expectedRateBps: number, latencyMs: number, maxDatagram: number): Readonly<FecOptions> | null {
  const pps = packetRate(expectedRateBps, maxPayloadFor(maxDatagram, true));
  const fit = Math.floor((pps * 0.75 * Math.max(0, latencyMs - 20)) / 1000);
  if (fit >= DEFAULT_FEC_LONG.window) return DEFAULT_FEC_LONG;
  if (fit >= DEFAULT_FEC.window) return DEFAULT_FEC;
  if (fit >= 32) return Object.freeze({ window: fit, step: 32, repairs: 1 });
  if (fit >= 16) return Object.freeze({ window: fit, step: fit, repairs: 1 });
  return null;
}

/**
 * Validates and derives. Buffer sizes follow `latency x bitrate`: the receiver must hold one
 * latency's worth of packets plus headroom for jitter and retransmission lag (x2) plus a
 * keyframe burst ({@link BURST_ALLOWANCE_MS}); the sender must keep each packet for its useful
 * life (latency + one RTT margin, bounded by the latency again), bursts included.
 * @throws SluiceTypeError / SluiceRangeError naming the option and its allowed range.
 */
export function resolveOptions(o: ConnectionOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new SluiceTypeError('options: expected an object');
  const psk = pskBytes(o.key);
  const latencyMs = checkInt('latencyMs', o.latencyMs ?? DEFAULT_LATENCY_MS, 20, 60_000);
  const maxDatagram = checkInt('maxDatagram', o.maxDatagram ?? DEFAULT_MAX_DATAGRAM, MIN_MAX_DATAGRAM, MAX_MAX_DATAGRAM);
  const maxFrameBytes = checkInt('maxFrameBytes', o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 1, 256 * 1024 * 1024);
  const expectedRateBps = checkNumber('expectedRateBps', o.expectedRateBps ?? DEFAULT_EXPECTED_RATE_BPS, 64_000, 10e9);
  let fec: FecOptions | null = null;
  // Where a 64-packet window fits, the session takes the long geometry: the sender then picks
  // 64/32/1 or 128/64/2 by the rate it actually sends (Connection.fitFecGeometry).
  const fitted = o.fec === undefined ? defaultFecFor(expectedRateBps, latencyMs, maxDatagram) : null;
  const derived = fitted === DEFAULT_FEC ? DEFAULT_FEC_LONG : fitted;
  if (o.fec !== false && (o.fec !== undefined || derived !== null)) {
    const f = o.fec ?? derived!;
    if (typeof f !== 'object' || f === null) throw new SluiceTypeError('fec: expected { window, step, repairs } or false');
    const window = checkInt('fec.window', f.window, 1, MAX_FEC_WINDOW_SESSION);
    const step = checkInt('fec.step', f.step, 1, window);
    const rounds = Math.ceil(window / step);
    const repairs = checkInt('fec.repairs', f.repairs, 1, Math.floor(MAX_FEC_WINDOW_SESSION / rounds));
    fec = Object.freeze({ window, step, repairs });
  }
  const maxPayload = maxPayloadFor(maxDatagram, fec !== null);
  // An explicit `fec` is taken as asked: repairs always, unless fecMinLoss says otherwise.
  const fecMinLoss = checkNumber('fecMinLoss', o.fecMinLoss ?? (o.fec === undefined ? DEFAULT_FEC_MIN_LOSS : 0), 0, 1);
  const arq = o.arq ?? true;
  if (typeof arq !== 'boolean') throw new SluiceTypeError('arq: expected a boolean');
  const auth = o.auth ?? 'hmac';
  if (auth !== 'hmac' && auth !== 'aead') throw new SluiceRangeError(`auth: expected 'hmac' or 'aead', got ${String(auth)}`);
  const maxRateBps = checkNumber('maxRateBps', o.maxRateBps ?? DEFAULT_MAX_RATE_BPS, 64_000, 10e9);
  const sendQueueBytes = checkInt('sendQueueBytes', o.sendQueueBytes ?? 2 * maxFrameBytes, maxFrameBytes, 2 ** 32 - 1);
  const retransmitShare = checkNumber('retransmitShare', o.retransmitShare ?? 1, 0, 4);
  const keepaliveMs = checkInt('keepaliveMs', o.keepaliveMs ?? DEFAULT_KEEPALIVE_MS, 50, 60_000);
  const idleTimeoutMs = checkInt('idleTimeoutMs', o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 200, 3_600_000);
  const handshakeTimeoutMs = checkInt('handshakeTimeoutMs', o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, 100, 120_000);
  const pps = packetRate(expectedRateBps, maxPayload);
  // One latency of packets, doubled for FEC/retransmission lag, plus BURST_ALLOWANCE_MS of the
  // stream for a frame that comes faster than the average rate (a keyframe).
  const derivedRecv = Math.min(1 << 20, Math.max(64, nextPow2(Math.ceil((pps * (latencyMs * 2 + BURST_ALLOWANCE_MS)) / 1000))));
  const receiveCapacity =
    o.receiveCapacity === undefined ? derivedRecv : checkInt('receiveCapacity', o.receiveCapacity, 16, 1 << 20);
  if ((receiveCapacity & (receiveCapacity - 1)) !== 0) {
    throw new SluiceRangeError(`receiveCapacity: expected a power of two in [16, 1048576], got ${receiveCapacity}`);
  }
  const sendCapacity = receiveCapacity;
  const derivedSendBytes = Math.max(64 * 1024, Math.ceil(((expectedRateBps / 8) * (latencyMs * 2 + BURST_ALLOWANCE_MS)) / 1000));
  const sendBufferBytes =
    o.sendBufferBytes === undefined
      ? Math.min(derivedSendBytes, sendCapacity * maxPayload)
      : checkInt('sendBufferBytes', o.sendBufferBytes, 4 * maxPayload, 2 ** 31);
  return Object.freeze({
    psk,
    latencyMs,
    maxDatagram,
    maxPayload,
    maxFrameBytes,
    fec,
    fecMinLoss,
    arq,
    auth,
    maxRateBps,
    expectedRateBps,
    sendQueueBytes,
    retransmitShare,
    keepaliveMs,
    idleTimeoutMs,
    handshakeTimeoutMs,
    receiveCapacity,
    sendCapacity,
    sendBufferBytes,
  });
}
