/**
 * Child process of `bench/fec.bench.ts`: hosts ONE contender of the FEC comparison and measures
 * it when the parent asks, so that no contender shares a V8 isolate with another.
 *
 * Why separate processes: the WASM package grows its linear memory, and growing a
 * `WebAssembly.Memory` detaches the old ArrayBuffer. The first detach in a process invalidates
 * V8's "array buffer detaching" protector, after which every optimised typed-array access in the
 * process carries a detached check: our JavaScript kernels lose ~25% merely because the WASM
 * peer is loaded beside them. That is a property of co-hosting that library, not of either
 * implementation, so the headline ratio is measured with each contender alone in its process.
 * The `inproc` contender keeps the old arrangement (ours and WASM in one process, the WASM one
 * exercised first) so the bench can still print the in-process ratio, labelled as such.
 *
 * Usage (the parent does this with `child_process.fork` and an IPC channel):
 *   node --expose-gc --import tsx bench/fec-worker.ts <ours|wasm|ronomon|inproc> <quick|full>
 *
 * Protocol (IPC, JSON messages):
 * - child -> parent `{ type: 'ready', tasks }` once set up and warmed up;
 * - parent -> child `{ cmd: 'measure', id, task, ms }`: runs `task` for `ms` milliseconds and
 *   replies `{ type: 'rate', id, rate, cpuRate }`. `rate` is operations per CPU-second of this
 *   process (process.cpuUsage) for the synchronous contenders; for ronomon, whose work runs on
 *   the libuv thread pool and is awaited one operation at a time, `rate` is operations per
 *   wall-clock second and `cpuRate` per CPU-second (all threads of the process);
 * - parent -> child `{ cmd: 'extras', id }` (ours only): sliding-window encode, lossless decode
 *   cost per packet and the allocation figures; replies `{ type: 'extras', id, figures, checks }`;
 * - parent -> child `{ cmd: 'exit' }`.
 * Any failure is reported as `{ type: 'error', message }` and the child exits with status 1.
 *
 * Grid and operations (MB/s are MB of SOURCE payload, k=10 data, m=4 parity, 1200-byte shards):
 * - ours `encode`: StreamingFecEncoder in block mode (window = step = 10, 4 repairs), copying
 *   the sources into its ring and the repairs out; `reconstruct`: StreamingFecDecoder recovering
 *   4 lost packets of 10 from 6 sources + 4 repairs, copying everything in and the payloads out;
 *   `kernel fast` / `kernel reference`: the raw block math on preallocated symbols.
 * - wasm: `@digitaldefiance/reed-solomon-erasure.wasm` encode / reconstruct (its wrapper copies
 *   the shards into WASM memory and back).
 * - ronomon: `@ronomon/reed-solomon` (native C) encode / reconstruct, one operation at a time.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';
import { cauchyCoefficient } from '../src/core/fec/cauchy.js';
import { RecoveredPacket, StreamingFecDecoder } from '../src/core/fec/decoder.js';
import { RepairInfo, StreamingFecEncoder } from '../src/core/fec/encoder.js';
import { mulAdd, mulAddRef, warmUpKernels } from '../src/core/fec/kernels.js';
import { fecSymbolLength } from '../src/core/fec/symbol.js';
import { measureHeap, type Check, type Figure } from './harness.js';

/** Contenders a worker can host. */
export type FecContender = 'ours' | 'wasm' | 'ronomon' | 'inproc';

/** Messages from the parent. */
export type FecWorkerCommand =
  | { cmd: 'measure'; id: number; task: string; ms: number }
  | { cmd: 'extras'; id: number }
  | { cmd: 'exit' };

/** Messages to the parent. */
export type FecWorkerReply =
  | { type: 'ready'; tasks: string[] }
  | { type: 'rate'; id: number; rate: number; cpuRate: number }
  | { type: 'extras'; id: number; figures: Figure[]; checks: Check[] }
  | { type: 'error'; message: string };

/** Data shards. */
export const K = 10;
/** Parity shards. */
export const M = 4;
/** Shard (payload) bytes. */
export const SHARD = 1200;
const MB = 1e6;

const require = createRequire(import.meta.url);

interface RonomonRS {
  create(k: number, m: number): unknown;
  encode(
    ctx: unknown,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    cb: (err: Error | undefined) => void,
  ): void;
}

type SyncTask = () => void;
type AsyncTask = () => Promise<void>;

function fill(buf: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuUs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return c.user + c.system;
}

/**
 * Operations per CPU-second of this process over one window of `ms` CPU milliseconds. CPU time
 * is not stolen by the other jobs of a loaded machine, unlike the wall clock.
 */
function cpuRate(fn: SyncTask, ms: number): number {
  const c0 = process.cpuUsage();
  const budgetUs = ms * 1000;
  let ops = 0;
  let usedUs = 0;
  while (usedUs < budgetUs) {
    for (let i = 0; i < 8; i++) fn();
    ops += 8;
    usedUs = cpuUs(c0);
  }
  return (ops * 1e6) / usedUs;
}

/** Awaited operations per wall second and per CPU-second (every thread) over `ms` wall ms. */
async function wallRate(fn: AsyncTask, ms: number): Promise<{ rate: number; cpuRate: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let ops = 0;
  let elapsed = 0;
  while (elapsed < ms) {
    await fn();
    ops++;
    elapsed = performance.now() - t0;
  }
  return { rate: (ops * 1000) / elapsed, cpuRate: (ops * 1e6) / Math.max(1, cpuUs(c0)) };
}

function loadWasm(): ReedSolomonErasure {
  // The package's sync loader uses __dirname, which its ESM build does not have: load the bytes.
  const main = require.resolve('@digitaldefiance/reed-solomon-erasure.wasm'); // .../dist/index.js
  return ReedSolomonErasure.fromBytes(readFileSync(join(dirname(main), 'reed_solomon_erasure_bg.wasm')));
}

/** Precomputed block-mode stream: 64 blocks (the period of seq mod 128 and repair index mod 128). */
function blockStream(): { payloads: Uint8Array[]; repairs: Uint8Array[]; infos: RepairInfo[] } {
  const enc = new StreamingFecEncoder({ window: K, step: K, repairs: M, maxPayload: SHARD });
  const payloads: Uint8Array[] = [];
  const repairs: Uint8Array[] = [];
  const infos: RepairInfo[] = [];
  for (let i = 0; i < 64 * K; i++) {
    const p = new Uint8Array(SHARD);
    fill(p, i + 1);
    payloads.push(p);
    const n = enc.addSource(i, 0, i * 1000, SHARD, p, 0, SHARD);
    for (let r = 0; r < n; r++) {
      const out = new Uint8Array(enc.maxSymbolLength);
      const info = new RepairInfo();
      enc.pollRepair(out, 0, info);
      repairs.push(out);
      infos.push(info);
    }
  }
  enc.close();
  return { payloads, repairs, infos };
}

/** Our block-mode encode / reconstruct through the streaming API, and the kernel-level tasks. */
function makeOurs(): { tasks: Record<string, SyncTask>; encodeBlock: SyncTask; reconstructBlock: SyncTask; verify: () => void } {
  const stream = blockStream();
  const enc = new StreamingFecEncoder({ window: K, step: K, repairs: M, maxPayload: SHARD });
  const encOut = new Uint8Array(enc.maxSymbolLength);
  const encInfo = new RepairInfo();
  let encSeq = 0;
  const encodeBlock = (): void => {
    for (let i = 0; i < K; i++) {
      const p = stream.payloads[(encSeq + i) & 63]!;
      enc.addSource((encSeq + i) >>> 0, 0, 0, SHARD, p, 0, SHARD);
    }
    encSeq += K;
    while (enc.pollRepair(encOut, 0, encInfo) > 0);
  };
  const dec = new StreamingFecDecoder({ maxWindow: K, maxPayload: SHARD, maxRepairs: 16 });
  const decOut = new Uint8Array(SHARD);
  const rec = new RecoveredPacket();
  let decBlock = 0;
  let recoveredOk = 0;
  const reconstructBlock = (): void => {
    const b = decBlock & 63;
    const shift = (decBlock >>> 6) * 64 * K; // a multiple of 128: same coefficients
    for (let i = M; i < K; i++) {
      const s = b * K + i;
      dec.addSource((s + shift) >>> 0, 0, s * 1000, SHARD, stream.payloads[s]!, 0, SHARD);
    }
    for (let r = 0; r < M; r++) {
      const info = stream.infos[b * M + r]!;
      dec.addRepair((info.windowStart + shift) >>> 0, info.windowLength, info.repairIndex, stream.repairs[b * M + r]!, 0, info.symbolLength);
    }
    while (dec.pollRecovered(decOut, 0, rec) >= 0) recoveredOk++;
    decBlock++;
  };

  // Kernel level: 10 symbols -> 4 repairs, no copies.
  const symLen = fecSymbolLength(SHARD);
  const blocks = symLen >>> 5;
  const words = symLen >>> 2;
  const ksrc = new Uint32Array(words * K);
  fill(new Uint8Array(ksrc.buffer), 5);
  const kdst = new Uint32Array(words * M);
  const coef = new Uint8Array(K * M);
  for (let j = 0; j < M; j++) for (let i = 0; i < K; i++) coef[j * K + i] = cauchyCoefficient(i, j);
  const kernelFast = (): void => {
    kdst.fill(0);
    for (let j = 0; j < M; j++) for (let i = 0; i < K; i++) mulAdd(coef[j * K + i]!, ksrc, i * words, kdst, j * words, blocks);
  };
  const kernelRef = (): void => {
    kdst.fill(0);
    for (let j = 0; j < M; j++) for (let i = 0; i < K; i++) mulAddRef(coef[j * K + i]!, ksrc, i * words, kdst, j * words, blocks);
  };
  const verify = (): void => {
    // The payload of a recovered packet must be the original: check the last block's recoveries.
    const before = decBlock;
    const b = before & 63;
    let got = 0;
    const shift = (before >>> 6) * 64 * K;
    for (let i = M; i < K; i++) {
      const s = b * K + i;
      dec.addSource((s + shift) >>> 0, 0, s * 1000, SHARD, stream.payloads[s]!, 0, SHARD);
    }
    for (let r = 0; r < M; r++) {
      const info = stream.infos[b * M + r]!;
      dec.addRepair((info.windowStart + shift) >>> 0, info.windowLength, info.repairIndex, stream.repairs[b * M + r]!, 0, info.symbolLength);
    }
    let n: number;
    while ((n = dec.pollRecovered(decOut, 0, rec)) >= 0) {
      const want = stream.payloads[(rec.seq - shift) >>> 0];
      if (!want || n !== SHARD || !want.every((v, i) => v === decOut[i]) || rec.timestamp !== ((rec.seq - shift) >>> 0) * 1000) {
        throw new Error(`fec bench: recovered packet ${rec.seq} differs from the original`);
      }
      got++;
    }
    decBlock++;
    if (got !== M) throw new Error(`fec bench: recovered ${got} packets of a block, expected ${M}`);
    if (recoveredOk === 0 || dec.stats.recovered !== recoveredOk + M) {
      throw new Error(`fec bench: the decoder recovered ${dec.stats.recovered} packets, the bench counted ${recoveredOk + M}`);
    }
  };
  return {
    tasks: { encode: encodeBlock, reconstruct: reconstructBlock, 'kernel fast': kernelFast, 'kernel reference': kernelRef },
    encodeBlock,
    reconstructBlock,
    verify,
  };
}

/** The WASM package on a contiguous shard buffer; checks once that reconstruct restores the data. */
function makeWasm(): Record<string, SyncTask> {
  const wasm = loadWasm();
  const shards = new Uint8Array(SHARD * (K + M));
  fill(shards.subarray(0, K * SHARD), 99);
  const avail = Array.from({ length: K + M }, (_, i) => i >= M); // first 4 data shards lost
  const original = shards.slice(0, K * SHARD);
  if (wasm.encode(shards, K, M) !== ReedSolomonErasure.RESULT_OK) throw new Error('fec bench: wasm encode failed');
  shards.fill(0, 0, M * SHARD);
  if (wasm.reconstruct(shards, K, M, avail) !== ReedSolomonErasure.RESULT_OK) throw new Error('fec bench: wasm reconstruct failed');
  if (!shards.subarray(0, K * SHARD).every((v, i) => v === original[i])) throw new Error('fec bench: wasm reconstruct is wrong');
  return {
    encode: () => void wasm.encode(shards, K, M),
    reconstruct: () => void wasm.reconstruct(shards, K, M, avail),
  };
}

/** The native package, one awaited operation at a time; checks once that reconstruct restores the data. */
async function makeRonomon(): Promise<Record<string, AsyncTask>> {
  const RS = require('@ronomon/reed-solomon') as RonomonRS;
  const rctx = RS.create(K, M);
  const rbuf = Buffer.alloc(SHARD * K);
  fill(rbuf, 99);
  const rpar = Buffer.alloc(SHARD * M);
  let allData = 0;
  for (let i = 0; i < K; i++) allData |= 1 << i;
  let allParity = 0;
  for (let i = K; i < K + M; i++) allParity |= 1 << i;
  const lostData = (1 << M) - 1;
  const recSources = (allData & ~lostData) | allParity;
  const op = (sources: number, targets: number): Promise<void> =>
    new Promise<void>((res, rej) => RS.encode(rctx, sources, targets, rbuf, 0, rbuf.length, rpar, 0, rpar.length, (e) => (e ? rej(e) : res())));
  const original = Buffer.from(rbuf);
  await op(allData, allParity);
  rbuf.fill(0, 0, M * SHARD);
  await op(recSources, lostData);
  if (!rbuf.equals(original)) throw new Error('fec bench: ronomon reconstruct is wrong');
  return { encode: () => op(allData, allParity), reconstruct: () => op(recSources, lostData) };
}

/** Sliding-window encode, lossless decode cost per packet, and the allocation figures (ours). */
async function extras(quick: boolean, encodeBlock: SyncTask, reconstructBlock: SyncTask): Promise<{ figures: Figure[]; checks: Check[] }> {
  const figures: Figure[] = [];
  const checks: Check[] = [];
  const rounds = quick ? 3 : 8;
  const ms = quick ? 60 : 150;
  const bestOf = (fn: SyncTask): number => {
    cpuRate(fn, 300); // warm-up round
    let best = 0;
    for (let r = 0; r < rounds; r++) best = Math.max(best, cpuRate(fn, ms));
    return best;
  };

  const payload = new Uint8Array(SHARD);
  fill(payload, 3);
  for (const W of [16, 64, 128]) {
    const e = new StreamingFecEncoder({ window: W, step: 8, repairs: 2, maxPayload: SHARD });
    const out = new Uint8Array(e.maxSymbolLength);
    const info = new RepairInfo();
    let seq = 0;
    const step = (): void => {
      for (let i = 0; i < 8; i++) e.addSource(seq++ >>> 0, 0, 0, SHARD, payload, 0, SHARD);
      while (e.pollRepair(out, 0, info) > 0);
    };
    figures.push({ name: `Sliding_W${W}_N8_R2x1200/encode`, value: (bestOf(step) * 8 * SHARD) / MB, unit: 'MB/s' });
    e.close();
  }

  // Decoder cost per packet with no loss.
  const W = 16;
  const N = 4;
  const R = 2;
  const e = new StreamingFecEncoder({ window: W, step: N, repairs: R, maxPayload: SHARD });
  // 128 steps of precomputed repairs (period of the coefficients for N=4, R=2: seq mod 128 and index mod 128).
  const reps: Uint8Array[] = [];
  const infos: RepairInfo[] = [];
  for (let i = 0; i < 512; i++) {
    const n = e.addSource(i, 0, 0, SHARD, payload, 0, SHARD);
    for (let r = 0; r < n; r++) {
      const out = new Uint8Array(e.maxSymbolLength);
      const info = new RepairInfo();
      e.pollRepair(out, 0, info);
      reps.push(out);
      infos.push(info);
    }
  }
  e.close();
  const d = new StreamingFecDecoder({ maxWindow: W, maxPayload: SHARD, maxRepairs: 32 });
  const rec = new RecoveredPacket();
  const info2 = new RepairInfo();
  const out = new Uint8Array(SHARD);
  let s = 0;
  const onePacket = (): void => {
    const seq = s >>> 0;
    d.addSource(seq, 0, 0, SHARD, payload, 0, SHARD);
    if ((s & (N - 1)) === N - 1) {
      const k = ((s >> 2) & 127) * R; // emission index within the 512-packet period
      const base = s - (s & 511);
      for (let r = 0; r < R; r++) {
        const info = infos[k + r]!;
        d.addRepair((info.windowStart + base) >>> 0, info.windowLength, info.repairIndex, reps[k + r]!, 0, info.symbolLength);
      }
    }
    while (d.pollRecovered(out, 0, rec) >= 0);
    s++;
  };
  const pps = bestOf(onePacket);
  figures.push(
    { name: 'Decode_lossless_W16/packet', value: pps, unit: 'packets/s', note: 'addSource + 0.5 useless repair per packet' },
    { name: 'Decode_lossless_W16/ns_per_packet', value: 1e9 / pps, unit: 'ns' },
    { name: 'Decode_lossless_W16/payload_ops', value: d.stats.payloadOps, unit: 'kernel calls', note: 'must stay 0' },
  );
  checks.push({ name: 'lossless decode does no payload work', value: d.stats.payloadOps, max: 0, detail: `${d.stats.repairsUseless} useless repairs, ${d.stats.solveAttempts} solves` });
  const heapDec = await measureHeap(() => onePacket(), quick ? 50_000 : 200_000, 20_000);
  figures.push({ name: 'Decode_lossless_W16/alloc', value: heapDec.allocatedBytesPerOp, unit: 'bytes/packet' });
  const heapEnc = await measureHeap(() => encodeBlock(), quick ? 20_000 : 50_000, 5_000);
  figures.push({ name: 'Encode_10x4x1200/alloc', value: heapEnc.allocatedBytesPerOp, unit: 'bytes/block' });
  const heapRec = await measureHeap(() => reconstructBlock(), quick ? 20_000 : 50_000, 5_000);
  figures.push({ name: 'Reconstruct_10x4x1200/alloc', value: heapRec.allocatedBytesPerOp, unit: 'bytes/block' });
  // Payload passed as a sub-range of a datagram (what the connection does): one reused transmit
  // buffer hits copyBytes' one-entry view cache; a fresh buffer per packet (receive side) costs
  // one view object per packet.
  {
    const e2 = new StreamingFecEncoder({ window: W, step: N, repairs: R, maxPayload: SHARD });
    const dgrams = Array.from({ length: 8 }, () => new Uint8Array(SHARD + 40));
    const rep = new Uint8Array(e2.maxSymbolLength);
    let q = 0;
    const sameBuf = (): void => {
      e2.addSource(q++ >>> 0, 0, 0, SHARD, dgrams[0]!, 24, SHARD);
      while (e2.pollRepair(rep, 0, info2) > 0);
    };
    const rotating = (): void => {
      e2.addSource(q >>> 0, 0, 0, SHARD, dgrams[q & 7]!, 24, SHARD);
      q++;
      while (e2.pollRepair(rep, 0, info2) > 0);
    };
    const hSame = await measureHeap(sameBuf, quick ? 20_000 : 50_000, 5_000);
    const hRot = await measureHeap(rotating, quick ? 20_000 : 50_000, 5_000);
    figures.push(
      { name: 'Encode_W16_subrange_same_buffer/alloc', value: hSame.allocatedBytesPerOp, unit: 'bytes/packet' },
      { name: 'Encode_W16_subrange_new_buffer/alloc', value: hRot.allocatedBytesPerOp, unit: 'bytes/packet', note: 'one view per packet' },
    );
    e2.close();
  }
  // Recovered packets are copied out through one temporary view each (copyBytes): ~96 bytes per
  // RECOVERED packet, reported above but not checked; the lossless paths must not allocate.
  checks.push({
    name: 'no per-packet allocation (encode, lossless decode)',
    value: Math.max(heapDec.allocatedBytesPerOp, heapEnc.allocatedBytesPerOp / K),
    max: 16,
    detail: `bytes/packet: decode ${heapDec.allocatedBytesPerOp.toFixed(2)}, encode ${(heapEnc.allocatedBytesPerOp / K).toFixed(2)} (reconstruct ${(heapRec.allocatedBytesPerOp / M).toFixed(0)} per recovered packet, not checked)`,
  });
  d.close();
  return { figures, checks };
}

function send(msg: FecWorkerReply): void {
  process.send!(msg);
}

async function main(): Promise<void> {
  const contender = process.argv[2] as FecContender;
  const quick = process.argv[3] !== 'full';
  if (!process.send) throw new Error('fec-worker: run me with child_process.fork (an IPC channel is needed)');
  // The parent is gone (finished, failed or killed): nothing left to measure for.
  process.on('disconnect', () => process.exit(process.exitCode ?? 0));
  const sync: Record<string, SyncTask> = {};
  let async: Record<string, AsyncTask> = {};
  let ours: ReturnType<typeof makeOurs> | undefined;
  const warmMs = quick ? 500 : 1000;
  if (contender === 'ours' || contender === 'inproc') {
    if (contender === 'inproc') {
      // The peer first, so that its memory growth has detached an ArrayBuffer before ours runs.
      const w = makeWasm();
      for (const [n, f] of Object.entries(w)) {
        sync[`wasm ${n}`] = f;
        cpuRate(f, 50);
      }
    }
    // Steady state: have V8 optimise all 256 kernels (the decoder uses all of them) and give its
    // background compiler time to install the code (~10 ms per kernel on a loaded 2-core box); see
    // warmUpKernels. Without this the first ~2,000 reconstructed blocks run 5-20x slower.
    warmUpKernels();
    await sleep(2500);
    ours = makeOurs();
    for (const [n, f] of Object.entries(ours.tasks)) {
      if (contender === 'inproc' && n.startsWith('kernel')) continue;
      sync[contender === 'inproc' ? `ours ${n}` : n] = f;
    }
  } else if (contender === 'wasm') {
    Object.assign(sync, makeWasm());
  } else if (contender === 'ronomon') {
    async = await makeRonomon();
  } else {
    throw new Error(`fec-worker: unknown contender ${String(contender)} (expected ours, wasm, ronomon or inproc)`);
  }
  for (const f of Object.values(sync)) cpuRate(f, warmMs);
  for (const f of Object.values(async)) await wallRate(f, warmMs / 2);

  process.on('message', (raw: FecWorkerCommand) => {
    void (async (): Promise<void> => {
      try {
        if (raw.cmd === 'exit') {
          process.disconnect();
          return;
        }
        if (raw.cmd === 'measure') {
          const s = sync[raw.task];
          if (s) {
            send({ type: 'rate', id: raw.id, rate: cpuRate(s, raw.ms), cpuRate: 0 });
            return;
          }
          const a = async[raw.task];
          if (!a) throw new Error(`fec-worker ${contender}: no task ${raw.task}`);
          const r = await wallRate(a, raw.ms);
          send({ type: 'rate', id: raw.id, rate: r.rate, cpuRate: r.cpuRate });
          return;
        }
        if (raw.cmd === 'extras') {
          if (!ours) throw new Error(`fec-worker ${contender}: extras are measured by the ours worker`);
          ours.verify();
          const x = await extras(quick, ours.encodeBlock, ours.reconstructBlock);
          send({ type: 'extras', id: raw.id, figures: x.figures, checks: x.checks });
        }
      } catch (err) {
        send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) });
        process.exitCode = 1;
        process.disconnect();
      }
    })();
  });
  send({ type: 'ready', tasks: [...Object.keys(sync), ...Object.keys(async)] });
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.stack ?? err.message : String(err);
  if (process.send) process.send({ type: 'error', message } satisfies FecWorkerReply);
  else console.error(message);
  process.exitCode = 1;
  if (process.connected) process.disconnect();
});
