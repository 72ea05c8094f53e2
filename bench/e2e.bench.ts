/**
 * End to end over loopback: a listener and a caller on 127.0.0.1 in this process, real
 * node:dgram sockets, authentication and the default FEC. The caller writes 1316-byte frames
 * (7 MPEG-TS packets) as fast as backpressure allows for a fixed time.
 *
 * Two phases: a paced writer at 20 Mbit/s (a live stream), and a greedy writer that writes as
 * fast as backpressure allows (the ceiling; frames that waited past the latency budget are
 * dropped at the sender by design and counted). Figures: delivered share, goodput, CPU seconds
 * per delivered MB. Both ends share this thread and the machine's two cores with the harness,
 * so these are floors for two processes (bench/compare-srt.ts runs them as separate processes).
 * Check: at 20 Mbit/s at least 98% of the frames written are delivered (1.000 on a quiet machine).
 */
import { performance } from 'node:perf_hooks';
import { connect, listen, type Frame } from '../src/io/api.js';
import { MemoryAccountant } from '../src/core/memory/accountant.js';
import type { BenchContext, Check, Figure, SuiteResult } from './harness.js';

const KEY = 'e2e bench key 0123456789';

interface Phase {
  written: number;
  delivered: number;
  bytes: number;
  wall: number;
  cpuSeconds: number;
  droppedAtSender: number;
  repairOverhead: number;
}

/**
 * One connection on loopback. `rateBps` > 0 paces the writer (live media at a steady rate);
 * 0 writes as fast as backpressure allows (the ceiling: frames that would miss their deadline
 * are dropped at the sender, by design, and counted).
 */
async function phase(seconds: number, rateBps: number): Promise<Phase> {
  const accountant = new MemoryAccountant();
  const opts = { key: KEY, accountant, expectedRateBps: 200e6, maxRateBps: 2e9 };
  const server = await listen({ host: '127.0.0.1', port: 0, ...opts });
  const delivered = { frames: 0, bytes: 0 };
  server.on('connection', (c) => c.on('frame', (f: Frame) => ((delivered.frames += 1), (delivered.bytes += f.data.length))));
  const conn = await connect({ host: '127.0.0.1', port: server.address().port, ...opts });
  const frame = new Uint8Array(1316);
  let written = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const framesPerMs = rateBps / 8 / 1316 / 1000;
  while (performance.now() < end) {
    if (rateBps > 0) {
      // Write what the schedule says is due, then sleep a millisecond.
      const due = Math.floor((performance.now() - t0) * framesPerMs);
      while (written < due) {
        conn.send(frame, { copy: false });
        written++;
      }
      await new Promise((r) => setTimeout(r, 1));
    } else {
      // copy: false — the frame is not modified while queued (it is the same constant buffer).
      await conn.write(frame, { copy: false });
      written++;
      if ((written & 63) === 0) await new Promise((r) => setImmediate(r));
    }
  }
  // Let the tail arrive (latency 120 ms plus queues).
  const settle = performance.now() + 1500;
  while (delivered.frames < written && performance.now() < settle) await new Promise((r) => setTimeout(r, 10));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = conn.stats();
  await conn.close();
  await server.close();
  return {
    written,
    delivered: delivered.frames,
    bytes: delivered.bytes,
    wall,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    droppedAtSender: stats.sent.framesDroppedLate,
    repairOverhead: stats.sent.repair / Math.max(stats.sent.data, 1),
  };
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const seconds = ctx.quick ? 2 : 10;
  const paced = await phase(seconds, 20e6);
  const greedy = await phase(seconds, 0);
  const figures: Figure[] = [
    { name: 'Loopback_20M_delivered_share', value: paced.delivered / Math.max(paced.written, 1), unit: 'ratio', note: `${paced.delivered} of ${paced.written} frames at 20 Mbit/s` },
    { name: 'Loopback_20M_cpu_per_MB', value: paced.cpuSeconds / Math.max(paced.bytes / 1e6, 1e-9), unit: 'CPU-s/MB', note: 'both ends in one process' },
    { name: 'Loopback_ceiling_goodput', value: (greedy.bytes * 8) / 1e6 / greedy.wall, unit: 'Mbit/s', note: 'writer as fast as backpressure allows' },
    { name: 'Loopback_ceiling_frames', value: greedy.delivered / greedy.wall, unit: 'frames/s' },
    { name: 'Loopback_ceiling_dropped_at_sender', value: greedy.droppedAtSender, unit: 'frames', note: 'waited past the latency budget in the send queue' },
    { name: 'Loopback_ceiling_cpu_per_MB', value: greedy.cpuSeconds / Math.max(greedy.bytes / 1e6, 1e-9), unit: 'CPU-s/MB' },
    { name: 'Loopback_repair_overhead', value: paced.repairOverhead, unit: 'ratio' },
  ];
  const checks: Check[] = [
    {
      name: 'delivered_share_20M',
      value: paced.delivered / Math.max(paced.written, 1),
      // On a quiet machine this reads 1.000; a loaded 2-core box (tests or other jobs running)
      // can delay the shared event loop past the 120 ms budget for a few frames.
      min: 0.98,
      detail: `${paced.delivered} of ${paced.written} frames delivered at 20 Mbit/s on a clean loopback path`,
    },
  ];
  return { suite: 'e2e', figures, checks };
}
