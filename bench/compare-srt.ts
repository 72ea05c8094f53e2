/**
 * sluice and SRT side by side, in the same run, on this machine (issue 8, "Benchmarks").
 *
 * ```sh
 * node --import tsx bench/compare-srt.ts            # 20 s per scenario, 3 s per ceiling step
 * node --import tsx bench/compare-srt.ts --quick    # 8 s per scenario, 1.5 s per ceiling step
 * node --import tsx bench/compare-srt.ts --seconds 30 --json bench/results/compare-srt.json
 * ```
 *
 * What runs, everything on 127.0.0.1 and bounded in time:
 * - a source in this process sends 1316-byte datagrams (bytes 0..7: a sequence number) at a
 *   constant rate, paced in small batches from a 1 ms timer, into the sender of a transport;
 *   the receiver of that transport sends them to a sink in this process, which counts the
 *   unique sequence numbers (bench/lib/udp-stream.ts);
 * - sluice: `sluice send udp://127.0.0.1:A "sluice://127.0.0.1:RELAY?key=K&latency=120&rate=10mbit"`
 *   and `sluice recv "sluice://127.0.0.1:L?key=K&latency=120&rate=10mbit" udp://127.0.0.1:SINK`
 *   (default FEC and ARQ), the CLI bundled by esbuild from the sources (or `--cli PATH`);
 * - SRT: `srt-live-transmit "udp://127.0.0.1:A?rcvbuf=4194304" "srt://127.0.0.1:RELAY?latency=120"`
 *   and `srt-live-transmit "srt://127.0.0.1:L?latency=120&mode=listener" udp://127.0.0.1:SINK`
 *   (the input's receive buffer raised to the 4 MiB sluice's input socket asks for);
 * - impairment scenarios: one {@link ImpairRelay} per transport in this process, loss on both
 *   directions (the reverse with a seed derived from the forward one), 20 ms one-way delay each
 *   way, 120 ms latency, 10 Mbit/s; sluice and SRT run AT THE SAME TIME through two relays with
 *   the same seed;
 * - throughput ceiling: no relay, 0% loss, the source stepped through 50..700 Mbit/s, one
 *   transport at a time after a 2 s warm-up at 20 Mbit/s (reported, not counted), socket and
 *   receive buffers raised on both (sluice: `rate=` the top step, 4 MiB sockets by default;
 *   SRT: `rcvbuf`/`sndbuf` 32 MB). Kernel drops at the lane's sockets (sender input, receiver,
 *   sink; /proc/net/udp) are reported per step, to tell the transport's losses from the
 *   harness's (the source and sink share this process and the 2 cores).
 *
 * Figures per scenario and transport: residual loss (1 - unique delivered / sent, after a 2 s
 * settle), forward overhead ((bytes the relay received from the sender - source bytes) / source
 * bytes), reverse bytes, total overhead (forward + reverse), CPU seconds of the two transport
 * processes (/proc/PID/stat utime + stime) per delivered MB. The ratios the issue's goals name
 * are printed at the end, with each goal marked met or not.
 *
 * Options: `--quick`, `--seconds N` (per scenario), `--ceiling-seconds N`, `--ceiling-rates
 * 50,100,...` (Mbit/s), `--scenarios 5,10,20,ge` (also v10, v20, vge: the same rate sent as video, a burst every 40 ms), `--no-ceiling`, `--no-scenarios`,
 * `--transports sluice,srt` (add `udp` for bare node:dgram forwarders: the CPU floor of any node:dgram transport), `--seed N`, `--json PATH` (default bench/results/compare-srt.json),
 * `--logs DIR` (children's output and SRT statistics; default compare-srt-logs/ beside the JSON),
 * `--cli PATH` (a built sluice CLI, e.g. dist/cli/main.js), `--ref REV` (bundle the CLI from a
 * git revision instead of the working tree), `--strict` (exit 1 when a goal is not met),
 * `--sluice-query PARAMS` (extra sluice URL parameters, e.g. `fecminloss=0` to keep repairs on
 * at 0% loss).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { ImpairRelay } from '../src/io/impair-relay.js';
import type { ImpairmentOptions, LinkStats } from '../src/core/link-model.js';
import { Child, REPO, bundle, cpuSeconds, freeUdpPorts, sleep, udpCounters, udpDropsByPort, type Bundle } from './lib/proc.js';
import { DATAGRAM_BYTES, UdpSink, UdpSource } from './lib/udp-stream.js';

/**
 * `udp`: two bare node:dgram forwarders (bench/lib/udp-forward.mjs), no header, authentication or
 * recovery. Not a competitor: the floor of CPU per MB for any transport built on node:dgram.
 */
type Transport = 'sluice' | 'srt' | 'udp';

const UDP_FORWARD = join(REPO, 'bench', 'lib', 'udp-forward.mjs');

const KEY = 'compare-srt bench key 0123456789';
const LATENCY_MS = 120;
const SCENARIO_RATE_BPS = 10e6;
const SETTLE_MS = 2000;
const CEILING_SETTLE_MS = 1000;
/** SRT buffers for the ceiling: 32 MB (below fc 25600 x 1472 so SRT does not clip them). */
const SRT_BIG_BUF = 32 * 1024 * 1024;
/** Receive buffer of srt-live-transmit's UDP input, the size sluice's CLI asks for its own. */
const INPUT_RCVBUF = 4 * 1024 * 1024;
/** Ceiling warm-up before the measured steps (JIT, first RTT samples), Mbit/s and seconds. */
const WARMUP_MBPS = 20;
const WARMUP_SECONDS = 2;

interface Scenario {
  readonly id: string;
  readonly name: string;
  readonly impairment: ImpairmentOptions;
  /** Send the source in bursts every this many ms (video); absent: a constant stream. */
  readonly burstMs?: number;
}

function scenarios(seed: number): Scenario[] {
  return [
    { id: '5', name: 'loss 5%', impairment: { loss: 0.05, delayMs: 20, seed } },
    { id: '10', name: 'loss 10%', impairment: { loss: 0.1, delayMs: 20, seed } },
    { id: '20', name: 'loss 20%', impairment: { loss: 0.2, delayMs: 20, seed } },
    { id: 'ge', name: 'GE p=0.01 r=0.1', impairment: { burst: { p: 0.01, r: 0.1 }, delayMs: 20, seed } },
    // Not in the default list: the same rate sent as video, a 50 kB burst every 40 ms.
    { id: 'v10', name: 'video, loss 10%', impairment: { loss: 0.1, delayMs: 20, seed }, burstMs: 40 },
    { id: 'v20', name: 'video, loss 20%', impairment: { loss: 0.2, delayMs: 20, seed }, burstMs: 40 },
    { id: 'vge', name: 'video, GE', impairment: { burst: { p: 0.01, r: 0.1 }, delayMs: 20, seed }, burstMs: 40 },
  ];
}

// ---------------------------------------------------------------------------------------------
// Lanes: one transport pair (sender + receiver child) between a source and a sink.

/** Extra sluice URL parameters for every sluice lane (`--sluice-query`), with a leading '&'. */
let sluiceQuery = '';

interface LaneConfig {
  readonly transport: Transport;
  readonly cli: string;
  readonly impairment: ImpairmentOptions | null;
  /** Expected rate for sluice's buffer sizing (the `rate=` URL parameter), bits/s. */
  readonly sluiceRateBps: number;
  /** Raise SRT's buffers (ceiling runs). */
  readonly srtBigBuffers: boolean;
  /** Sequence numbers the sink tracks. */
  readonly sinkCapacity: number;
  /** Where SRT writes its statistics files. */
  readonly workDir: string;
  /** Upper bound on the relay's life, ms. */
  readonly relayMs: number;
  readonly tag: string;
}

interface Lane {
  readonly cfg: LaneConfig;
  readonly sink: UdpSink;
  readonly source: UdpSource;
  readonly relay: ImpairRelay | null;
  readonly sender: Child;
  readonly receiver: Child;
  readonly srtStats: { send: string; recv: string } | null;
  /** UDP ports: where the source sends (sender input), where the receiver listens, the sink. */
  readonly ports: { readonly input: number; readonly listen: number; readonly sink: number };
}

/** Kernel drops (/proc/net/udp) at the lane's sockets: sender input, receiver, sink. */
interface LaneDrops {
  readonly input: number;
  readonly receiver: number;
  readonly sink: number;
}

function laneDrops(l: Lane): LaneDrops {
  const d = udpDropsByPort();
  return { input: d.get(l.ports.input) ?? 0, receiver: d.get(l.ports.listen) ?? 0, sink: d.get(l.ports.sink) ?? 0 };
}

function dropsSince(l: Lane, b: LaneDrops): LaneDrops {
  const a = laneDrops(l);
  return { input: a.input - b.input, receiver: a.receiver - b.receiver, sink: a.sink - b.sink };
}

function _rateParam(bps: number): string {
  return `${Math.round(bps / 1e6)}mbit`;
}

async function _openLaneOnce(cfg: LaneConfig): Promise<Lane> {
  const sink = await UdpSink.open(cfg.sinkCapacity);
  const [listenPort, inputPort] = (await freeUdpPorts(2)) as [number, number];
  let relay: ImpairRelay | null = null;
  let dialPort = listenPort;
  const cleanup: Array<() => Promise<unknown>> = [() => sink.close()];
  try {
    if (cfg.impairment !== null) {
      relay = new ImpairRelay({
        listen: 'udp://127.0.0.1:0',
        target: `udp://127.0.0.1:${listenPort}`,
        impairment: cfg.impairment,
        durationMs: cfg.relayMs,
      });
      const r = relay;
      dialPort = (await r.start()).port;
      cleanup.push(() => r.close());
    }
    let receiver: Child;
    let sender: Child;
    let srtStats: { send: string; recv: string } | null = null;
    if (cfg.transport === 'sluice') {
      const q = `key=${encodeURIComponent(KEY)}&latency=${LATENCY_MS}&rate=${_rateParam(cfg.sluiceRateBps)}${sluiceQuery}`;
      receiver = new Child(`${cfg.tag} sluice recv`, process.execPath, [
        cfg.cli,
        'recv',
        `sluice://127.0.0.1:${listenPort}?${q}`,
        `udp://127.0.0.1:${sink.port}`,
        '--stats-interval',
        '1000',
      ]);
      cleanup.push(() => receiver.stop('SIGKILL'));
      await receiver.waitFor(/"event":"listening"/, 10_000);
      sender = new Child(`${cfg.tag} sluice send`, process.execPath, [
        cfg.cli,
        'send',
        `udp://127.0.0.1:${inputPort}`,
        `sluice://127.0.0.1:${dialPort}?${q}`,
        '--stats-interval',
        '1000',
      ]);
      cleanup.push(() => sender.stop('SIGKILL'));
      await sender.waitFor(/"event":"connected"/, 15_000);
      await receiver.waitFor(/"event":"connected"/, 5_000);
    } else if (cfg.transport === 'udp') {
      receiver = new Child(`${cfg.tag} udp recv`, process.execPath, [UDP_FORWARD, String(listenPort), String(sink.port)]);
      cleanup.push(() => receiver.stop('SIGKILL'));
      await receiver.waitFor(/"event":"listening"/, 10_000);
      sender = new Child(`${cfg.tag} udp send`, process.execPath, [UDP_FORWARD, String(inputPort), String(dialPort)]);
      cleanup.push(() => sender.stop('SIGKILL'));
      await sender.waitFor(/"event":"listening"/, 10_000);
    } else {
      const buf = cfg.srtBigBuffers ? `&rcvbuf=${SRT_BIG_BUF}&sndbuf=${SRT_BIG_BUF}` : '';
      srtStats = { send: join(cfg.workDir, `${cfg.tag}-srt-send.json`), recv: join(cfg.workDir, `${cfg.tag}-srt-recv.json`) };
      const statsArgs = (file: string): string[] => ['-s:1000', '-pf:json', '-f', `-statsout:${file}`];
      receiver = new Child(`${cfg.tag} srt recv`, 'srt-live-transmit', [
        '-v',
        ...statsArgs(srtStats.recv),
        `srt://127.0.0.1:${listenPort}?latency=${LATENCY_MS}&mode=listener${buf}`,
        `udp://127.0.0.1:${sink.port}`,
      ]);
      cleanup.push(() => receiver.stop('SIGKILL'));
      await receiver.waitFor(/^ listen\.\.\./, 10_000);
      sender = new Child(`${cfg.tag} srt send`, 'srt-live-transmit', [
        '-v',
        ...statsArgs(srtStats.send),
        // The UDP input gets the 4 MiB receive buffer sluice's input socket has (the kernel
        // default, 208 KiB, drops bursts at high rates before SRT sees them).
        `udp://127.0.0.1:${inputPort}?rcvbuf=${INPUT_RCVBUF}`,
        `srt://127.0.0.1:${dialPort}?latency=${LATENCY_MS}${buf}`,
      ]);
      cleanup.push(() => sender.stop('SIGKILL'));
      await sender.waitFor(/SRT target connected/, 15_000);
      await receiver.waitFor(/Accepted SRT source connection/, 5_000);
    }
    const source = await UdpSource.open('127.0.0.1', inputPort);
    return { cfg, sink, source, relay, sender, receiver, srtStats, ports: { input: inputPort, listen: listenPort, sink: sink.port } };
  } catch (e) {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    throw e;
  }
}

/** Opens a lane, retrying (fresh ports) when a child fails to start (a port race). */
async function openLane(cfg: LaneConfig): Promise<Lane> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await _openLaneOnce(cfg);
    } catch (e) {
      last = e;
      process.stderr.write(`compare-srt: ${cfg.tag} ${cfg.transport}: start failed (attempt ${attempt + 1}): ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  throw last;
}

interface LaneFinal {
  /** sluice: the `final` JSON records of sender and receiver; SRT: the last statistics records. */
  readonly sender: Record<string, unknown> | null;
  readonly receiver: Record<string, unknown> | null;
  readonly senderExit: number | null;
  readonly receiverExit: number | null;
}

function _lastJsonLine(file: string): Record<string, unknown> | null {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!.trim();
      if (!l.startsWith('{')) continue;
      try {
        return JSON.parse(l.replace(/,\s*$/, '')) as Record<string, unknown>;
      } catch {
        // a partial last line
      }
    }
  } catch {
    // no file
  }
  return null;
}

/** Where the children's output is kept (one file per child and run), or null. */
let logDir: string | null = null;

async function closeLane(lane: Lane): Promise<LaneFinal> {
  await lane.source.close();
  // Sender first (it sends CLOSE), then the receiver; SIGINT makes both print final records.
  const senderExit = await lane.sender.stop('SIGINT', 4000);
  const receiverExit = await lane.receiver.stop('SIGINT', 4000);
  if (logDir !== null) {
    const d = logDir;
    mkdirSync(d, { recursive: true });
    for (const [role, c] of [['sender', lane.sender], ['receiver', lane.receiver]] as const) {
      writeFileSync(join(d, `${lane.cfg.tag}-${lane.cfg.transport}-${role}.log`), c.lines.join('\n') + '\n');
    }
    if (lane.srtStats !== null) {
      for (const [role, f] of [['sender', lane.srtStats.send], ['receiver', lane.srtStats.recv]] as const) {
        if (existsSync(f)) writeFileSync(join(d, `${lane.cfg.tag}-srt-${role}-stats.json`), readFileSync(f));
      }
    }
  }
  if (lane.relay !== null) await lane.relay.close();
  await lane.sink.close();
  if (lane.srtStats !== null) {
    return { sender: _lastJsonLine(lane.srtStats.send), receiver: _lastJsonLine(lane.srtStats.recv), senderExit, receiverExit };
  }
  const fin = (c: Child): Record<string, unknown> | null => c.jsonLines().find((r) => r.event === 'final') ?? null;
  return { sender: fin(lane.sender), receiver: fin(lane.receiver), senderExit, receiverExit };
}

function cpuOf(lane: Lane): number {
  return cpuSeconds(lane.sender.pid) + cpuSeconds(lane.receiver.pid);
}

// ---------------------------------------------------------------------------------------------
// Impairment scenarios.

interface ScenarioFigures {
  readonly transport: Transport;
  readonly sent: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly corrupt: number;
  readonly residualLoss: number;
  readonly lossRuns: number;
  readonly longestLossRun: number;
  readonly sourceBytes: number;
  readonly sourceRateMbps: number;
  readonly sourceStalls: number;
  /** Bytes the relay received from the sender during the measurement. */
  readonly forwardBytes: number;
  readonly forwardOverhead: number;
  /** Bytes the relay received from the receiver (ACK, NACK, ...) during the measurement. */
  readonly reverseBytes: number;
  readonly reverseShare: number;
  readonly totalOverhead: number;
  /** What the relay dropped forward / reverse (measured loss). */
  readonly forwardDropped: number;
  readonly forwardDatagrams: number;
  readonly reverseDropped: number;
  readonly reverseDatagrams: number;
  readonly cpuSeconds: number;
  readonly cpuPerMB: number;
  /** Kernel UDP receive-buffer drops during the scenario, machine-wide (both lanes and anything else). */
  readonly kernelRcvbufErrors: number;
  /** Kernel drops at this lane's own sockets (sender input, receiver, sink). */
  readonly socketDrops: LaneDrops;
  /** Recovery counters reported by the transport itself. */
  readonly transportStats: Record<string, number | null>;
  readonly final: LaneFinal;
}

function _num(o: unknown, ...path: string[]): number | null {
  let v: unknown = o;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[p];
  }
  return typeof v === 'number' ? v : null;
}

function transportStats(t: Transport, f: LaneFinal): Record<string, number | null> {
  if (t === 'udp') {
    return { forwardedBySender: _num(f.sender, 'forwarded'), forwardedByReceiver: _num(f.receiver, 'forwarded') };
  }
  if (t === 'sluice') {
    return {
      sentData: _num(f.sender, 'stats', 'sent', 'data'),
      sentRepair: _num(f.sender, 'stats', 'sent', 'repair'),
      sentRetransmit: _num(f.sender, 'stats', 'sent', 'retransmit'),
      dropNotices: _num(f.sender, 'stats', 'sent', 'dropNotices'),
      inputDropped: _num(f.sender, 'input', 'dropped'),
      recoveredByFec: _num(f.receiver, 'stats', 'recovery', 'byFec'),
      recoveredByArq: _num(f.receiver, 'stats', 'recovery', 'byArq'),
      lost: _num(f.receiver, 'stats', 'recovery', 'lost'),
      late: _num(f.receiver, 'stats', 'received', 'late'),
      framesLost: _num(f.receiver, 'totals', 'framesLost'),
      srttMs: _num(f.sender, 'stats', 'rtt', 'srttMs'),
    };
  }
  return {
    sentPackets: _num(f.sender, 'send', 'packets'),
    sentRetransmit: _num(f.sender, 'send', 'packetsRetransmitted'),
    sendDropped: _num(f.sender, 'send', 'packetsDropped'),
    recvLost: _num(f.receiver, 'recv', 'packetsLost'),
    recvDropped: _num(f.receiver, 'recv', 'packetsDropped'),
    recvBelated: _num(f.receiver, 'recv', 'packetsBelated'),
    recvRetransmitted: _num(f.receiver, 'recv', 'packetsRetransmitted'),
    rttMs: _num(f.sender, 'link', 'rtt'),
  };
}

function _dropped(s: LinkStats): number {
  return s.droppedLoss + s.droppedBurst + s.droppedQueue + s.droppedOutage + s.droppedFull + s.droppedOversize;
}

async function runScenario(sc: Scenario, transports: readonly Transport[], seconds: number, cli: string, workDir: string): Promise<ScenarioFigures[]> {
  const pps = SCENARIO_RATE_BPS / 8 / DATAGRAM_BYTES;
  const cap = Math.ceil(pps * seconds * 1.5) + 10_000;
  const lanes: Lane[] = [];
  try {
    // Open both lanes (one relay each, the same seed), then start both sources together.
    for (const t of transports) {
      lanes.push(
        await openLane({
          transport: t,
          cli,
          impairment: sc.impairment,
          sluiceRateBps: SCENARIO_RATE_BPS,
          srtBigBuffers: false,
          sinkCapacity: cap,
          workDir,
          relayMs: (seconds + 90) * 1000,
          tag: `s${sc.id}`,
        }),
      );
    }
    await sleep(500); // let the handshakes' tails (keepalives, first RTT samples) pass
    const before = lanes.map((l) => ({ cpu: cpuOf(l), fwd: { ...l.relay!.forward.stats }, rev: { ...l.relay!.reverse.stats } }));
    const k0 = udpCounters().RcvbufErrors ?? NaN;
    const d0 = lanes.map(laneDrops);
    for (const l of lanes) l.source.start(SCENARIO_RATE_BPS, sc.burstMs ?? 0);
    await sleep(seconds * 1000);
    for (const l of lanes) l.source.stop();
    await sleep(SETTLE_MS);
    const after = lanes.map((l) => ({ cpu: cpuOf(l), fwd: { ...l.relay!.forward.stats }, rev: { ...l.relay!.reverse.stats } }));
    const kernelRcvbufErrors = (udpCounters().RcvbufErrors ?? NaN) - k0;
    const drops = lanes.map((l, i) => dropsSince(l, d0[i]!));
    const out: ScenarioFigures[] = [];
    for (const [i, l] of lanes.entries()) {
      const b = before[i]!;
      const a = after[i]!;
      const sent = l.source.sent;
      const delivered = l.sink.unique;
      const sourceBytes = sent * DATAGRAM_BYTES;
      const forwardBytes = a.fwd.sentBytes - b.fwd.sentBytes;
      const reverseBytes = a.rev.sentBytes - b.rev.sentBytes;
      const cpu = a.cpu - b.cpu;
      const gaps = l.sink.gaps(0, sent);
      const final = await closeLane(l);
      out.push({
        transport: l.cfg.transport,
        sent,
        delivered,
        duplicates: l.sink.duplicates,
        corrupt: l.sink.corrupt,
        residualLoss: sent > 0 ? 1 - delivered / sent : NaN,
        lossRuns: gaps.runs,
        longestLossRun: gaps.longest,
        sourceBytes,
        sourceRateMbps: (l.source.runSent * DATAGRAM_BYTES * 8) / 1e3 / Math.max(l.source.runMs, 1),
        sourceStalls: l.source.stalls,
        forwardBytes,
        forwardOverhead: (forwardBytes - sourceBytes) / sourceBytes,
        reverseBytes,
        reverseShare: reverseBytes / sourceBytes,
        totalOverhead: (forwardBytes + reverseBytes - sourceBytes) / sourceBytes,
        forwardDropped: _dropped(a.fwd) - _dropped(b.fwd),
        forwardDatagrams: a.fwd.sent - b.fwd.sent,
        reverseDropped: _dropped(a.rev) - _dropped(b.rev),
        reverseDatagrams: a.rev.sent - b.rev.sent,
        cpuSeconds: cpu,
        cpuPerMB: cpu / Math.max((delivered * DATAGRAM_BYTES) / 1e6, 1e-9),
        kernelRcvbufErrors,
        socketDrops: drops[i]!,
        transportStats: transportStats(l.cfg.transport, final),
        final,
      });
    }
    lanes.length = 0;
    return out;
  } finally {
    for (const l of lanes) await closeLane(l).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Throughput ceiling.

interface CeilingStep {
  readonly rateMbps: number;
  readonly sent: number;
  readonly delivered: number;
  readonly deliveredShare: number;
  /** What the source achieved (it shares the machine; below the target it is the limit). */
  readonly sourceRateMbps: number;
  readonly sourceStalls: number;
  readonly cpuSeconds: number;
  readonly cpuPerMB: number;
  readonly alive: boolean;
  /** Kernel UDP receive-buffer drops during the step, machine-wide (any socket, any process). */
  readonly kernelRcvbufErrors: number;
  /** Kernel drops at this lane's own sockets (sender input, receiver, sink). */
  readonly socketDrops: LaneDrops;
}

interface CeilingResult {
  readonly transport: Transport;
  readonly steps: CeilingStep[];
  /** Highest step with >= 99.5% delivered and the source within 5% of its target, Mbit/s (0: none). */
  readonly ceilingMbps: number;
  /** The warm-up step (not counted in the ceiling). */
  readonly warmup: CeilingStep | null;
  readonly final: LaneFinal | null;
  readonly error?: string;
}

async function runCeiling(t: Transport, rates: readonly number[], stepSeconds: number, cli: string, workDir: string): Promise<CeilingResult> {
  const top = Math.max(...rates);
  const cap = Math.ceil(rates.reduce((s, r) => s + (r * 1e6 * stepSeconds) / 8 / DATAGRAM_BYTES, 0) * 1.2) + 10_000;
  let lane: Lane;
  try {
    lane = await openLane({
      transport: t,
      cli,
      impairment: null,
      sluiceRateBps: top * 1e6,
      srtBigBuffers: true,
      sinkCapacity: cap,
      workDir,
      relayMs: 1,
      tag: 'ceiling',
    });
  } catch (e) {
    return { transport: t, steps: [], ceilingMbps: 0, warmup: null, final: null, error: (e as Error).message };
  }
  const steps: CeilingStep[] = [];
  let warmup: CeilingStep | null = null;
  let final: LaneFinal | null = null;
  try {
    await sleep(300);
    for (const [i, rate] of [WARMUP_MBPS, ...rates].entries()) {
      const alive = lane.sender.proc.exitCode === null && lane.receiver.proc.exitCode === null;
      const s0 = lane.source.nextSeq;
      const cpu0 = cpuOf(lane);
      const k0 = udpCounters().RcvbufErrors ?? NaN;
      const d0 = laneDrops(lane);
      lane.source.start(rate * 1e6);
      await sleep((i === 0 ? WARMUP_SECONDS : stepSeconds) * 1000);
      lane.source.stop();
      const s1 = lane.source.nextSeq;
      await sleep(CEILING_SETTLE_MS);
      const cpu = cpuOf(lane) - cpu0;
      const delivered = lane.sink.uniqueIn(s0, s1);
      const sent = s1 - s0;
      const step: CeilingStep = {
        rateMbps: rate,
        sent,
        delivered,
        deliveredShare: sent > 0 ? delivered / sent : 0,
        sourceRateMbps: (lane.source.runSent * DATAGRAM_BYTES * 8) / 1e3 / Math.max(lane.source.runMs, 1),
        sourceStalls: lane.source.stalls,
        cpuSeconds: cpu,
        cpuPerMB: cpu / Math.max((delivered * DATAGRAM_BYTES) / 1e6, 1e-9),
        alive,
        kernelRcvbufErrors: (udpCounters().RcvbufErrors ?? NaN) - k0,
        socketDrops: dropsSince(lane, d0),
      };
      if (i === 0) warmup = step;
      else steps.push(step);
      process.stderr.write(
        `compare-srt: ceiling ${t} ${i === 0 ? 'warm-up ' : ''}${rate} Mbit/s: ${((100 * delivered) / Math.max(sent, 1)).toFixed(2)}% delivered\n`,
      );
    }
  } finally {
    final = await closeLane(lane).catch(() => null);
  }
  let ceiling = 0;
  for (const s of steps) if (s.deliveredShare >= 0.995 && s.sourceRateMbps >= 0.95 * s.rateMbps) ceiling = Math.max(ceiling, s.rateMbps);
  return { transport: t, steps, ceilingMbps: ceiling, warmup, final };
}

// ---------------------------------------------------------------------------------------------
// Output.

const pct = (x: number, d = 2): string => (Number.isFinite(x) ? `${(100 * x).toFixed(d)}%` : 'n/a');
const num = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const ratio = (a: number, b: number): number => (b === 0 ? (a === 0 ? 1 : Infinity) : a / b);

function _pad(rows: string[][]): string {
  const w: number[] = [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n');
}

interface Goal {
  readonly name: string;
  readonly met: boolean;
  readonly detail: string;
}

function srtVersion(): string {
  const r = spawnSync('srt-live-transmit', ['-version'], { encoding: 'utf8' });
  const m = /SRT Library version: ([^\s,]+)/.exec(`${r.stdout}${r.stderr}`);
  return m?.[1] ?? 'unknown';
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      seconds: { type: 'string' },
      'ceiling-seconds': { type: 'string' },
      'ceiling-rates': { type: 'string' },
      scenarios: { type: 'string' },
      'no-ceiling': { type: 'boolean' },
      'no-scenarios': { type: 'boolean' },
      transports: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      logs: { type: 'string' },
      cli: { type: 'string' },
      ref: { type: 'string' },
      strict: { type: 'boolean' },
      'sluice-query': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'Usage: node --import tsx bench/compare-srt.ts [--quick] [--seconds N] [--ceiling-seconds N] [--ceiling-rates 50,100,...]\n' +
        '  [--scenarios 5,10,20,ge,v10,v20,vge] [--no-ceiling] [--no-scenarios] [--transports sluice,srt[,udp]] [--seed N] [--json PATH] [--logs DIR]\n' +
        '  [--cli dist/cli/main.js | --ref GIT-REV] [--strict] [--sluice-query fecminloss=0]\n',
    );
    return 0;
  }
  const quick = values.quick === true;
  if (values['sluice-query'] !== undefined) sluiceQuery = `&${values['sluice-query'].replace(/^[?&]/, '')}`;
  const posNum = (name: string, v: string | undefined, def: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--${name}: expected a positive number, got "${v}"`);
    return n;
  };
  const seconds = posNum('seconds', values.seconds, quick ? 8 : 20);
  const ceilingSeconds = posNum('ceiling-seconds', values['ceiling-seconds'], quick ? 1.5 : 3);
  const rates = (values['ceiling-rates'] ?? '50,100,200,400,700').split(',').map((s) => posNum('ceiling-rates', s, 0));
  const seed = Math.floor(posNum('seed', values.seed, 8));
  const transports = (values.transports ?? 'sluice,srt').split(',').map((s) => s.trim()) as Transport[];
  for (const t of transports) if (t !== 'sluice' && t !== 'srt' && t !== 'udp') throw new RangeError(`--transports: expected sluice, srt and/or udp, got "${t}"`);
  const wanted = (values.scenarios ?? '5,10,20,ge').split(',').map((s) => s.trim().toLowerCase());
  const chosen = scenarios(seed).filter((s) => wanted.includes(s.id));
  const jsonPath = values.json ?? join(REPO, 'bench', 'results', 'compare-srt.json');
  logDir = values.logs ?? join(dirname(jsonPath), 'compare-srt-logs');
  if (transports.includes('srt') && spawnSync('srt-live-transmit', ['-version']).error !== undefined) {
    throw new Error('srt-live-transmit not found (apt-get install -y srt-tools)');
  }

  let built: Bundle | null = null;
  let cli: string;
  let cliSource: string;
  if (values.cli !== undefined) {
    if (!existsSync(values.cli)) throw new Error(`--cli: ${values.cli} does not exist (npm run build first?)`);
    cli = values.cli;
    cliSource = values.cli;
  } else {
    built = bundle(['src/cli/main.ts'], values.ref)[0]!;
    cli = built.file;
    cliSource = `esbuild bundle of src/cli/main.ts at ${built.source}`;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'sluice-compare-'));
  const started = new Date();
  const load0 = loadavg();
  console.log(
    `compare-srt: sluice (${cliSource}${sluiceQuery === '' ? '' : `, extra URL parameters ${sluiceQuery.slice(1)}`}) vs SRT ${srtVersion()} (srt-live-transmit), ${cpus().length} CPUs, node ${process.version}, load ${load0.map((x) => x.toFixed(1)).join(' ')}`,
  );
  console.log(
    `  scenarios: ${chosen.map((s) => s.name).join(', ') || 'none'}; ${seconds} s each at ${SCENARIO_RATE_BPS / 1e6} Mbit/s, 20 ms each way, latency ${LATENCY_MS} ms, seed ${seed}`,
  );

  const scenarioResults: Array<{ scenario: Scenario; figures: ScenarioFigures[] }> = [];
  try {
    if (values['no-scenarios'] !== true) {
      for (const sc of chosen) {
        process.stderr.write(`compare-srt: scenario ${sc.name} (${seconds} s)...\n`);
        const figures = await runScenario(sc, transports, seconds, cli, workDir);
        scenarioResults.push({ scenario: sc, figures });
      }
    }
    const ceilings: CeilingResult[] = [];
    if (values['no-ceiling'] !== true) {
      for (const t of transports) {
        process.stderr.write(`compare-srt: ceiling ${t}: ${rates.join(', ')} Mbit/s, ${ceilingSeconds} s each...\n`);
        ceilings.push(await runCeiling(t, rates, ceilingSeconds, cli, workDir));
      }
    }

    // --- tables
    if (scenarioResults.length > 0) {
      const rows: string[][] = [
        ['scenario', 'transport', 'sent', 'delivered', 'residual', 'gaps/longest', 'fwd ovh', 'rev bytes', 'total ovh', 'CPU s', 'CPU s/MB', 'drops in/rcv/sink', 'recovery'],
      ];
      for (const { scenario, figures } of scenarioResults) {
        for (const f of figures) {
          const ts = f.transportStats;
          const rec =
            f.transport === 'sluice'
              ? `fec ${ts.recoveredByFec ?? '?'} arq ${ts.recoveredByArq ?? '?'} rtx ${ts.sentRetransmit ?? '?'} lost ${ts.lost ?? '?'}`
              : f.transport === 'udp'
                ? 'none (bare forwarders)'
                : `rtx ${ts.sentRetransmit ?? '?'} drop ${ts.recvDropped ?? '?'}`;
          rows.push([
            scenario.name,
            f.transport,
            String(f.sent),
            String(f.delivered),
            pct(f.residualLoss, 3),
            `${f.lossRuns}/${f.longestLossRun}`,
            pct(f.forwardOverhead, 1),
            `${(f.reverseBytes / 1e3).toFixed(0)} kB (${pct(f.reverseShare, 1)})`,
            pct(f.totalOverhead, 1),
            num(f.cpuSeconds, 2),
            num(f.cpuPerMB, 4),
            `${f.socketDrops.input}/${f.socketDrops.receiver}/${f.socketDrops.sink}`,
            rec,
          ]);
        }
      }
      console.log('\nImpairment scenarios (both transports at the same time, one relay each):\n');
      console.log(_pad(rows));
    }
    for (const c of ceilings) {
      console.log(`\nThroughput ceiling, ${c.transport} (0% loss, no relay): ${c.ceilingMbps} Mbit/s${c.error !== undefined ? ` (error: ${c.error})` : ''}`);
      const rows: string[][] = [['target Mbit/s', 'source Mbit/s', 'sent', 'delivered', 'share', 'CPU s', 'CPU s/MB', 'drops in/rcv/sink', 'all rcvbuf drops']];
      for (const s of c.warmup === null ? c.steps : [c.warmup, ...c.steps]) {
        rows.push([
          `${s === c.warmup ? 'warm-up ' : ''}${s.rateMbps}`,
          num(s.sourceRateMbps, 1),
          String(s.sent),
          String(s.delivered),
          pct(s.deliveredShare, 2),
          num(s.cpuSeconds, 2),
          num(s.cpuPerMB, 4),
          `${s.socketDrops.input}/${s.socketDrops.receiver}/${s.socketDrops.sink}`,
          String(s.kernelRcvbufErrors),
        ]);
      }
      console.log(_pad(rows));
    }

    // --- ratios and goals
    const goals: Goal[] = [];
    const ratios: Record<string, number> = {};
    console.log('\nRatios sluice/SRT (same run):');
    for (const { scenario, figures } of scenarioResults) {
      const s = figures.find((f) => f.transport === 'sluice');
      const r = figures.find((f) => f.transport === 'srt');
      if (s === undefined || r === undefined) continue;
      const rl = ratio(s.residualLoss, r.residualLoss);
      const ov = ratio(s.totalOverhead, r.totalOverhead);
      const fo = ratio(s.forwardOverhead, r.forwardOverhead);
      const cp = ratio(s.cpuPerMB, r.cpuPerMB);
      ratios[`residual_loss_${scenario.id}`] = rl;
      ratios[`forward_overhead_${scenario.id}`] = fo;
      ratios[`total_overhead_${scenario.id}`] = ov;
      ratios[`cpu_per_MB_${scenario.id}`] = cp;
      console.log(
        `  ${scenario.name.padEnd(16)} residual loss ${num(rl, 3)} (${pct(s.residualLoss, 3)} vs ${pct(r.residualLoss, 3)}), ` +
          `fwd overhead ${num(fo, 2)}, total overhead ${num(ov, 2)} (${pct(s.totalOverhead, 1)} vs ${pct(r.totalOverhead, 1)}), CPU/MB ${num(cp, 2)}`,
      );
      if (scenario.id === '10') {
        goals.push({ name: 'no residual loss at 10%', met: s.delivered === s.sent, detail: `sluice lost ${s.sent - s.delivered} of ${s.sent}` });
      }
      if (scenario.id === '20' || scenario.id === 'ge') {
        goals.push({
          name: `${scenario.name}: residual loss < SRT/10`,
          met: s.residualLoss < r.residualLoss / 10 || s.delivered === s.sent,
          detail: `sluice ${pct(s.residualLoss, 3)}, SRT ${pct(r.residualLoss, 3)}`,
        });
      }
      // The issue's goals name the constant-rate scenarios; the video ones are extra figures.
      if (scenario.burstMs === undefined) {
        goals.push({
          name: `${scenario.name}: total overhead <= SRT`,
          met: s.totalOverhead <= r.totalOverhead,
          detail: `sluice ${pct(s.totalOverhead, 1)} (fwd ${pct(s.forwardOverhead, 1)}), SRT ${pct(r.totalOverhead, 1)} (fwd ${pct(r.forwardOverhead, 1)})`,
        });
      }
    }
    const cs = ceilings.find((c) => c.transport === 'sluice');
    const cr = ceilings.find((c) => c.transport === 'srt');
    if (cs !== undefined && cr !== undefined) {
      const cr0 = ratio(cs.ceilingMbps, cr.ceilingMbps);
      ratios.ceiling = cr0;
      console.log(`  ceiling          ${num(cr0, 2)} (${cs.ceilingMbps} vs ${cr.ceilingMbps} Mbit/s)`);
      goals.push({ name: 'ceiling >= SRT', met: cs.ceilingMbps >= cr.ceilingMbps, detail: `sluice ${cs.ceilingMbps}, SRT ${cr.ceilingMbps} Mbit/s` });
      // CPU per delivered MB at 0% loss: the lowest step both delivered in full.
      const both = cs.steps.filter((a) => a.deliveredShare >= 0.995 && cr.steps.some((b) => b.rateMbps === a.rateMbps && b.deliveredShare >= 0.995));
      for (const a of both) {
        const b = cr.steps.find((x) => x.rateMbps === a.rateMbps)!;
        const k = ratio(a.cpuPerMB, b.cpuPerMB);
        ratios[`cpu_per_MB_clean_${a.rateMbps}mbit`] = k;
        console.log(`  CPU/MB at ${String(a.rateMbps).padStart(3)} Mbit/s, 0% loss: ${num(k, 2)} (${num(a.cpuPerMB, 4)} vs ${num(b.cpuPerMB, 4)} CPU-s/MB)`);
      }
      // The floor: bare node:dgram forwarders at the same steps (`--transports sluice,srt,udp`).
      const cu = ceilings.find((c) => c.transport === 'udp');
      if (cu !== undefined) {
        for (const a of both) {
          const b = cr.steps.find((x) => x.rateMbps === a.rateMbps)!;
          const u = cu.steps.find((x) => x.rateMbps === a.rateMbps && x.deliveredShare >= 0.995);
          if (u === undefined) continue;
          const floor = ratio(u.cpuPerMB, b.cpuPerMB);
          ratios[`cpu_per_MB_clean_${a.rateMbps}mbit_udp_floor`] = floor;
          console.log(
            `  CPU/MB at ${String(a.rateMbps).padStart(3)} Mbit/s, bare node:dgram forwarders / SRT: ${num(floor, 2)} ` +
              `(${num(u.cpuPerMB, 4)} CPU-s/MB; sluice / forwarders ${num(ratio(a.cpuPerMB, u.cpuPerMB), 2)})`,
          );
        }
      }
      const first = both[0];
      if (first !== undefined) {
        const b = cr.steps.find((x) => x.rateMbps === first.rateMbps)!;
        goals.push({
          name: 'CPU per delivered MB within 1.5x of SRT (0% loss)',
          met: first.cpuPerMB <= 1.5 * b.cpuPerMB,
          detail: `at ${first.rateMbps} Mbit/s: ${num(first.cpuPerMB / b.cpuPerMB, 2)}x`,
        });
      }
    }
    if (goals.length > 0) {
      console.log('\nGoals of issue 8:');
      for (const g of goals) console.log(`  [${g.met ? 'met' : 'NOT met'}] ${g.name}: ${g.detail}`);
    }

    const report = {
      suite: 'compare-srt',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, srt: srtVersion(), loadavgStart: load0, loadavgEnd: loadavg() },
      sluice: cliSource,
      sluiceQuery: sluiceQuery.slice(1),
      settings: { seconds, ceilingSeconds, rates, seed, latencyMs: LATENCY_MS, scenarioRateBps: SCENARIO_RATE_BPS, datagramBytes: DATAGRAM_BYTES, settleMs: SETTLE_MS, quick },
      scenarios: scenarioResults.map(({ scenario, figures }) => ({ ...scenario, figures })),
      ceilings,
      ratios,
      goals,
    };
    mkdirSync(dirname(jsonPath), { recursive: true });
    writeFileSync(jsonPath, JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2));
    console.log(`\nLoad average (1/5/15 min): ${load0.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end (${cpus().length} CPUs: a load above that means processes waited for a core)`);
    console.log(`JSON: ${jsonPath}`);
    return values.strict === true && goals.some((g) => !g.met) ? 1 : 0;
  } finally {
    built?.dispose();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Children are stopped; do not let a straggling handle hold the exit.
    setTimeout(() => process.exit(code), 500).unref();
  },
  (e: unknown) => {
    process.stderr.write(`compare-srt: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
