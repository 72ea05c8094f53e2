/**
 * Memory per connection: sluice holding 100 connections in one process, against SRT's one
 * process pair per stream (issue 8, "Memory"; goal: sluice <= 0.5 MB per additional connection).
 *
 * ```sh
 * node --import tsx bench/memory-100.ts            # 100 sluice connections, 20 SRT pairs, 2 Mbit/s each
 * node --import tsx bench/memory-100.ts --quick    # shorter settling
 * node --import tsx bench/memory-100.ts --connections 100 --srt-pairs 20 --rate 2 --json PATH
 * node --import tsx bench/memory-100.ts --no-srt --ref HEAD~3   # sluice only, library from a revision
 * node --import tsx bench/memory-100.ts --no-srt --heap-snapshots DIR  # + heap growth per connection by constructor
 * node --import tsx bench/memory-100.ts --no-srt --semi-space 16       # V8 young generation pinned (diagnosis)
 * ```
 *
 * sluice: a child process (bench/lib/memory-child.ts, bundled by esbuild, `--expose-gc`) listens
 * on 127.0.0.1; a second child opens the connections (10, then the rest) and streams 1316-byte
 * frames at `--rate` Mbit/s on each. The listener's memory is sampled after two full GCs with
 * no connection, with 10, and with all of them streaming: RSS and PSS (/proc/self/smaps_rollup)
 * per additional connection, both from zero ((M_N - M_0) / N: includes code compiled for the
 * first connection) and at the margin ((M_N - M_10) / (N - 10)), with the accountant's
 * reserved and capacity bytes per connection beside them (`snapshot().connections`).
 *
 * SRT: `--srt-pairs` pairs of `srt-live-transmit` (udp -> srt caller, srt listener -> udp),
 * each carrying `--rate` Mbit/s from a source in this process to a sink in this process;
 * private memory per stream is the PSS of both processes of a pair (and of each side).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Child, REPO, bundle, cpuSeconds, freeUdpPorts, procMemory, sleep, udpDropsByPort } from './lib/proc.js';
import { DATAGRAM_BYTES, UdpSink, UdpSource } from './lib/udp-stream.js';

const KEY = 'memory-100 bench key 0123456789';
const MB = 1024 * 1024;
/** The goal of issue 8: bytes per additional connection. */
const GOAL_BYTES = 0.5 * MB;

interface Sample {
  readonly memory: Record<string, number>;
  readonly accountant?: Record<string, unknown> & { connReservedPerConnection?: number; connCapacityPerConnection?: number };
  readonly totals?: Record<string, number>;
  readonly socket?: Record<string, number>;
  readonly open: number;
  readonly receiving?: number;
  readonly frames?: number;
  readonly lostSequences?: number;
  readonly sent?: number;
  readonly refused?: number;
  readonly loop?: Record<string, number>;
}

function waitReady(c: Child, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${c.name}: not ready within ${timeoutMs} ms:\n${c.tail(20)}`)), timeoutMs);
    c.proc.on('message', (m: unknown) => {
      if ((m as { re?: unknown }).re === 'ready') {
        clearTimeout(t);
        resolve(m as Record<string, unknown>);
      }
    });
    void c.exited.then((code) => reject(new Error(`${c.name}: exited (${code}):\n${c.tail(20)}`)));
  });
}

let reqSeq = 0;
function ask<T>(c: Child, cmd: string, extra: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
  return c.request<T>({ id: `${cmd}-${++reqSeq}`, cmd, ...extra }, timeoutMs);
}

const mb = (b: number): string => (Number.isFinite(b) ? (b / MB).toFixed(3) : 'n/a');

interface SluiceResult {
  readonly connections: number;
  readonly rateMbps: number;
  readonly listener: { readonly idle: Sample; readonly at10: Sample; readonly atN: Sample };
  readonly callers: { readonly at10: Sample; readonly atN: Sample };
  /** Delivered Mbit/s across all connections over the last 2 s before the final sample. */
  readonly deliveredMbps: number;
  /** CPU cores used by the listener and the callers over the last 2 s (saturation check). */
  readonly cores: { readonly listener: number; readonly callers: number };
  /** Kernel drops at the listener's UDP socket over the same 2 s (its receive buffer was full). */
  readonly listenerSocketDrops: number;
  readonly perConnection: {
    readonly rssFromZero: number;
    readonly rssMarginal: number;
    /** rssMarginal less the growth of V8's young generation over the same step (see the report line). */
    readonly rssMarginalLessNewSpace: number;
    readonly pssFromZero: number;
    readonly pssMarginal: number;
    readonly heapFromZero: number;
    readonly accountedReserved: number;
    readonly accountedCapacity: number;
    readonly callerRssMarginal: number;
  };
  readonly leaks: string;
  readonly openErrors: string[];
  /** Event-loop delay and GC of the listener from the 10-connection sample to the end of settling. */
  readonly loopOpening?: Record<string, number>;
}

/** Self size and count per `type:name` of a V8 heap snapshot (`.heapsnapshot` JSON). */
function heapCensus(path: string): Map<string, { size: number; count: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const out = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!] ?? '?';
    let name = snap.strings[snap.nodes[i + iName]!] ?? '?';
    // Strings, numbers and code are one bucket per type (their names are their contents).
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'code') name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const k = `${type}:${name}`;
    const e = out.get(k);
    if (e === undefined) out.set(k, { size: snap.nodes[i + iSize]!, count: 1 });
    else {
      e.size += snap.nodes[i + iSize]!;
      e.count++;
    }
  }
  return out;
}

/** Lines of the heap growth per connection between two snapshots, largest first. */
function heapGrowth(before: string, after: string, connections: number, top: number): string[] {
  const a = heapCensus(before);
  const b = heapCensus(after);
  const rows: Array<{ k: string; size: number; count: number }> = [];
  for (const [k, v] of b) {
    const w = a.get(k) ?? { size: 0, count: 0 };
    rows.push({ k, size: (v.size - w.size) / connections, count: (v.count - w.count) / connections });
  }
  rows.sort((x, y) => y.size - x.size);
  const total = rows.reduce((t, r) => t + r.size, 0);
  return [
    `heap snapshot growth per connection: ${(total / 1024).toFixed(1)} KiB in all (self sizes; typed-array data is in 'native'/'system' rows)`,
    ...rows.slice(0, top).map((r) => `  ${(r.size / 1024).toFixed(2).padStart(8)} KiB  ${r.count.toFixed(1).padStart(7)} objects  ${r.k}`),
  ];
}

async function runSluice(
  file: string,
  connections: number,
  rateMbps: number,
  settleMs: number,
  snapDir?: string,
  semiSpaceMb?: number,
): Promise<SluiceResult> {
  const rateBps = rateMbps * 1e6;
  // --semi-space pins V8's young generation (both flags, in MB) so that its growth with the
  // allocation rate does not land on the per-connection figures (diagnosis; off by default).
  const v8Flags = semiSpaceMb === undefined ? [] : [`--min-semi-space-size=${semiSpaceMb}`, `--max-semi-space-size=${semiSpaceMb}`];
  const listener = new Child('sluice listener', process.execPath, ['--expose-gc', ...v8Flags, file, 'listener', KEY, String(rateBps)], { ipc: true });
  let callers: Child | null = null;
  try {
    const ready = await waitReady(listener, 15_000);
    const port = ready.port as number;
    await sleep(1000);
    const idle = await ask<Sample>(listener, 'sample');
    callers = new Child('sluice callers', process.execPath, ['--expose-gc', file, 'callers', KEY, String(rateBps), String(port)], { ipc: true });
    await waitReady(callers, 15_000);
    const first = Math.min(10, connections);
    const o1 = await ask<{ open: number; errors: string[] }>(callers, 'open', { count: first }, 120_000);
    await sleep(settleMs);
    const at10 = await ask<Sample>(listener, 'sample', snapDir === undefined ? {} : { heapSnapshot: join(snapDir, 'at10.heapsnapshot') }, 120_000);
    const c10 = await ask<Sample>(callers, 'sample');
    const o2 = await ask<{ open: number; errors: string[] }>(callers, 'open', { count: connections - first }, 300_000);
    process.stderr.write(`memory-100: ${o2.open} sluice connections open, streaming...\n`);
    await sleep(Math.max(1000, settleMs - 2000));
    const a = await ask<Sample>(listener, 'sample');
    const drops0 = udpDropsByPort().get(port) ?? 0;
    const cpuL0 = cpuSeconds(listener.pid);
    const cpuC0 = cpuSeconds(callers.pid);
    await sleep(2000);
    // CPU cores used by each child over the 2 s window (a core near 1.0 means saturated).
    const cores = { listener: (cpuSeconds(listener.pid) - cpuL0) / 2, callers: (cpuSeconds(callers.pid) - cpuC0) / 2 };
    // Datagrams the kernel dropped at the listener's socket in the window (receive buffer full).
    const listenerSocketDrops = (udpDropsByPort().get(port) ?? 0) - drops0;
    const atN = await ask<Sample>(listener, 'sample', snapDir === undefined ? {} : { heapSnapshot: join(snapDir, 'atN.heapsnapshot') }, 120_000);
    const cN = await ask<Sample>(callers, 'sample');
    const deliveredMbps = (((atN.frames ?? 0) - (a.frames ?? 0)) * DATAGRAM_BYTES * 8) / 2 / 1e6;
    await ask(callers, 'close', {}, 30_000);
    const closed = await ask<{ leaks: string }>(listener, 'close', {}, 30_000);
    const n = atN.open;
    const d = (k: string, x: Sample, y: Sample): number => (x.memory[k] ?? NaN) - (y.memory[k] ?? NaN);
    return {
      connections: n,
      rateMbps,
      listener: { idle, at10, atN },
      callers: { at10: c10, atN: cN },
      deliveredMbps,
      cores,
      listenerSocketDrops,
      perConnection: {
        rssFromZero: d('rss', atN, idle) / n,
        rssMarginal: d('rss', atN, at10) / (n - at10.open),
        rssMarginalLessNewSpace: (d('rss', atN, at10) - d('newSize', atN, at10)) / (n - at10.open),
        pssFromZero: d('pss', atN, idle) / n,
        pssMarginal: d('pss', atN, at10) / (n - at10.open),
        heapFromZero: d('heapUsed', atN, idle) / n,
        accountedReserved: atN.accountant?.connReservedPerConnection ?? NaN,
        accountedCapacity: atN.accountant?.connCapacityPerConnection ?? NaN,
        callerRssMarginal: d('rss', cN, c10) / (cN.open - c10.open),
      },
      leaks: closed.leaks,
      openErrors: [...o1.errors, ...o2.errors].slice(0, 10),
      ...(a.loop !== undefined ? { loopOpening: a.loop } : {}),
    };
  } finally {
    if (callers !== null) await callers.stop('SIGTERM', 2000);
    await listener.stop('SIGTERM', 2000);
  }
}

interface SrtResult {
  readonly pairs: number;
  readonly rateMbps: number;
  readonly streaming: number;
  readonly deliveredMbps: number;
  readonly perStream: { readonly pss: number; readonly senderPss: number; readonly receiverPss: number; readonly rss: number; readonly privateBytes: number };
  readonly totalPss: number;
}

async function runSrt(pairs: number, rateMbps: number, settleMs: number): Promise<SrtResult> {
  const kids: Child[] = [];
  const sinks: UdpSink[] = [];
  const sources: UdpSource[] = [];
  const lanes: Array<{ sender: Child; receiver: Child; sink: UdpSink }> = [];
  try {
    for (let i = 0; i < pairs; i++) {
      const sink = await UdpSink.open(Math.ceil(((rateMbps * 1e6) / 8 / DATAGRAM_BYTES) * (settleMs / 1000 + 60)));
      sinks.push(sink);
      const [listenPort, inputPort] = (await freeUdpPorts(2)) as [number, number];
      const receiver = new Child(`srt recv ${i}`, 'srt-live-transmit', ['-v', `srt://127.0.0.1:${listenPort}?latency=120&mode=listener`, `udp://127.0.0.1:${sink.port}`]);
      kids.push(receiver);
      await receiver.waitFor(/^ listen\.\.\./, 10_000);
      const sender = new Child(`srt send ${i}`, 'srt-live-transmit', ['-v', `udp://127.0.0.1:${inputPort}`, `srt://127.0.0.1:${listenPort}?latency=120`]);
      kids.push(sender);
      await sender.waitFor(/SRT target connected/, 10_000);
      await receiver.waitFor(/Accepted SRT source connection/, 5_000);
      const source = await UdpSource.open('127.0.0.1', inputPort);
      sources.push(source);
      source.start(rateMbps * 1e6);
      lanes.push({ sender, receiver, sink });
    }
    process.stderr.write(`memory-100: ${pairs} SRT pairs streaming...\n`);
    await sleep(Math.max(1000, settleMs - 2000));
    const u0 = sinks.reduce((s, k) => s + k.unique, 0);
    await sleep(2000);
    const u1 = sinks.reduce((s, k) => s + k.unique, 0);
    let pss = 0;
    let sPss = 0;
    let rPss = 0;
    let rss = 0;
    let priv = 0;
    let streaming = 0;
    const last = sinks.map((k) => k.unique);
    await sleep(200);
    for (const [i, l] of lanes.entries()) {
      const s = procMemory(l.sender.pid);
      const r = procMemory(l.receiver.pid);
      pss += s.pss + r.pss;
      sPss += s.pss;
      rPss += r.pss;
      rss += s.rss + r.rss;
      priv += s.privateBytes + r.privateBytes;
      if (l.sink.unique > (last[i] ?? 0)) streaming++;
    }
    const n = lanes.length;
    return {
      pairs: n,
      rateMbps,
      streaming,
      deliveredMbps: ((u1 - u0) * DATAGRAM_BYTES * 8) / 2 / 1e6,
      perStream: { pss: pss / n, senderPss: sPss / n, receiverPss: rPss / n, rss: rss / n, privateBytes: priv / n },
      totalPss: pss,
    };
  } finally {
    for (const s of sources) await s.close();
    await Promise.all(kids.map((k) => k.stop('SIGTERM', 2000)));
    for (const s of sinks) await s.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      connections: { type: 'string' },
      'srt-pairs': { type: 'string' },
      rate: { type: 'string' },
      settle: { type: 'string' },
      json: { type: 'string' },
      ref: { type: 'string' },
      'no-srt': { type: 'boolean' },
      'no-sluice': { type: 'boolean' },
      strict: { type: 'boolean' },
      'heap-snapshots': { type: 'string' },
      'semi-space': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'Usage: node --import tsx bench/memory-100.ts [--quick] [--connections 100] [--srt-pairs 20] [--rate MBIT]\n' +
        '  [--settle SECONDS] [--json PATH] [--ref GIT-REV] [--no-srt] [--no-sluice] [--strict] [--heap-snapshots DIR] [--semi-space MB]\n',
    );
    return 0;
  }
  const int = (name: string, v: string | undefined, def: number, min: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new RangeError(`--${name}: expected a number >= ${min}, got "${v}"`);
    return n;
  };
  const quick = values.quick === true;
  const connections = Math.floor(int('connections', values.connections, 100, 11));
  const pairs = Math.floor(int('srt-pairs', values['srt-pairs'], 20, 1));
  const rateMbps = int('rate', values.rate, 2, 0.1);
  const settleMs = int('settle', values.settle, quick ? 4 : 8, 1) * 1000;
  const jsonPath = values.json ?? join(REPO, 'bench', 'results', 'memory-100.json');
  const started = new Date();
  const load0 = loadavg();
  let sluice: SluiceResult | null = null;
  let srt: SrtResult | null = null;
  const built = values['no-sluice'] === true ? null : bundle(['bench/lib/memory-child.ts'], values.ref)[0]!;
  try {
    if (built !== null) {
      process.stderr.write(`memory-100: sluice (${built.source}), ${connections} connections at ${rateMbps} Mbit/s...\n`);
      const snapDir = values['heap-snapshots'];
      if (snapDir !== undefined) mkdirSync(snapDir, { recursive: true });
      const semi = values['semi-space'] === undefined ? undefined : Math.floor(int('semi-space', values['semi-space'], 16, 1));
      sluice = await runSluice(built.file, connections, rateMbps, settleMs, snapDir, semi);
      if (snapDir !== undefined) {
        const n = sluice.connections - sluice.listener.at10.open;
        for (const l of heapGrowth(join(snapDir, 'at10.heapsnapshot'), join(snapDir, 'atN.heapsnapshot'), n, 40)) console.log(l);
      }
    }
    if (values['no-srt'] !== true) {
      process.stderr.write(`memory-100: SRT, ${pairs} srt-live-transmit pairs at ${rateMbps} Mbit/s...\n`);
      srt = await runSrt(pairs, rateMbps, settleMs);
    }
  } finally {
    built?.dispose();
  }

  console.log(`memory-100: ${cpus().length} CPUs, node ${process.version}, load ${load0.map((x) => x.toFixed(1)).join(' ')}`);
  if (sluice !== null) {
    const s = sluice;
    const L = s.listener;
    console.log(
      `\nsluice: one listener process, ${s.connections} connections at ${s.rateMbps} Mbit/s (delivered ${s.deliveredMbps.toFixed(1)} Mbit/s in total, ${L.atN.receiving} connections receiving; CPU cores used: listener ${s.cores.listener.toFixed(2)}, callers ${s.cores.callers.toFixed(2)}; kernel drops at the listener socket ${s.listenerSocketDrops} in 2 s)`,
    );
    console.log(`  listener RSS  MB: idle ${mb(L.idle.memory.rss!)}, 10 conns ${mb(L.at10.memory.rss!)}, ${s.connections} conns ${mb(L.atN.memory.rss!)}`);
    console.log(`  listener PSS  MB: idle ${mb(L.idle.memory.pss!)}, 10 conns ${mb(L.at10.memory.pss!)}, ${s.connections} conns ${mb(L.atN.memory.pss!)}`);
    console.log(`  listener heap MB: idle ${mb(L.idle.memory.heapUsed!)}, ${s.connections} conns ${mb(L.atN.memory.heapUsed!)}; arrayBuffers ${mb(L.atN.memory.arrayBuffers!)}`);
    const p = s.perConnection;
    console.log(`  per additional connection: RSS ${mb(p.rssFromZero)} MB from zero, ${mb(p.rssMarginal)} MB at the margin (10 -> ${s.connections}); PSS ${mb(p.pssFromZero)} / ${mb(p.pssMarginal)} MB`);
    console.log(
      `  accountant per connection: ${mb(p.accountedReserved)} MB reserved by its accounts (pool slots excluded), ${mb(p.accountedCapacity)} MB declared capacity (the send queue's limit counts frames held by reference)`,
    );
    const kinds = (L.atN.accountant?.reservedPerConnectionByAccount ?? {}) as Record<string, number>;
    console.log(
      `  reserved per connection by account: ${Object.entries(kinds)
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KiB`)
        .join(', ')}`,
    );
    // What the accountant knows a connection holds: its own reservations (index tables, rings)
    // plus the packet-pool slots it holds (reported as used by its accounts; the pool reserves
    // the slabs), plus its share of the free slots the pool keeps after a high-water mark.
    const acc = L.atN.accountant as (Record<string, unknown> & { poolSlabBytes?: number; poolInUseBytes?: number; usedPerConnectionByAccount?: Record<string, number> }) | undefined;
    const used = acc?.usedPerConnectionByAccount ?? {};
    const slots = (used['reorder'] ?? 0) + (used['fec-dec'] ?? 0) + (used['fec-enc'] ?? 0) + (used['send'] ?? 0);
    const free = ((acc?.poolSlabBytes ?? 0) - (acc?.poolInUseBytes ?? 0)) / s.connections;
    const own = p.accountedReserved;
    console.log(
      `  accounted per connection, KiB: ${(own / 1024).toFixed(0)} own tables + ${(slots / 1024).toFixed(0)} pool slots held (${['reorder', 'fec-dec', 'send', 'fec-enc']
        .filter((k) => (used[k] ?? 0) > 0)
        .map((k) => `${k} ${((used[k] ?? 0) / 1024).toFixed(0)}`)
        .join(', ')}) + ${(free / 1024).toFixed(0)} free pool slots (share) = ${((own + slots + free) / 1024).toFixed(0)}`,
    );
    const dk = (k: string): string => ((((L.atN.memory[k] ?? NaN) - (L.idle.memory[k] ?? NaN)) / s.connections) / 1024).toFixed(0);
    console.log(`  growth per connection from zero, KiB: arrayBuffers ${dk('arrayBuffers')}, V8 heap total ${dk('heapTotal')} (used ${dk('heapUsed')}), RSS ${dk('rss')}`);
    const dm = (k: string): string => ((((L.atN.memory[k] ?? NaN) - (L.at10.memory[k] ?? NaN)) / (s.connections - L.at10.open)) / 1024).toFixed(0);
    console.log(
      `  growth per connection at the margin, KiB: RSS ${dm('rss')} = arrayBuffers ${dm('arrayBuffers')} + V8 new space ${dm('newSize')} + old space ${dm('oldSize')} + code ${dm('codeSize')} + the rest (malloc, native)`,
    );
    console.log(
      `  resident pages per connection at the margin, KiB: brk heap (main malloc arena) ${dm('brkRss')}, anonymous mappings (V8 pages, large backing stores, thread arenas) ${dm('anonRss')}, files ${dm('fileRss')}`,
    );
    console.log(
      `  RSS at the margin less V8's young-generation growth: ${mb(p.rssMarginalLessNewSpace)} MB per connection (V8 grows its semi-spaces with the process's allocation rate up to a cap, 32 MiB in Node 20 unless --max-semi-space-size says otherwise: a process-wide cost that stops growing, not a per-connection one)`,
    );
    console.log(
      `  V8 spaces per connection from zero, KiB (size/used): new ${dk('newSize')}/${dk('newUsed')}, old ${dk('oldSize')}/${dk('oldUsed')}, large objects ${dk('large_objectSize')}/${dk('large_objectUsed')}, code ${dk('codeSize')}/${dk('codeUsed')}`,
    );
    console.log(`  callers process: RSS ${mb(s.callers.atN.memory.rss!)} MB, ${mb(p.callerRssMarginal)} MB per additional connection; frames sent ${s.callers.atN.sent}, refused ${s.callers.atN.refused}`);
    console.log(`  leak check after close: ${s.leaks}${s.openErrors.length > 0 ? `; connect errors: ${s.openErrors.join('; ')}` : ''}`);
    console.log(`  listener totals at ${s.connections}: ${JSON.stringify(L.atN.totals)}; lost sequences reported ${L.atN.lostSequences}`);
    console.log(`  listener pools: ${JSON.stringify(L.atN.accountant?.pools)}; socket ${JSON.stringify(L.atN.socket)}`);
    const lp = (x: Sample): string => {
      const l = x.loop ?? {};
      return `event-loop delay p99 ${(l.loopDelayP99Ms ?? NaN).toFixed(1)} ms, max ${(l.loopDelayMaxMs ?? NaN).toFixed(1)} ms; GC ${(l.gcMs ?? NaN).toFixed(0)} ms (longest ${(l.gcMaxMs ?? NaN).toFixed(1)} ms, ${l.majorGcs ?? NaN} mark-compact)`;
    };
    console.log(`  listener loop while the ${s.connections - L.at10.open} connections opened and settled: ${lp({ ...L.atN, loop: s.loopOpening })}`);
    console.log(`  listener loop over the measured 2 s: ${lp(L.atN)}`);
    const expected = s.connections * s.rateMbps;
    if (s.deliveredMbps < 0.9 * expected) {
      console.log(
        `  WARNING: ${s.deliveredMbps.toFixed(1)} of ${expected} Mbit/s delivered over the last 2 s: the connections were not all streaming at full rate, so these memory figures describe a degraded state`,
      );
    }
  }
  if (srt !== null) {
    const r = srt;
    console.log(`\nSRT: ${r.pairs} srt-live-transmit pairs at ${r.rateMbps} Mbit/s (${r.streaming} streaming, ${r.deliveredMbps.toFixed(1)} Mbit/s delivered in total)`);
    console.log(
      `  per stream: PSS ${mb(r.perStream.pss)} MB (sender ${mb(r.perStream.senderPss)}, receiver ${mb(r.perStream.receiverPss)}), RSS ${mb(r.perStream.rss)} MB, private ${mb(r.perStream.privateBytes)} MB; total PSS ${mb(r.totalPss)} MB`,
    );
  }
  const goals: Array<{ name: string; met: boolean; detail: string }> = [];
  if (sluice !== null) {
    const p = sluice.perConnection;
    goals.push({
      name: 'sluice <= 0.5 MB RSS per additional connection',
      met: p.rssFromZero <= GOAL_BYTES,
      detail: `${mb(p.rssFromZero)} MB from zero, ${mb(p.rssMarginal)} MB at the margin`,
    });
    if (srt !== null) {
      console.log(
        `\nRatio sluice/SRT memory per stream: ${(p.rssFromZero / srt.perStream.pss).toFixed(3)} (sluice listener RSS per connection from zero / SRT pair PSS per stream); ` +
          `receiving side only: ${(p.rssFromZero / srt.perStream.receiverPss).toFixed(3)}`,
      );
    }
  }
  for (const g of goals) console.log(`\n[${g.met ? 'met' : 'NOT met'}] ${g.name}: ${g.detail}`);
  const report = {
    suite: 'memory-100',
    started: started.toISOString(),
    finished: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavgStart: load0, loadavgEnd: loadavg() },
    settings: { connections, pairs, rateMbps, settleMs, quick, semiSpaceMb: values['semi-space'] ?? null },
    sluice,
    srt,
    goals,
  };
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify(report, null, 2));
  console.log(`\nJSON: ${jsonPath}`);
  return values.strict === true && goals.some((g) => !g.met) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 500).unref();
  },
  (e: unknown) => {
    process.stderr.write(`memory-100: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
