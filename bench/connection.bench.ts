/**
 * Connection pair in memory (SimPair, virtual time): how much media one core pair moves per
 * second of CPU, with authentication (node:crypto HMAC) and the default FEC, at 0% and 10% loss,
 * and what the per-packet path allocates.
 *
 * Figures: delivered MB/s (CPU-bound, both sides in one thread), packets/s, bytes allocated per
 * DATA packet (steady state), heap growth and GCs per million packets.
 * Check: the pair at 10% loss keeps at least 40% of its loss-free throughput (recovery work must
 * not collapse the per-packet path).
 */
import { performance } from 'node:perf_hooks';
import { SimPair } from '../src/core/connection/sim-pair.js';
import { createNodeProtector } from '../src/io/node-protector.js';
import type { BenchContext, Check, Figure, SuiteResult } from './harness.js';

const KEY = 'bench key 0123456789abcdef';

interface PairRun {
  mbPerSec: number;
  packetsPerSec: number;
  dataPackets: number;
  heapGrowthPerMillion: number;
  gcPerMillion: number;
  bytesPerPacket: number;
  lost: number;
}

async function runPair(loss: number, virtualMs: number): Promise<PairRun> {
  const pair = new SimPair({
    connection: { key: KEY, latencyMs: 120, expectedRateBps: 50e6 },
    forward: { delayMs: 5, loss, seed: 3, capacity: 16384 },
    protector: createNodeProtector,
  });
  pair.keepLog = false;
  let delivered = 0;
  pair.onEvent = (side, e) => {
    if (side === 'server' && e.type === 'frame') delivered += e.data.length;
  };
  if (!pair.handshake()) throw new Error('connection bench: handshake failed');
  const frame = new Uint8Array(40_000);
  // ~50 Mbit/s of 40 kB frames: one every 6.4 ms of virtual time.
  const tick = (now: number): void => {
    pair.clientConn!.sendFrame(frame, now);
  };
  // Warm up (JIT, pools), then measure.
  pair.runUntil(pair.now + 500, tick, 6.4);
  const { PerformanceObserver } = await import('node:perf_hooks');
  let gcs = 0;
  const obs = new PerformanceObserver((l) => (gcs += l.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  const g = (globalThis as { gc?: () => void }).gc;
  g?.();
  await new Promise((r) => setTimeout(r, 0));
  gcs = 0;
  const sent0 = pair.clientConn!.counters.dataSent;
  const delivered0 = delivered;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  pair.runUntil(pair.now + virtualMs, tick, 6.4);
  const wall = (performance.now() - t0) / 1000;
  const heap1 = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, 0));
  const gcDuring = gcs;
  g?.();
  const heap2 = process.memoryUsage().heapUsed;
  obs.disconnect();
  const packets = pair.clientConn!.counters.dataSent - sent0;
  const lost = pair.serverConn!.counters.lost;
  pair.destroy();
  return {
    mbPerSec: (delivered - delivered0) / 1e6 / wall,
    packetsPerSec: packets / wall,
    dataPackets: packets,
    heapGrowthPerMillion: ((heap2 - heap0) * 1e6) / packets,
    gcPerMillion: (gcDuring * 1e6) / packets,
    // Everything allocated in the loop (frames are reused; events allocate one object per frame).
    bytesPerPacket: Math.max(0, heap1 - heap0) / packets,
    lost,
  };
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const virtualMs = ctx.quick ? 2000 : 10_000;
  const clean = await runPair(0, virtualMs);
  const lossy = await runPair(0.1, virtualMs);
  const figures: Figure[] = [
    { name: 'Pair_0loss_delivered', value: clean.mbPerSec, unit: 'MB/s', note: `${clean.dataPackets} DATA packets` },
    { name: 'Pair_0loss_packets', value: clean.packetsPerSec, unit: 'pkt/s' },
    { name: 'Pair_10loss_delivered', value: lossy.mbPerSec, unit: 'MB/s', note: `lost for good: ${lossy.lost}` },
    { name: 'Pair_0loss_heap_growth', value: clean.heapGrowthPerMillion, unit: 'B/1M pkt' },
    { name: 'Pair_0loss_gc', value: clean.gcPerMillion, unit: 'GC/1M pkt' },
    { name: 'Pair_0loss_alloc', value: clean.bytesPerPacket, unit: 'B/pkt', note: 'both sides, incl. node:crypto HMAC objects and per-frame events' },
  ];
  const checks: Check[] = [
    {
      name: 'lossy_vs_clean_throughput',
      value: lossy.mbPerSec / clean.mbPerSec,
      min: 0.4,
      detail: `10% loss ${lossy.mbPerSec.toFixed(1)} MB/s vs 0% ${clean.mbPerSec.toFixed(1)} MB/s`,
    },
  ];
  return { suite: 'connection', figures, checks };
}
