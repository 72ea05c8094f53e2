/**
 * End to end over loopback: a listener and a caller on 127.0.0.1 in this process, real
 * node:dgram sockets, authentication and the default FEC. The caller writes 1316-byte frames
 * (7 MPEG-TS packets) as fast as backpressure allows for a fixed time.
 *
 * Figures: goodput (delivered payload, Mbit/s), delivered frames/s, process CPU seconds per
 * delivered MB, and the share of frames delivered. Both ends share this thread and the machine's
 * two cores with the benchmark harness, so this is a floor for what two processes reach (the
 * SRT comparison in bench/compare-srt.ts runs sender and receiver as separate processes).
 * Check: at least 99% of the frames written are delivered (no silent loss on a clean path).
 */
import { performance } from 'node:perf_hooks';
import { connect, listen, type Frame } from '../src/io/api.js';
import { MemoryAccountant } from '../src/core/memory/accountant.js';
import type { BenchContext, Check, Figure, SuiteResult } from './harness.js';

const KEY = 'e2e bench key 0123456789';

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const seconds = ctx.quick ? 2 : 10;
  const accountant = new MemoryAccountant();
  const server = await listen({ host: '127.0.0.1', port: 0, key: KEY, accountant, expectedRateBps: 200e6, maxRateBps: 2e9 });
  const delivered = { frames: 0, bytes: 0 };
  server.on('connection', (c) => c.on('frame', (f: Frame) => ((delivered.frames += 1), (delivered.bytes += f.data.length))));
  const conn = await connect({ host: '127.0.0.1', port: server.address().port, key: KEY, accountant, expectedRateBps: 200e6, maxRateBps: 2e9 });
  const frame = new Uint8Array(1316);
  let written = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    // copy: false — the frame is not modified while queued (it is the same constant buffer).
    await conn.write(frame, { copy: false });
    written++;
    // Yield to the event loop now and then so receive and timers run while we write.
    if ((written & 63) === 0) await new Promise((r) => setImmediate(r));
  }
  // Let the tail arrive (latency 120 ms plus queues).
  const settle = performance.now() + 1500;
  while (delivered.frames < written && performance.now() < settle) await new Promise((r) => setTimeout(r, 10));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = conn.stats();
  await conn.close();
  await server.close();
  const mb = delivered.bytes / 1e6;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const figures: Figure[] = [
    { name: 'Loopback_goodput', value: (delivered.bytes * 8) / 1e6 / wall, unit: 'Mbit/s', note: `${seconds} s of writes` },
    { name: 'Loopback_frames', value: delivered.frames / wall, unit: 'frames/s' },
    { name: 'Loopback_cpu_per_MB', value: cpuSeconds / Math.max(mb, 1e-9), unit: 'CPU-s/MB', note: 'both ends in one process' },
    { name: 'Loopback_delivered_share', value: delivered.frames / Math.max(written, 1), unit: 'ratio' },
    { name: 'Loopback_repair_overhead', value: stats.sent.repair / Math.max(stats.sent.data, 1), unit: 'ratio' },
  ];
  const checks: Check[] = [
    {
      name: 'delivered_share',
      value: delivered.frames / Math.max(written, 1),
      min: 0.99,
      detail: `${delivered.frames} of ${written} frames delivered on a clean loopback path`,
    },
  ];
  return { suite: 'e2e', figures, checks };
}
