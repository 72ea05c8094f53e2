/**
 * Where `sluice send` / `sluice recv` spend their CPU (issue 8, "CPU per delivered MB").
 *
 * ```sh
 * node --import tsx bench/cpu-profile.ts                      # 10 and 100 Mbit/s, 5 s each
 * node --import tsx bench/cpu-profile.ts --rates 10 --seconds 8 --top 15 --keep /tmp/prof
 * node --import tsx bench/cpu-profile.ts --no-prof            # CPU and wakeups only (no profiler overhead)
 * node --import tsx bench/cpu-profile.ts --no-prof --cli /tmp/base.mjs   # another build (A/B)
 * node --import tsx bench/cpu-profile.ts --node-args="--trace-deopt" --keep /tmp/prof   # children's output kept
 * ```
 *
 * Per rate: the CLI bundled by esbuild from the working tree (bench/lib/proc.ts), `sluice recv`
 * to a counting sink and `sluice send` from a constant-rate source (bench/lib/udp-stream.ts),
 * default options (`rate=` the step), on 127.0.0.1 with no relay, each child under
 * `node --cpu-prof`. After a 1 s warm-up, prints per process: CPU seconds per delivered MB
 * (/proc utime+stime, 10 ms ticks), event-loop wakeups per second (voluntary context switches of
 * the main thread: each is one sleep in epoll_wait), CPU per thread from schedstat (ns
 * resolution: the main thread is the event loop, the threads named `node` are V8's platform
 * workers: JIT compilation and concurrent GC), then the profile: self time by category (GC,
 * program/native, dgram, crypto, timers, sluice bundle, ...) and the top functions.
 *
 * The profiler itself costs CPU (a sample every 1 ms by default) and its samples are wall time
 * while not idle (a thread preempted inside a syscall is charged to that function), so on a busy
 * machine syscall-heavy functions (`doSend`) look bigger than their CPU share: compare CPU/MB
 * with `--no-prof` runs, and profiles with profiles (or use `perf record -g` with
 * `--node-args=--perf-basic-prof` for CPU-time attribution including the kernel).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, cpSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Child, bundle, cpuSeconds, freeUdpPorts, sleep } from './lib/proc.js';
import { DATAGRAM_BYTES, UdpSink, UdpSource } from './lib/udp-stream.js';

const KEY = 'cpu-profile bench key 0123456789';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time (µs) per function key and per category. */
export interface ProfileSummary {
  readonly totalUs: number;
  readonly byFunction: Array<{ name: string; us: number }>;
  readonly byCategory: Array<{ name: string; us: number }>;
}

function category(cf: CallFrame): string {
  const f = cf.functionName;
  const u = cf.url;
  if (f === '(garbage collector)') return 'GC';
  if (f === '(idle)') return 'idle';
  if (f === '(program)') return 'program (native/unattributed)';
  if (f === '(root)') return 'root';
  if (u.includes('node:dgram') || u.includes('internal/dgram') || f === 'send' || f === 'onMessage' || f === 'doSend') return 'dgram';
  if (u.includes('crypto') || f === 'digest' || f === 'update' || f === 'createHmac' || f === 'Hmac') return 'crypto';
  if (u.includes('timers') || f === 'processTimers' || f === 'listOnTimeout' || f === 'processImmediate') return 'timers/immediate';
  if (u.includes('node:events') || u.includes('internal/events') || f === 'emit') return 'events';
  if (u.startsWith('node:') || u.startsWith('internal')) return 'node other';
  if (u === '') return `native:${f || '(anonymous)'}`;
  // Bundled sluice: attribute by the function's name (esbuild keeps names), else 'bundle'.
  return 'sluice (bundle)';
}

/** Sums self time per function and per category from a .cpuprofile. */
export function summarize(p: Profile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const cat = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') continue;
    total += us;
    const file = cf.url.split('/').pop() ?? '';
    const key = `${cf.functionName || '(anonymous)'} ${file}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const c = category(cf);
    cat.set(c, (cat.get(c) ?? 0) + us);
  }
  const sort = (m: Map<string, number>): Array<{ name: string; us: number }> =>
    [...m.entries()].map(([name, us]) => ({ name, us })).sort((a, b) => b.us - a.us);
  return { totalUs: total, byFunction: sort(fn), byCategory: sort(cat) };
}

/** Voluntary context switches of the main thread of `pid` (each one a wait in the event loop). */
function wakeups(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(s);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds per thread name of `pid` (main thread: 'main'): `u` from /proc/PID/task/TID/schedstat
 * (time on CPU, nanosecond resolution, user and kernel together), `s` = 0. /proc/PID/stat's
 * utime/stime count 10 ms ticks, too coarse for sub-second differences per thread.
 */
function threadCpu(pid: number): Map<string, { u: number; s: number }> {
  const out = new Map<string, { u: number; s: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/\d+$/, '');
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const e = out.get(name) ?? { u: 0, s: 0 };
      e.u += ns / 1e9;
      out.set(name, e);
    } catch {
      // thread gone
    }
  }
  return out;
}

function threadDelta(a: Map<string, { u: number; s: number }>, b: Map<string, { u: number; s: number }>): string {
  const parts: string[] = [];
  for (const [name, v] of b) {
    const o = a.get(name) ?? { u: 0, s: 0 };
    const du = v.u - o.u;
    const ds = v.s - o.s;
    if (du + ds > 0.005) parts.push(`${name} ${(du + ds).toFixed(3)} s`);
  }
  return parts.join(', ');
}

function mainDelta(a: Map<string, { u: number; s: number }>, b: Map<string, { u: number; s: number }>): number {
  const x = a.get('main') ?? { u: 0, s: 0 };
  const y = b.get('main') ?? { u: 0, s: 0 };
  return y.u + y.s - x.u - x.s;
}

interface Run {
  rateMbps: number;
  seconds: number;
  sent: number;
  delivered: number;
  cpu: { send: number; recv: number };
  wakeups: { send: number; recv: number };
  profiles: { send: ProfileSummary | null; recv: ProfileSummary | null };
  threads: { send: string; recv: string };
  /** CPU seconds of the main (event-loop) thread alone. */
  mainCpu: { send: number; recv: number };
}

async function runOnce(cli: string, rateMbps: number, seconds: number, prof: boolean, profDir: string, extraQuery: string, extraNode: string[]): Promise<Run> {
  const sink = await UdpSink.open(Math.ceil(((rateMbps * 1e6 * (seconds + 3)) / 8 / DATAGRAM_BYTES) * 1.3) + 10_000);
  const [listenPort, inputPort] = (await freeUdpPorts(2)) as [number, number];
  const q = `key=${encodeURIComponent(KEY)}&latency=120&rate=${Math.max(1, rateMbps)}mbit${extraQuery}`;
  const sendDir = join(profDir, `send-${rateMbps}`);
  const recvDir = join(profDir, `recv-${rateMbps}`);
  mkdirSync(sendDir, { recursive: true });
  mkdirSync(recvDir, { recursive: true });
  const nodeArgs = (dir: string): string[] => [...extraNode, ...(prof ? ['--cpu-prof', '--cpu-prof-dir', dir] : [])];
  const recv = new Child('recv', process.execPath, [...nodeArgs(recvDir), cli, 'recv', `sluice://127.0.0.1:${listenPort}?${q}`, `udp://127.0.0.1:${sink.port}`]);
  await recv.waitFor(/"event":"listening"/, 10_000);
  const send = new Child('send', process.execPath, [...nodeArgs(sendDir), cli, 'send', `udp://127.0.0.1:${inputPort}`, `sluice://127.0.0.1:${listenPort}?${q}`]);
  await send.waitFor(/"event":"connected"/, 15_000);
  const source = await UdpSource.open('127.0.0.1', inputPort);
  // Warm-up (JIT), not measured.
  source.start(rateMbps * 1e6);
  await sleep(1000);
  const s0 = source.nextSeq;
  const c0 = { send: cpuSeconds(send.pid), recv: cpuSeconds(recv.pid) };
  const w0 = { send: wakeups(send.pid), recv: wakeups(recv.pid) };
  const t0 = { send: threadCpu(send.pid), recv: threadCpu(recv.pid) };
  await sleep(seconds * 1000);
  const c1 = { send: cpuSeconds(send.pid), recv: cpuSeconds(recv.pid) };
  const w1 = { send: wakeups(send.pid), recv: wakeups(recv.pid) };
  const t1 = { send: threadCpu(send.pid), recv: threadCpu(recv.pid) };
  const s1 = source.nextSeq;
  source.stop();
  await sleep(500);
  const delivered = sink.uniqueIn(s0, s1);
  await source.close();
  await send.stop('SIGINT', 5000);
  await recv.stop('SIGINT', 5000);
  await sink.close();
  writeFileSync(join(sendDir, 'output.log'), send.lines.join('\n') + '\n');
  writeFileSync(join(recvDir, 'output.log'), recv.lines.join('\n') + '\n');
  const load = (dir: string): ProfileSummary | null => {
    if (!prof) return null;
    const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
    return f === undefined ? null : summarize(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile);
  };
  return {
    rateMbps,
    seconds,
    sent: s1 - s0,
    delivered,
    cpu: { send: c1.send - c0.send, recv: c1.recv - c0.recv },
    wakeups: { send: (w1.send - w0.send) / seconds, recv: (w1.recv - w0.recv) / seconds },
    profiles: { send: load(sendDir), recv: load(recvDir) },
    threads: { send: threadDelta(t0.send, t1.send), recv: threadDelta(t0.recv, t1.recv) },
    mainCpu: { send: mainDelta(t0.send, t1.send), recv: mainDelta(t0.recv, t1.recv) },
  };
}

function printRun(r: Run, top: number): void {
  const mb = (r.delivered * DATAGRAM_BYTES) / 1e6;
  const pps = r.sent / r.seconds;
  console.log(
    `\n== ${r.rateMbps} Mbit/s, ${r.seconds} s: sent ${r.sent}, delivered ${r.delivered} (${((100 * r.delivered) / Math.max(1, r.sent)).toFixed(2)}%), ${pps.toFixed(0)} pkt/s`,
  );
  for (const side of ['send', 'recv'] as const) {
    const cpu = r.cpu[side];
    console.log(
      `  ${side}: CPU ${cpu.toFixed(2)} s (${((100 * cpu) / r.seconds).toFixed(1)}% of a core), ${(cpu / Math.max(mb, 1e-9)).toFixed(4)} CPU-s/MB, ` +
        `${((cpu * 1e6) / Math.max(1, r.delivered)).toFixed(1)} µs/packet, wakeups ${r.wakeups[side].toFixed(0)}/s (${(r.wakeups[side] / Math.max(1, pps)).toFixed(2)} per packet)`,
    );
  }
  for (const side of ['send', 'recv'] as const) {
    const m = r.mainCpu[side];
    console.log(`  ${side} threads: ${r.threads[side]}; main thread ${((m * 1e6) / Math.max(1, r.delivered)).toFixed(1)} µs/packet`);
  }
  console.log(`  both: ${((r.cpu.send + r.cpu.recv) / Math.max(mb, 1e-9)).toFixed(4)} CPU-s/MB`);
  for (const side of ['send', 'recv'] as const) {
    const p = r.profiles[side];
    if (p === null) continue;
    const t = p.totalUs;
    console.log(`  ${side} profile: ${(t / 1e6).toFixed(2)} s sampled (not idle)`);
    console.log('    by category: ' + p.byCategory.slice(0, 10).map((c) => `${c.name} ${((100 * c.us) / t).toFixed(1)}%`).join(', '));
    for (const f of p.byFunction.slice(0, top)) console.log(`    ${((100 * f.us) / t).toFixed(1).padStart(5)}%  ${(f.us / 1000).toFixed(0).padStart(6)} ms  ${f.name}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rates: { type: 'string', default: '10,100' },
      seconds: { type: 'string', default: '5' },
      top: { type: 'string', default: '12' },
      keep: { type: 'string' },
      'no-prof': { type: 'boolean', default: false },
      query: { type: 'string', default: '' },
      'node-args': { type: 'string', default: '' },
      cli: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log('Usage: node --import tsx bench/cpu-profile.ts [--rates 10,100] [--seconds 5] [--top 12] [--keep DIR] [--no-prof] [--query "&fec=off"] [--node-args "--trace-deopt"] [--cli PATH]');
    return;
  }
  const rates = values.rates.split(',').map(Number);
  const seconds = Number(values.seconds);
  const top = Number(values.top);
  const b = values.cli === undefined ? bundle(['src/cli/main.ts'])[0]! : null;
  const cli = values.cli ?? b!.file;
  const profDir = mkdtempSync(join(tmpdir(), 'sluice-prof-'));
  try {
    console.log(`cpu-profile: sluice ${b?.source ?? cli}, profiler ${values['no-prof'] ? 'off' : 'on'}`);
    for (const rate of rates) printRun(await runOnce(cli, rate, seconds, !values['no-prof'], profDir, values.query, values['node-args'].split(' ').filter((x) => x !== '')), top);
    if (values.keep !== undefined) cpSync(profDir, values.keep, { recursive: true });
  } finally {
    rmSync(profDir, { recursive: true, force: true });
    b?.dispose();
  }
}

await main();
