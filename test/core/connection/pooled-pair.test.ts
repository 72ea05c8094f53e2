/**
 * A connection pair with the shared packet pool (what the Node layer runs: reorder and send
 * buffers in pool slots, the FEC decoder's symbols too) recovers exactly what a pair without it
 * recovers: same link, same seed, same counters, same frames. And everything goes back to the pool.
 */
import { describe, expect, it } from 'vitest';
import { SimPair } from '../../../src/core/connection/sim-pair.js';
import { BufferPool } from '../../../src/core/memory/buffer-pool.js';
import type { ConnectionEvent } from '../../../src/core/connection/connection.js';

const KEY = 'pooled pair key, 16+ bytes';

function frameOf(i: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

/** Streams `seconds` of `mbps` in 1316-byte frames (one in eight a 12-packet "keyframe") and returns what happened. */
function run(pool: BufferPool | undefined, loss: number, burst: boolean, mbps: number, seconds: number): { counters: string; frames: string[]; lost: number } {
  const pair = new SimPair({
    connection: { key: KEY, latencyMs: 120, expectedRateBps: mbps * 1e6 },
    forward: { delayMs: 20, loss, seed: 11, ...(burst ? { burst: { p: 0.01, r: 0.1 } } : {}) },
    backward: { delayMs: 20, loss: loss / 2, seed: 12 },
    ...(pool !== undefined ? { pool } : {}),
  });
  pair.keepLog = false;
  const frames: string[] = [];
  let lost = 0;
  pair.onEvent = (side, e: ConnectionEvent) => {
    if (side !== 'server') return;
    if (e.type === 'frame') frames.push(`${e.firstSeq}-${e.lastSeq}:${e.data.length}:${e.data[0]}:${e.data[e.data.length - 1]}`);
    if (e.type === 'frame-lost') lost += e.count;
  };
  expect(pair.handshake()).toBe(true);
  const t0 = pair.now;
  const fps = (mbps * 1e6) / 8 / 1316 / 1.2;
  let sent = 0;
  pair.runUntil(t0 + seconds * 1000, (now) => {
    for (; sent < Math.floor(((now - t0) * fps) / 1000); sent++) {
      pair.clientConn!.sendFrame(frameOf(sent, sent % 8 === 0 ? 12 * 1316 : 1316), now);
    }
  });
  const c = pair.serverConn!.counters as unknown as Record<string, number>;
  const counters = JSON.stringify(c);
  pair.destroy();
  return { counters, frames, lost };
}

describe('pair with the shared packet pool', () => {
  it.each([
    ['5% random loss, 20 Mbit/s', 0.05, false, 20],
    ['Gilbert-Elliott bursts, 10 Mbit/s', 0.005, true, 10],
  ])('%s: same recovery, same frames as without the pool; every slot back after', (_name, loss, burst, mbps) => {
    const pool = new BufferPool({ slotSize: 1472, slotsPerSlab: 64, maxSlots: 8192, devChecks: true });
    const a = run(undefined, loss, burst, mbps, 3);
    const b = run(pool, loss, burst, mbps, 3);
    expect(b.counters).toBe(a.counters);
    expect(b.frames).toEqual(a.frames);
    expect(b.lost).toBe(a.lost);
    // Not vacuous: FEC and ARQ both worked.
    const c = JSON.parse(b.counters) as Record<string, number>;
    expect(c.recoveredByFec).toBeGreaterThan(10);
    expect(c.recoveredByArq).toBeGreaterThan(10);
    expect(b.frames.length).toBeGreaterThan(1000);
    expect(pool.inUse).toBe(0);
    expect(pool.stats().highWater).toBeGreaterThan(0);
  });
});
