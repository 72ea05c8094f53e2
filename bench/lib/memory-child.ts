/**
 * The child processes of bench/memory-100.ts, driven over IPC (bundled by esbuild and run with
 * `node --expose-gc`):
 *
 * - `listener`: one sluice listener on 127.0.0.1 that accepts every connection and counts its
 *   frames. `{ id, cmd: 'sample' }` replies with the process memory (after two full GCs), the
 *   accountant's figures and the frame counts; `{ id, cmd: 'close' }` closes the server and
 *   replies with the accountant's leak check.
 * - `callers`: `{ id, cmd: 'open', count }` opens `count` more connections to the listener and
 *   streams 1316-byte frames on each at `rateBps` (one shared 5 ms timer for all of them);
 *   `{ id, cmd: 'sample' }` replies with memory and send counts; `{ id, cmd: 'close' }` closes all.
 *
 * Usage: `node --expose-gc memory-child.mjs listener KEY RATE_BPS` /
 * `node --expose-gc memory-child.mjs callers KEY RATE_BPS PORT`.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { connect, listen, type SluiceConnection } from '../../src/io/api.js';
import { MemoryAccountant } from '../../src/core/memory/accountant.js';

const FRAME_BYTES = 1316;
const LATENCY_MS = 120;

interface Msg {
  readonly id: string;
  readonly cmd: string;
  readonly count?: number;
  /** `sample` only: also write a V8 heap snapshot to this path (diagnosis: stalls the process for seconds). */
  readonly heapSnapshot?: string;
}

function reply(m: Msg, body: Record<string, unknown>): void {
  process.send?.({ re: m.id, ...body });
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) {
    g();
    g();
  }
}

/** Memory of this process: V8 figures plus RSS/PSS from /proc/self/smaps_rollup. */
function memory(): Record<string, number> {
  gc();
  const m = process.memoryUsage();
  let pss = NaN;
  let priv = NaN;
  try {
    const t = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (n: string): number => Number(new RegExp(`^${n}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN) * 1024;
    pss = kb('Pss');
    priv = kb('Private_Clean') + kb('Private_Dirty');
  } catch {
    // not Linux
  }
  // Where the resident pages are (/proc/self/smaps): the brk heap (glibc's main malloc arena),
  // anonymous mappings (V8's heap pages, mmapped ArrayBuffer backing stores >= 128 KiB, the other
  // threads' malloc arenas) and file-backed mappings (the node binary, libraries).
  let brkRss = 0;
  let anonRss = 0;
  let fileRss = 0;
  try {
    let kind = 0;
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head !== null) {
        const path = head[1] ?? '';
        kind = path === '[heap]' ? 1 : path === '' || path.startsWith('[anon') ? 2 : 3;
        continue;
      }
      if (line.startsWith('Rss:')) {
        const b = Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
        if (kind === 1) brkRss += b;
        else if (kind === 2) anonRss += b;
        else fileRss += b;
      }
    }
  } catch {
    // not Linux
  }
  // V8's spaces: `new` grows with the allocation rate (semi-spaces), not with what is held.
  const space: Record<string, number> = {};
  for (const sp of getHeapSpaceStatistics()) {
    const k = sp.space_name.replace(/_space$/, '');
    space[`${k}Size`] = sp.space_size;
    space[`${k}Used`] = sp.space_used_size;
  }
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, pss, privateBytes: priv, brkRss, anonRss, fileRss, ...space };
}

/** Sums of a few statistics over connections (for telling a stalled run from a streaming one). */
function connectionTotals(conns: Iterable<SluiceConnection>): Record<string, number> {
  const t = { dataReceived: 0, late: 0, lost: 0, byFec: 0, byArq: 0, duplicate: 0, sentData: 0, retransmit: 0, framesRefused: 0, recvBufferPackets: 0 };
  for (const c of conns) {
    const s = c.stats();
    t.dataReceived += s.received.data;
    t.late += s.received.late;
    t.lost += s.recovery.lost;
    t.byFec += s.recovery.byFec;
    t.byArq += s.recovery.byArq;
    t.duplicate += s.received.duplicate;
    t.sentData += s.sent.data;
    t.retransmit += s.sent.retransmit;
    t.framesRefused += s.sent.framesRefused;
    t.recvBufferPackets += s.receiveBuffer.packets;
  }
  return t;
}

function accountantFigures(a: MemoryAccountant): Record<string, unknown> {
  const s = a.snapshot(performance.now());
  const n = s.connections.length;
  let reserved = 0;
  let capacity = 0;
  let used = 0;
  for (const c of s.connections) {
    reserved += c.reservedBytes;
    capacity += c.capacityBytes;
    used += c.usedBytes;
  }
  const pools = s.pools.map((p) => ({
    name: p.name,
    slotSize: p.slotSize,
    maxSlots: p.maxSlots,
    slotsAllocated: p.slotsAllocated,
    inUse: p.inUse,
    highWater: p.highWater,
    refusedCap: p.refusedCap,
    refusedBudget: p.refusedBudget,
  }));
  // Reserved and used bytes per kind of account (`conn.<id>.<kind>`), averaged over connections.
  const byKind: Record<string, number> = {};
  const usedByKind: Record<string, number> = {};
  for (const acc of s.accounts) {
    if (!acc.name.startsWith('conn.')) continue;
    const dot = acc.name.indexOf('.', 5);
    const kind = dot < 0 ? '(root)' : acc.name.slice(dot + 1);
    byKind[kind] = (byKind[kind] ?? 0) + acc.reservedBytes / Math.max(n, 1);
    usedByKind[kind] = (usedByKind[kind] ?? 0) + acc.usedBytes / Math.max(n, 1);
  }
  // Bytes of the pools' slabs (slots in use and free), and of the slots in use.
  let poolSlabBytes = 0;
  let poolInUseBytes = 0;
  for (const p of s.pools) {
    poolSlabBytes += p.slotsAllocated * p.slotSize;
    poolInUseBytes += p.inUse * p.slotSize;
  }
  return {
    connections: n,
    reservedPerConnectionByAccount: byKind,
    usedPerConnectionByAccount: usedByKind,
    poolSlabBytes,
    poolInUseBytes,
    pools,
    budgetRefusals: s.budgetRefusals,
    reservedBytes: s.reservedBytes,
    connReservedBytes: reserved,
    connReservedPerConnection: n > 0 ? reserved / n : 0,
    connCapacityPerConnection: n > 0 ? capacity / n : 0,
    connUsedPerConnection: n > 0 ? used / n : 0,
    usedBytes: s.usedBytes,
  };
}

/** Event-loop delay and GC pauses since the last sample (a stalled listener drops and delivers late). */
function loopWatch(): () => Record<string, number> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let gcMs = 0;
  let gcMaxMs = 0;
  let majorGcs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      if (e.duration > gcMaxMs) gcMaxMs = e.duration;
      // detail.kind 4 = mark-sweep-compact (NODE_PERFORMANCE_GC_MAJOR)
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 4) majorGcs++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return () => {
    const r = { loopDelayP99Ms: h.percentile(99) / 1e6, loopDelayMaxMs: h.max / 1e6, gcMs, gcMaxMs, majorGcs };
    h.reset();
    gcMs = 0;
    gcMaxMs = 0;
    majorGcs = 0;
    return r;
  };
}

async function runListener(key: string, rateBps: number): Promise<void> {
  const watch = loopWatch();
  const accountant = new MemoryAccountant();
  const server = await listen({ host: '127.0.0.1', port: 0, key, latencyMs: LATENCY_MS, expectedRateBps: rateBps, accountant });
  const frames = new Map<SluiceConnection, number>();
  let total = 0;
  let lost = 0;
  server.on('connection', (c: SluiceConnection) => {
    frames.set(c, 0);
    c.on('frame', () => {
      frames.set(c, (frames.get(c) ?? 0) + 1);
      total++;
    });
    c.on('frame-lost', (l: { count: number }) => (lost += l.count));
    c.once('close', () => frames.delete(c));
  });
  process.on('message', (m: Msg) => {
    if (m.cmd === 'sample') {
      let active = 0;
      for (const n of frames.values()) if (n > 0) active++;
      // The loop figures first (the forced GCs below are ours), then memory: writing a snapshot
      // grows the process.
      const loop = watch();
      const mem = memory();
      if (m.heapSnapshot !== undefined) writeHeapSnapshot(m.heapSnapshot);
      reply(m, {
        memory: mem,
        accountant: accountantFigures(accountant),
        open: server.connectionCount,
        receiving: active,
        frames: total,
        lostSequences: lost,
        totals: connectionTotals(frames.keys()),
        socket: server.socketStats,
        loop,
      });
    } else if (m.cmd === 'close') {
      void server.close().then(() => {
        const leaks = accountant.leakCheck();
        reply(m, { leaks: leaks.ok ? 'none' : leaks.summary });
      });
    }
  });
  process.send?.({ re: 'ready', port: server.address().port });
}

async function runCallers(key: string, rateBps: number, port: number): Promise<void> {
  const conns: SluiceConnection[] = [];
  const frame = new Uint8Array(FRAME_BYTES);
  const fps = rateBps / 8 / FRAME_BYTES;
  let sent = 0;
  let refused = 0;
  const t0 = performance.now();
  let due0 = 0;
  // One timer for every connection: each tick, every connection sends the frames now due.
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * fps) / 1000) - due0;
    if (due <= 0) return;
    due0 += due;
    for (const c of conns) {
      if (c.closed) continue;
      for (let i = 0; i < due; i++) {
        try {
          // copy: false is safe: the frame's bytes never change.
          c.send(frame, { copy: false });
          sent++;
        } catch {
          refused++;
        }
      }
    }
  }, 5);
  process.on('message', (m: Msg) => {
    if (m.cmd === 'open') {
      const count = m.count ?? 0;
      void (async () => {
        const errors: string[] = [];
        // Ten at a time: a burst of handshakes is what a real server sees after a restart.
        for (let i = 0; i < count; i += 10) {
          const batch = Math.min(10, count - i);
          const res = await Promise.allSettled(
            Array.from({ length: batch }, () => connect({ host: '127.0.0.1', port, key, latencyMs: LATENCY_MS, expectedRateBps: rateBps })),
          );
          for (const r of res) {
            if (r.status === 'fulfilled') conns.push(r.value);
            else errors.push((r.reason as Error).message);
          }
        }
        reply(m, { open: conns.length, errors });
      })();
    } else if (m.cmd === 'sample') {
      reply(m, { memory: memory(), open: conns.filter((c) => !c.closed).length, sent, refused, totals: connectionTotals(conns.filter((c) => !c.closed)) });
    } else if (m.cmd === 'close') {
      clearInterval(timer);
      void Promise.all(conns.map((c) => c.close(500).catch(() => undefined))).then(() => reply(m, { closed: conns.length }));
    }
  });
  process.send?.({ re: 'ready' });
}

const [role, key, rate, port] = process.argv.slice(2);
if (key === undefined || rate === undefined) {
  process.stderr.write('usage: memory-child listener KEY RATE_BPS | callers KEY RATE_BPS PORT\n');
  process.exit(2);
}
// The parent going away ends the child (no orphans holding ports).
process.on('disconnect', () => process.exit(0));
if (role === 'listener') await runListener(key, Number(rate));
else if (role === 'callers') await runCallers(key, Number(rate), Number(port));
else {
  process.stderr.write(`memory-child: unknown role ${role}\n`);
  process.exit(2);
}
