/**
 * `sluice demo` (`npm run demo`): a sender and a receiver in one process on 127.0.0.1, talking
 * through a seeded {@link ImpairRelay}, streaming a synthetic media stream for a bounded time.
 * Shows a live view (progress, bitrate, loss applied, recovered by FEC, recovered by
 * retransmission, lost, latency, memory per account), then prints a summary table and writes a
 * self-contained HTML report with SVG charts.
 *
 * Exit code 0 when the demo ran and every delivered frame was intact and no memory leaked;
 * 1 when a frame was delivered corrupted or the leak check failed; 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryAccountant } from '../core/memory/accountant.js';
import { DEFAULT_FEC, DEFAULT_LATENCY_MS, type FecOptions } from '../core/connection/options.js';
import {
  formatImpairment,
  parseBurst,
  parseDurationMs,
  parseImpairment,
  parseProbability,
  parseRateBps,
  totalDropped,
  type ImpairmentOptions,
} from '../core/link-model.js';
import type { ConnectionStats } from '../core/connection/stats.js';
import { ImpairRelay } from '../io/impair-relay.js';
import { connect, listen, type Frame, type SluiceConnection, type SluiceServer } from '../io/api.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, StopSignal, UsageError, describeError, isUsageError,  writers, type CommandIo } from './common.js';
import { DEFAULT_STREAM_SHAPE, SyntheticStream, type StreamShape } from './demo-stream.js';
import { renderReport, type DemoSample, type DemoSummary } from './demo-report.js';
import { linger } from './session.js';
import { parseFec, parseSwitch } from './url.js';

/** Default demo length, seconds. */
export const DEFAULT_DEMO_DURATION_S = 20;
/** Default impairment of the demo link: 10% random loss, 20 ms one-way delay (as the README says). */
export const DEFAULT_DEMO_IMPAIRMENT = 'loss=10%,delay=20';
/** Sampling (and live view refresh) interval, ms. */
export const DEMO_SAMPLE_MS = 250;

/** The `--help` text of `sluice demo`. */
export const DEMO_HELP = `Usage: sluice demo [options]

Streams synthetic media (25 fps, ~6 Mbit/s, a keyframe 5x the size every 2 s) from a sender to a
receiver in this process, through a seeded lossy relay on 127.0.0.1. Every frame carries its send
time and a seeded byte pattern: the receiver measures latency and checks every byte. Shows a live
view, then a summary table, and writes an HTML report with charts.

Link (default ${DEFAULT_DEMO_IMPAIRMENT}; both directions, independent seeds):
  --loss PCT            random loss, percent (5, 5%)
  --burst P,R           Gilbert-Elliott bursts: P(good->bad), P(bad->good) per packet (0.01,0.1)
  --delay MS            one-way delay (default 20)
  --jitter MS           extra random delay in [0, MS)
  --impair SPEC         the whole link as one spec: loss=5%,burst=0.01:0.1,delay=20,rate=20mbit
  --seed N              seed of the link and the stream (default 1): same seed, same run

Stream and connection:
  --duration SECONDS    how long to stream (default ${DEFAULT_DEMO_DURATION_S})
  --bitrate RATE        mean media bitrate (default 6mbit)
  --fps N               frames per second (default 25)
  --latency MS          receiver latency budget (default ${DEFAULT_LATENCY_MS})
  --fec W,S,R|off       FEC (default ${DEFAULT_FEC.window},${DEFAULT_FEC.step},${DEFAULT_FEC.repairs})
  --arq 1|0             retransmission (default 1)

Output:
  --report PATH         HTML report path (default reports/demo-<timestamp>.html)
  --no-live             no live view (a progress line per second instead)
  -h, --help            this text

Examples:
  npm run demo
  sluice demo --duration 10 --loss 10 --delay 30
  sluice demo --burst 0.01,0.2 --fec 32,16,2 --latency 200 --report /tmp/burst.html
  sluice demo --loss 20 --fec off --seed 7 --no-live
`;

interface DemoArgs {
  readonly durationMs: number;
  readonly impairment: ImpairmentOptions;
  readonly shape: StreamShape;
  readonly latencyMs: number;
  readonly fec: FecOptions | false;
  readonly arq: boolean;
  readonly seed: number;
  readonly reportPath: string | null;
  readonly live: boolean;
}

function _num(name: string, text: string | undefined, def: number, min: number, max: number): number {
  if (text === undefined) return def;
  const v = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max) throw new UsageError(`${name}: expected a number in [${min}, ${max}], got "${text}"`);
  return v;
}

/** Parses `sluice demo` arguments (exported for tests). @throws UsageError / SluiceRangeError. */
export function parseDemoArgs(argv: string[]): { help: true } | ({ help: false } & DemoArgs) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      duration: { type: 'string' },
      loss: { type: 'string' },
      burst: { type: 'string' },
      delay: { type: 'string' },
      jitter: { type: 'string' },
      impair: { type: 'string' },
      seed: { type: 'string' },
      bitrate: { type: 'string' },
      fps: { type: 'string' },
      latency: { type: 'string' },
      fec: { type: 'string' },
      arq: { type: 'string' },
      report: { type: 'string' },
      'no-live': { type: 'boolean' },
    },
  });
  if (values.help === true) return { help: true };
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const durationS = _num('--duration', values.duration?.replace(/s$/i, ''), DEFAULT_DEMO_DURATION_S, 0.5, 3600);
  const seed = Math.floor(_num('--seed', values.seed, 1, 0, 0xffff_ffff));
  const base: ImpairmentOptions = parseImpairment(values.impair ?? DEFAULT_DEMO_IMPAIRMENT);
  const o: { -readonly [K in keyof ImpairmentOptions]: ImpairmentOptions[K] } = { ...base, seed };
  if (values.impair !== undefined && base.seed !== undefined && values.seed === undefined) o.seed = base.seed;
  if (values.loss !== undefined) o.loss = parseProbability('--loss', values.loss, 'percent');
  if (values.burst !== undefined) o.burst = parseBurst('--burst', values.burst);
  if (values.delay !== undefined) o.delayMs = parseDurationMs('--delay', values.delay);
  if (values.jitter !== undefined) o.jitterMs = parseDurationMs('--jitter', values.jitter);
  const bitrateBps = values.bitrate === undefined ? DEFAULT_STREAM_SHAPE.bitrateBps : parseRateBps('--bitrate', values.bitrate);
  if (bitrateBps < 64_000 || bitrateBps > 1e9) throw new UsageError(`--bitrate: expected a rate in [64kbit, 1gbit], got "${values.bitrate}"`);
  const fps = _num('--fps', values.fps, DEFAULT_STREAM_SHAPE.fps, 1, 240);
  const latencyMs = Math.round(_num('--latency', values.latency?.replace(/ms$/i, ''), DEFAULT_LATENCY_MS, 20, 60_000));
  return {
    help: false,
    durationMs: durationS * 1000,
    impairment: o,
    shape: { ...DEFAULT_STREAM_SHAPE, bitrateBps, fps },
    latencyMs,
    fec: values.fec === undefined ? { ...DEFAULT_FEC } : parseFec('--fec', values.fec),
    arq: values.arq === undefined ? true : parseSwitch('--arq', values.arq),
    seed,
    reportPath: values.report ?? null,
    live: values['no-live'] !== true,
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

function mbit(bps: number): string {
  return `${(bps / 1e6).toFixed(2)} Mbit/s`;
}
function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}
function ms(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(1)} ms` : '-';
}
function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : '-';
}
function fecText(f: FecOptions | false): string {
  return f === false ? 'off' : `${f.window},${f.step},${f.repairs} (window, step, repairs)`;
}

/** ` (#i, #j, ...)` naming up to 5 frames of [0, sent) never delivered, or ''. */
function missingList(seen: Uint8Array, sent: number): string {
  const ids: number[] = [];
  let n = 0;
  for (let i = 0; i < sent; i++) {
    if (seen[i] === 1) continue;
    if (ids.length < 5) ids.push(i);
    n++;
  }
  return n === 0 ? '' : ` (#${ids.join(', #')}${n > ids.length ? ', ...' : ''})`;
}

/** The p-quantile (0..1) of the first `n` values of `a` (sorts a copy). NaN when n = 0. */
export function quantile(a: Float64Array, n: number, p: number): number {
  if (n === 0) return Number.NaN;
  const s = a.slice(0, n).sort();
  return s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
}

/** Renders rows of cells as a plain-text table with aligned columns. */
export function textTable(rows: ReadonlyArray<readonly string[]>): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

// ---------------------------------------------------------------------------------------------

/**
 * Runs `sluice demo` with `argv` (the arguments after `demo`). Resolves with the exit code.
 * @example process.exitCode = await demoCommand(['--duration', '5', '--no-live']);
 */
export async function demoCommand(argv: string[], io: CommandIo = {}): Promise<number> {
  const { out, err } = writers(io);
  let args: DemoArgs;
  try {
    const p = parseDemoArgs(argv);
    if (p.help) {
      out(DEMO_HELP);
      return EXIT_OK;
    }
    args = p;
  } catch (e) {
    if (!isUsageError(e)) throw e;
    err(`sluice demo: ${(e as Error).message}`);
    err('Try "sluice demo --help".');
    return EXIT_USAGE;
  }
  const tty = io.stdout === undefined && process.stdout.isTTY === true && args.live;
  const stop = new StopSignal(io.signal);
  try {
    return await _runDemo(args, out, tty, stop);
  } catch (e) {
    err(`sluice demo: ${describeError(e)}`);
    return EXIT_FAILURE;
  } finally {
    stop.dispose();
  }
}

async function _runDemo(args: DemoArgs, out: (l: string) => void, tty: boolean, stop: StopSignal): Promise<number> {
  const startedAt = new Date();
  const key = 'sluice demo pre-shared key';
  const accountant = new MemoryAccountant();
  const stream = new SyntheticStream(args.shape, args.seed);
  const frameIntervalMs = 1000 / args.shape.fps;
  const totalFrames = Math.max(1, Math.round((args.durationMs / 1000) * args.shape.fps));
  const connOptions = {
    key,
    latencyMs: args.latencyMs,
    fec: args.fec,
    arq: args.arq,
    // Size the buffers for the stream with headroom for keyframe bursts.
    expectedRateBps: Math.max(1_000_000, args.shape.bitrateBps * 1.5),
  };

  // ---- receiver, relay, sender
  let server: SluiceServer | null = null;
  let relay: ImpairRelay | null = null;
  let client: SluiceConnection | null = null;
  let receiver: SluiceConnection | null = null;
  const latencies = new Float64Array(totalFrames + 16);
  let latencyCount = 0;
  const windowLat = new Float64Array(totalFrames + 16);
  let windowCount = 0;
  let maxLatency = 0;
  const seen = new Uint8Array(totalFrames);
  const counts = { sent: 0, refused: 0, delivered: 0, corrupted: 0, duplicate: 0, outOfOrder: 0, lostEvents: 0, lostSeqs: 0, bytesDelivered: 0, bytesSent: 0 };
  const problems: string[] = [];
  let lastIndex = -1;
  let receiverStats: ConnectionStats | null = null;
  let senderStats: ConnectionStats | null = null;
  const samples: DemoSample[] = [];
  const accountHigh = new Map<string, number>();
  let lastAccounts: Array<{ name: string; reservedBytes: number; usedBytes: number }> = [];
  let peakRecvPackets = 0;
  let peakRecvMs = 0;
  let peakReserved = 0;
  let liveLines = 0;
  let sampleTimer: NodeJS.Timeout | null = null;
  let sendTimer: NodeJS.Timeout | null = null;

  const onFrame = (f: Frame): void => {
    const now = performance.now();
    const v = stream.verify(f.data);
    if (!v.ok) {
      counts.corrupted++;
      if (problems.length < 5) problems.push(`frame ${v.index}: ${v.problem}`);
      return;
    }
    if (v.index >= totalFrames || seen[v.index] === 1) {
      counts.duplicate++;
      return;
    }
    seen[v.index] = 1;
    if (v.index < lastIndex) counts.outOfOrder++;
    lastIndex = v.index;
    counts.delivered++;
    counts.bytesDelivered += f.data.length;
    const lat = now - v.sendTimeMs;
    latencies[latencyCount++] = lat;
    windowLat[windowCount++] = lat;
    if (lat > maxLatency) maxLatency = lat;
  };

  try {
    server = await listen({ ...connOptions, host: '127.0.0.1', port: 0, accountant });
    const srv = server;
    srv.on('connection', (c: SluiceConnection) => {
      if (receiver !== null) return;
      receiver = c;
      c.on('frame', onFrame);
      c.on('frame-lost', (l: { count: number }) => {
        counts.lostEvents++;
        counts.lostSeqs += l.count;
      });
    });
    relay = new ImpairRelay({
      listen: 'udp://127.0.0.1:0',
      target: { host: '127.0.0.1', port: srv.address().port },
      impairment: args.impairment,
      account: accountant.account('relay'),
    });
    const relayPort = (await relay.start()).port;
    client = await connect({ ...connOptions, host: '127.0.0.1', port: relayPort, accountant });
    const cl = client;
    const rl = relay;
    const linkText = formatImpairment(args.impairment);

    // ---- the live view and sampling
    const t0 = performance.now();
    let lastSampleAt = t0;
    let lastBytes = 0;
    let lastPrint = 0;
    const memoryLines = (): string[] => {
      const snap = accountant.snapshot();
      const lines: string[] = [];
      const senderId = String(cl.stats().connId);
      for (const c of snap.connections) {
        const role = c.id === senderId ? 'sender' : 'receiver';
        lines.push(`  conn.${c.id} (${role}): ${bytes(c.reservedBytes)} reserved, ${bytes(c.usedBytes)} in use (${c.usedPackets} pkt)`);
        const prefix = `conn.${c.id}.`;
        const parts = snap.accounts
          .filter((a) => a.name.startsWith(prefix) && (a.reservedBytes > 0 || a.usedBytes > 0))
          .map((a) => `${a.name.slice(prefix.length)} ${bytes(a.usedBytes)}/${bytes(a.reservedBytes)}`);
        lines.push(`    ${parts.join(', ')}`);
      }
      const others = snap.accounts.filter((a) => !a.name.startsWith('conn.'));
      if (others.length > 0) {
        lines.push('  ' + others.map((a) => `${a.name} ${bytes(a.reservedBytes)}`).join(', '));
      }
      return lines;
    };
    const sample = (): void => {
      const now = performance.now();
      const r = receiver as SluiceConnection | null;
      const rs = r !== null && !r.closed ? r.stats() : receiverStats;
      if (r !== null && !r.closed) receiverStats = rs;
      if (!cl.closed) senderStats = cl.stats();
      const fwd = rl.stats().forward;
      const snap = accountant.snapshot();
      for (const a of snap.accounts) {
        if (a.reservedBytes > (accountHigh.get(a.name) ?? 0)) accountHigh.set(a.name, a.reservedBytes);
      }
      if (snap.reservedBytes > peakReserved) peakReserved = snap.reservedBytes;
      lastAccounts = snap.accounts.map((a) => ({ name: a.name, reservedBytes: a.reservedBytes, usedBytes: a.usedBytes }));
      const dt = Math.max(1, now - lastSampleAt);
      const s: DemoSample = {
        tMs: now - t0,
        framesSent: counts.sent,
        framesDelivered: counts.delivered,
        framesLost: counts.lostEvents,
        bitrateBps: ((counts.bytesDelivered - lastBytes) * 8 * 1000) / dt,
        relayDropped: totalDropped(fwd),
        relaySent: fwd.sent,
        byFec: rs?.recovery.byFec ?? 0,
        byArq: rs?.recovery.byArq ?? 0,
        lost: rs?.recovery.lost ?? 0,
        recvBufferPackets: rs?.receiveBuffer.packets ?? 0,
        recvBufferMs: rs?.receiveBuffer.ms ?? 0,
        latencyP50: quantile(windowLat, windowCount, 0.5),
        latencyP99: quantile(windowLat, windowCount, 0.99),
        memReservedBytes: snap.reservedBytes,
        memUsedBytes: snap.usedBytes,
      };
      samples.push(s);
      if (s.recvBufferPackets > peakRecvPackets) peakRecvPackets = s.recvBufferPackets;
      if (s.recvBufferMs > peakRecvMs) peakRecvMs = s.recvBufferMs;
      windowCount = 0;
      lastBytes = counts.bytesDelivered;
      lastSampleAt = now;

      const elapsed = (now - t0) / 1000;
      const total = args.durationMs / 1000;
      if (tty) {
        const barW = 30;
        const filled = Math.min(barW, Math.round((counts.sent / totalFrames) * barW));
        const lines = [
          `sluice demo  [${'#'.repeat(filled)}${'.'.repeat(barW - filled)}]  ${Math.min(elapsed, total).toFixed(1)} / ${total.toFixed(1)} s   frames ${counts.sent} sent, ${counts.delivered} delivered`,
          `link      ${linkText}   dropped ${s.relayDropped} of ${s.relaySent} datagrams (${pct(s.relayDropped, s.relaySent)})`,
          `rate      ${mbit(s.bitrateBps)} received   RTT ${ms(rs?.rtt.srttMs ?? Number.NaN)}`,
          `recovery  FEC ${s.byFec} pkt   retransmission ${s.byArq} pkt   lost for good ${s.lost} pkt   frames lost ${counts.lostEvents}   corrupted ${counts.corrupted}`,
          `latency   p50 ${ms(s.latencyP50)}   p99 ${ms(s.latencyP99)}   (budget ${args.latencyMs} ms)`,
          `buffer    receive ${s.recvBufferPackets} / ${rs?.receiveBuffer.capacity ?? '-'} pkt (${ms(s.recvBufferMs)})   send ${senderStats?.sendBuffer.packets ?? 0} pkt`,
          `memory    ${bytes(snap.reservedBytes)} reserved, ${bytes(snap.usedBytes)} in use (budget ${bytes(snap.budgetBytes)}); per account: in use/reserved`,
          ...memoryLines(),
        ];
        let text = liveLines > 0 ? `\x1b[${liveLines}A` : '';
        for (const l of lines) text += `\x1b[2K${l}\n`;
        // Clear lines left over from a longer previous view.
        for (let i = lines.length; i < liveLines; i++) text += '\x1b[2K\n';
        if (liveLines > lines.length) text += `\x1b[${liveLines - lines.length}A`;
        process.stdout.write(text);
        liveLines = Math.max(lines.length, liveLines);
      } else if (now - lastPrint >= 1000 || lastPrint === 0) {
        lastPrint = now;
        out(
          `[${Math.min(elapsed, total).toFixed(1)}s] frames ${counts.delivered}/${counts.sent}  ${mbit(s.bitrateBps)}  relay dropped ${s.relayDropped} (${pct(s.relayDropped, s.relaySent)})  FEC ${s.byFec}  ARQ ${s.byArq}  lost ${s.lost}  latency p50 ${ms(s.latencyP50)} p99 ${ms(s.latencyP99)}  memory ${bytes(snap.reservedBytes)}`,
        );
      }
    };
    if (!tty) out(`sluice demo: ${(args.durationMs / 1000).toFixed(1)} s, ${mbit(args.shape.bitrateBps)} at ${args.shape.fps} fps, link ${linkText}, latency ${args.latencyMs} ms, FEC ${fecText(args.fec)}, ARQ ${args.arq ? 'on' : 'off'}`);
    sampleTimer = setInterval(sample, DEMO_SAMPLE_MS);

    // ---- the sender: frames on a drift-free schedule
    const sendDone = new Promise<void>((resolveSend) => {
      let k = 0;
      const tick = (): void => {
        sendTimer = null;
        const now = performance.now();
        while (k < totalFrames && k * frameIntervalMs <= now - t0 && stop.reason === null && !cl.closed) {
          const { size, keyframe } = stream.nextFrame(k);
          const frame = new Uint8Array(size);
          stream.fill(frame, k, performance.now());
          try {
            cl.send(frame, { keyframe, copy: false });
            counts.sent++;
            counts.bytesSent += size;
          } catch {
            counts.refused++;
          }
          k++;
        }
        if (k >= totalFrames || stop.reason !== null || cl.closed) {
          resolveSend();
          return;
        }
        sendTimer = setTimeout(tick, Math.max(0, t0 + k * frameIntervalMs - performance.now()));
      };
      tick();
    });
    await sendDone;
    // Let the tail arrive (acknowledged, then delivered at its deadline).
    await Promise.race([linger(cl, args.latencyMs, 5000), stop.stopped]);
    sample();
    clearInterval(sampleTimer);
    sampleTimer = null;
    const endMs = performance.now() - t0;
    senderStats = cl.stats();
    const r = receiver as SluiceConnection | null;
    if (r !== null && !r.closed) receiverStats = r.stats();
    const relayStats = rl.stats();

    // ---- teardown, then the leak check over everything the demo created
    const receiverClosed = r === null || r.closed ? Promise.resolve() : new Promise<void>((res) => r.once('close', () => res()));
    await cl.close();
    await Promise.race([receiverClosed, new Promise((res) => setTimeout(res, 2000))]);
    await srv.close();
    server = null;
    await rl.close();
    relay = null;
    accountant.closeAccount('relay');
    const leaks = accountant.leakCheck({ strict: true });

    // ---- summary
    const rs = receiverStats as ConnectionStats | null;
    const ss = senderStats as ConnectionStats | null;
    const missing = counts.sent - counts.delivered - counts.corrupted;
    const p50 = quantile(latencies, latencyCount, 0.5);
    const p99 = quantile(latencies, latencyCount, 0.99);
    const fwdDropped = totalDropped(relayStats.forward);
    const revDropped = totalDropped(relayStats.reverse);
    const dataSent = ss?.sent.data ?? 0;
    const ok = counts.corrupted === 0 && leaks.ok;
    const verdict = !leaks.ok
      ? `FAIL: memory leaked (${leaks.summary})`
      : counts.corrupted > 0
        ? `FAIL: ${counts.corrupted} frame(s) delivered corrupted (${problems.join('; ')})`
        : missing === 0
          ? 'OK: every frame delivered intact, no memory leaked'
          : `OK: every delivered frame intact, ${missing} frame(s) not delivered (${counts.lostEvents} reported lost for good${missing > counts.lostEvents ? `, ${missing - counts.lostEvents} still in flight at the end` : ''}), no memory leaked`;
    const rows: Array<[string, string]> = [
      ['stream', `${(endMs / 1000).toFixed(1)} s, ${counts.sent} frames sent (${counts.refused} refused), ${mbit((counts.bytesSent * 8 * 1000) / Math.max(1, args.durationMs))} media`],
      ['frames delivered', `${counts.delivered} intact (${pct(counts.delivered, counts.sent)}), ${missing} missing${missingList(seen, counts.sent)}, ${counts.corrupted} corrupted, ${counts.duplicate} duplicate, ${counts.outOfOrder} out of order`],
      ['datagrams dropped by the relay', `${fwdDropped} of ${relayStats.forward.sent} sender->receiver (${pct(fwdDropped, relayStats.forward.sent)}), ${revDropped} of ${relayStats.reverse.sent} receiver->sender`],
      ['DATA packets sent', `${dataSent} originals, ${ss?.sent.repair ?? 0} FEC repairs, ${ss?.sent.retransmit ?? 0} retransmissions (overhead ${((ss?.sent.overhead ?? 0) * 100).toFixed(1)}%)`],
      ['recovered by FEC', `${rs?.recovery.byFec ?? 0} packets`],
      ['recovered by retransmission', `${rs?.recovery.byArq ?? 0} packets (${rs?.recovery.nacksSent ?? 0} NACKs sent)`],
      ['lost for good', `${rs?.recovery.lost ?? 0} packets, ${counts.lostEvents} frame-loss reports`],
      ['latency (send to delivery)', `p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(maxLatency)} (budget ${args.latencyMs} ms, counted from the fastest one-way delay)`],
      ['RTT', `${ms(ss?.rtt.srttMs ?? Number.NaN)} smoothed (${ss?.rtt.samples ?? 0} samples)`],
      ['receive buffer', `peak ${peakRecvPackets} of ${rs?.receiveBuffer.capacity ?? '-'} packets, peak ${ms(peakRecvMs)} held`],
      ['memory', `peak ${bytes(peakReserved)} reserved by ${accountHigh.size} accounts; after close: ${leaks.ok ? 'every account back to zero' : leaks.summary}`],
    ];
    const config: Array<[string, string]> = [
      ['link (impair relay)', `${linkText}; reply direction alike, independent seed`],
      ['stream', `${args.shape.fps} fps, ${mbit(args.shape.bitrateBps)} mean, keyframe ${args.shape.keyframeRatio}x every ${args.shape.keyframeIntervalS} s, sizes +-${Math.round(args.shape.variation * 100)}%, seed ${args.seed}`],
      ['latency budget', `${args.latencyMs} ms`],
      ['FEC', fecText(args.fec)],
      ['retransmission', args.arq ? 'on' : 'off'],
      ['duration', `${(args.durationMs / 1000).toFixed(1)} s (${totalFrames} frames)`],
    ];
    const memAccounts = [...accountHigh.entries()]
      .map(([name, high]) => ({ name, highWaterBytes: high, reservedBytes: lastAccounts.find((a) => a.name === name)?.reservedBytes ?? 0 }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const summary: DemoSummary = {
      startedAt: startedAt.toISOString(),
      durationS: endMs / 1000,
      config,
      rows,
      recvCapacityPackets: rs?.receiveBuffer.capacity ?? 0,
      latencyBudgetMs: args.latencyMs,
      ok,
      verdict,
      memoryAccounts: memAccounts,
    };
    const reportPath = resolvePath(args.reportPath ?? `reports/demo-${startedAt.toISOString().replace(/[:.]/g, '-')}.html`);
    mkdirSync(dirname(reportPath), { recursive: true });
    writeFileSync(reportPath, renderReport(summary, samples));

    out('');
    out(textTable([['sluice demo summary', ''], ...config.map(([k, v]) => [k, v]), ['', ''], ...rows.map(([k, v]) => [k, v])]));
    out('');
    out(verdict);
    out(`report: ${reportPath}`);
    if (stop.reason !== null) out(`(stopped early by ${stop.reason})`);
    return ok ? EXIT_OK : EXIT_FAILURE;
  } finally {
    if (sampleTimer !== null) clearInterval(sampleTimer);
    if (sendTimer !== null) clearTimeout(sendTimer);
    const c = client as SluiceConnection | null;
    if (c !== null && !c.closed) c.destroy();
    if (server !== null) await (server as SluiceServer).close().catch(() => undefined);
    if (relay !== null) await (relay as ImpairRelay).close().catch(() => undefined);
  }
}
