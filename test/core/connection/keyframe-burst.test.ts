/**
 * Buffers sized for keyframe bursts (BURST_ALLOWANCE_MS). A video stream sends a keyframe many
 * times larger than the average frame at the pacing rate; sized from `latency x rate` alone the
 * receiver's window was shorter than one keyframe plus a latency of stream, so it slid over
 * packets it already held and lost them (the soak's 1.1-1.6% "lost for good"). Now the window
 * is sized for a burst, and a window that is still too small hands the packets in the way out
 * early (reorder policy 'release') instead of discarding them.
 * Virtual time: 20 Mbit/s, 25 fps, a 500 kB keyframe every 2 s, 4% loss plus short bursts both
 * ways, 20 ms each way, 120 ms latency (the soak's stream).
 */
import { describe, expect, it } from 'vitest';
import { lossyPair } from '../../support/lossy-pair.js';
import { BURST_ALLOWANCE_MS, resolveOptions } from '../../../src/core/connection/options.js';
import type { ConnectionOptions } from '../../../src/core/connection/options.js';

const KEY = 'keyframe burst test key 0123456789';
const RATE = 20e6;
const FPS = 25;
const GOP = 50;

function gop(): number[] {
  const bytes = (RATE / 8) * (GOP / FPS);
  const sizes = [Math.round(bytes * 0.1)];
  for (let i = 1; i < GOP; i++) sizes.push(Math.round(((bytes * 0.9) / (GOP - 1)) * (0.75 + 0.5 * ((i * 37) % 11) / 10)));
  return sizes;
}

function run(frames: number, options: Partial<ConnectionOptions> = {}, seed = 3) {
  let wrong = 0; // out of order, duplicated or not the size sent
  let last = -1;
  const sizes = gop();
  const { pair, delivered } = lossyPair(
    { key: KEY, latencyMs: 120, expectedRateBps: RATE, ...options },
    { loss: 0.04, burst: { p: 0.002, r: 0.2 }, delayMs: 20 },
    seed,
    100,
    (data) => {
      const i = data[0]! | (data[1]! << 8);
      if (i <= last || data.length !== sizes[i % GOP]!) wrong++;
      last = i;
    },
  );
  let i = 0;
  pair.runUntil(pair.now + (frames * 1000) / FPS, (now) => {
    if (i >= frames) return;
    const f = new Uint8Array(sizes[i % GOP]!);
    f[0] = i & 0xff;
    f[1] = (i >>> 8) & 0xff;
    pair.clientConn!.sendFrame(f, now, { keyframe: i % GOP === 0 });
    i++;
  }, 1000 / FPS);
  pair.runUntil(pair.now + 1000);
  const s = pair.serverConn!.counters;
  const c = pair.clientConn!.counters;
  const out = {
    frames: i,
    delivered: delivered(),
    wrong,
    lostPackets: s.lost,
    dataSent: c.dataSent,
    expedited: pair.serverConn!.stats(pair.now).received.expedited,
    evictedByCap: pair.clientConn!.stats(pair.now).sendBuffer.evictedByCap,
  };
  pair.destroy();
  return out;
}

describe('buffers hold a keyframe burst', () => {
  it('derives the receive capacity and send cap from two latencies plus the burst allowance', () => {
    expect(BURST_ALLOWANCE_MS).toBe(1000);
    // 20 Mbit/s of 1332-byte payloads (FEC on): 1877 packets/s x (240 + 1000) ms = 2328 -> 4096.
    const o20 = resolveOptions({ key: KEY, expectedRateBps: 20e6 });
    expect(o20.receiveCapacity).toBe(4096);
    expect(o20.sendBufferBytes).toBe(Math.ceil((20e6 / 8) * 1.24));
    // 2 Mbit/s (no FEC: 1360-byte payloads): 184 x 1.24 = 228 -> 256.
    expect(resolveOptions({ key: KEY, expectedRateBps: 2e6 }).receiveCapacity).toBe(256);
    expect(resolveOptions({ key: KEY, receiveCapacity: 512 }).receiveCapacity).toBe(512);
  });

  it('loses (almost) nothing of a 20 Mbit/s stream with 500 kB keyframes at 4% loss, on time', () => {
    const frames = 300; // 12 s, 6 keyframes
    const sized = run(frames);
    expect(sized.wrong).toBe(0);
    expect(sized.lostPackets).toBeLessThanOrEqual(Math.ceil(sized.dataSent * 0.0005));
    expect(sized.delivered).toBeGreaterThanOrEqual(frames - 2);
    expect(sized.expedited).toBe(0); // nothing had to leave before its time
    expect(sized.evictedByCap).toBe(0); // the sender kept everything it could be asked for
  });

  it("an undersized window hands packets out early instead of discarding them ('release')", () => {
    // The old derivation: latency x rate x 2 = 450 packets -> 512. Sliding over held packets
    // lost 1,163 of 22,716 here; releasing them early loses what the link loses.
    const frames = 300;
    const small = run(frames, { receiveCapacity: 512 });
    expect(small.wrong).toBe(0);
    expect(small.expedited).toBeGreaterThan(50);
    expect(small.lostPackets).toBeLessThanOrEqual(Math.ceil(small.dataSent * 0.0005));
    // Gaps in the way are given up before their deadline, so a few more frames go than with a
    // window of the right size.
    expect(small.delivered).toBeGreaterThanOrEqual(frames - 6);
  });

  it('says when the send buffer is too small for the stream (sendBuffer.evictedByCap)', () => {
    // 600 kB: two latencies of the average rate, less than a keyframe plus what follows it.
    const r = run(100, { sendBufferBytes: 600_000 });
    expect(r.evictedByCap).toBeGreaterThan(0);
  });
});
