/**
 * The compare-srt impairment scenarios in virtual time: one {@link SimPair}, no sockets, no CPU
 * noise, deterministic for a seed. Used to tune recovery (FEC, NACK timing, retransmission
 * copies) before confirming on real sockets with `npm run bench:compare`.
 *
 * ```sh
 * node --import tsx bench/sim-recovery.ts                       # 4 scenarios x 3 seeds, 20 s each
 * node --import tsx bench/sim-recovery.ts --scenarios 20,ge --seeds 1,2,3,4,5 --seconds 30
 * node --import tsx bench/sim-recovery.ts --scenarios p0,p1,p7   # p<N>: N% random loss
 * node --import tsx bench/sim-recovery.ts --opts '{"fec":false}'   # connection option overrides
 * node --import tsx bench/sim-recovery.ts --video      # 50 kB frames at 25/s (bursts), like the demo
 * SIM_DELAY_MS=21 SIM_JITTER_MS=3 node --import tsx bench/sim-recovery.ts   # closer to the real relay
 * ```
 *
 * Stream: 1316-byte frames at 10 Mbit/s (one per 1.0528 ms, as compare-srt's source), stamped
 * when sent; 20 ms one-way delay each way; loss on both directions (the reverse with a derived
 * seed); latency 120 ms. Figures as compare-srt computes them: residual loss (frames never
 * delivered / frames sent), forward overhead ((bytes offered to the forward link - source bytes)
 * / source bytes), reverse bytes / source bytes, and the retransmission split.
 */
import { parseArgs } from 'node:util';
import { SimPair } from '../src/core/connection/sim-pair.js';
import type { ConnectionOptions } from '../src/core/connection/options.js';
import type { ImpairmentOptions } from '../src/core/link-model.js';

const FRAME = 1316;
const SIM_DELAY_MS = Number(process.env.SIM_DELAY_MS ?? 20);
const SIM_JITTER_MS = Number(process.env.SIM_JITTER_MS ?? 0);
const RATE_BPS = 10e6;
const PERIOD_MS = (FRAME * 8 * 1000) / RATE_BPS;
const VIDEO_FRAME = 50_000;

export interface SimScenario {
  readonly id: string;
  readonly impairment: ImpairmentOptions;
}

export const SIM_SCENARIOS: readonly SimScenario[] = [
  { id: '5', impairment: { loss: 0.05, delayMs: SIM_DELAY_MS, jitterMs: SIM_JITTER_MS, preserveOrder: true } },
  { id: '10', impairment: { loss: 0.1, delayMs: SIM_DELAY_MS, jitterMs: SIM_JITTER_MS, preserveOrder: true } },
  { id: '20', impairment: { loss: 0.2, delayMs: SIM_DELAY_MS, jitterMs: SIM_JITTER_MS, preserveOrder: true } },
  { id: 'ge', impairment: { burst: { p: 0.01, r: 0.1 }, delayMs: SIM_DELAY_MS, jitterMs: SIM_JITTER_MS, preserveOrder: true } },
];

/**
 * A scenario by id: one of {@link SIM_SCENARIOS}, or `p<percent>` for that much random loss
 * (`p0`, `p2`, `p7.5`).
 */
export function findScenario(id: string): SimScenario {
  const known = SIM_SCENARIOS.find((x) => x.id === id);
  if (known !== undefined) return known;
  const m = /^p([0-9]+(?:\.[0-9]+)?)$/.exec(id);
  const loss = m === null ? Number.NaN : Number(m[1]) / 100;
  if (!(loss >= 0 && loss < 1)) throw new Error(`sim-recovery: unknown scenario "${id}" (expected 5, 10, 20, ge or p<percent>)`);
  return { id, impairment: { loss, delayMs: SIM_DELAY_MS, jitterMs: SIM_JITTER_MS, preserveOrder: true } };
}

export interface SimResult {
  scenario: string;
  seed: number;
  sent: number;
  delivered: number;
  residual: number;
  fwdOverhead: number;
  revOverhead: number;
  totalOverhead: number;
  repairs: number;
  retransmits: number;
  byFec: number;
  byArq: number;
  lost: number;
  duplicate: number;
  late: number;
  nacks: number;
  fwdLost: number;
}

export function runScenario(
  sc: SimScenario,
  seed: number,
  seconds: number,
  overrides: Partial<ConnectionOptions> = {},
  reverse?: ImpairmentOptions,
  video = false,
): SimResult {
  // video: 25 frames/s of 50,000 bytes (10 Mbit/s in bursts, like the demo's access units);
  // otherwise one 1316-byte frame per datagram at a constant rate (compare-srt's source).
  const frameBytes = video ? VIDEO_FRAME : FRAME;
  const periodMs = video ? 40 : PERIOD_MS;
  const pair = new SimPair({
    connection: { key: 'sim recovery key 0123456789', latencyMs: 120, expectedRateBps: RATE_BPS, ...overrides },
    forward: { ...sc.impairment, seed, capacity: 16384 },
    backward: { ...(reverse ?? sc.impairment), seed: (seed * 2654435761 + 97) >>> 0, capacity: 16384 },
    seed,
  });
  pair.keepLog = false;
  const seen = new Set<number>();
  pair.onEvent = (side, e) => {
    if (side === 'server' && e.type === 'frame') {
      const d = e.data;
      seen.add(d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24));
    }
  };
  if (!pair.handshake()) throw new Error('sim-recovery: handshake failed');
  const fwd0 = pair.forward.stats.sentBytes;
  const rev0 = pair.backward.stats.sentBytes;
  const fwdLost0 = pair.forward.stats.droppedLoss + pair.forward.stats.droppedBurst;
  const frame = new Uint8Array(frameBytes);
  let sent = 0;
  const total = Math.floor((seconds * 1000) / periodMs);
  const start = pair.now;
  const tick = (now: number): void => {
    if (sent >= total) return;
    frame[0] = sent & 0xff;
    frame[1] = (sent >>> 8) & 0xff;
    frame[2] = (sent >>> 16) & 0xff;
    frame[3] = (sent >>> 24) & 0xff;
    pair.clientConn!.sendFrame(frame, now);
    sent++;
  };
  pair.runUntil(start + seconds * 1000, tick, periodMs);
  // Settle: everything sent gets its latency and a little more.
  pair.runUntil(pair.now + 1000);
  const c = pair.clientConn!.counters;
  const s = pair.serverConn!.counters;
  const source = sent * frameBytes;
  const fwd = pair.forward.stats.sentBytes - fwd0;
  const rev = pair.backward.stats.sentBytes - rev0;
  const r: SimResult = {
    scenario: sc.id,
    seed,
    sent,
    delivered: seen.size,
    residual: 1 - seen.size / sent,
    fwdOverhead: (fwd - source) / source,
    revOverhead: rev / source,
    totalOverhead: (fwd + rev - source) / source,
    repairs: c.repairSent,
    retransmits: c.retransmitSent,
    byFec: s.recoveredByFec,
    byArq: s.recoveredByArq,
    lost: s.lost,
    duplicate: s.duplicate,
    late: s.late,
    nacks: s.nackSent,
    fwdLost: pair.forward.stats.droppedLoss + pair.forward.stats.droppedBurst - fwdLost0,
  };
  pair.destroy();
  return r;
}

const pct = (x: number, d = 2): string => `${(x * 100).toFixed(d)}%`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string', default: '5,10,20,ge' },
      seeds: { type: 'string', default: '1,2,3' },
      seconds: { type: 'string', default: '20' },
      opts: { type: 'string', default: '{}' },
      quiet: { type: 'boolean', default: false },
      reverse: { type: 'string' },
      video: { type: 'boolean', default: false },
    },
  });
  const ids = values.scenarios.split(',');
  const seeds = values.seeds.split(',').map(Number);
  const seconds = Number(values.seconds);
  const overrides = JSON.parse(values.opts) as Partial<ConnectionOptions>;
  console.log(`sim-recovery: ${seconds} s per run, seeds ${seeds.join(',')}, overrides ${values.opts}`);
  console.log('scenario  seed  residual  fwd ovh  rev ovh  total   repairs  rtx   byFec byArq lost  dup  late  fwdLost');
  for (const id of ids) {
    const sc = findScenario(id);
    const acc = { sent: 0, delivered: 0, fwd: 0, rev: 0, tot: 0, rtx: 0, rep: 0 };
    for (const seed of seeds) {
      const r = runScenario(sc, seed, seconds, overrides, values.reverse === undefined ? undefined : (JSON.parse(values.reverse) as ImpairmentOptions), values.video);
      acc.sent += r.sent;
      acc.delivered += r.delivered;
      acc.fwd += r.fwdOverhead;
      acc.rev += r.revOverhead;
      acc.tot += r.totalOverhead;
      acc.rtx += r.retransmits;
      acc.rep += r.repairs;
      if (!values.quiet) {
        console.log(
          `${id.padEnd(8)} ${String(seed).padStart(5)}  ${pct(r.residual, 3).padStart(8)}  ${pct(r.fwdOverhead, 1).padStart(7)}  ${pct(r.revOverhead, 2).padStart(7)}  ${pct(r.totalOverhead, 1).padStart(6)}  ${String(r.repairs).padStart(7)}  ${String(r.retransmits).padStart(5)}  ${String(r.byFec).padStart(5)} ${String(r.byArq).padStart(5)} ${String(r.lost).padStart(4)} ${String(r.duplicate).padStart(4)} ${String(r.late).padStart(5)}  ${r.fwdLost}`,
        );
      }
    }
    const n = seeds.length;
    console.log(
      `${id.padEnd(8)}   all  ${pct(1 - acc.delivered / acc.sent, 3).padStart(8)}  ${pct(acc.fwd / n, 1).padStart(7)}  ${pct(acc.rev / n, 2).padStart(7)}  ${pct(acc.tot / n, 1).padStart(6)}  ${String(acc.rep).padStart(7)}  ${String(acc.rtx).padStart(5)}   (${acc.sent - acc.delivered} of ${acc.sent} frames lost)`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
