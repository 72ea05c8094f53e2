/**
 * FEC benchmark (sluice issue 3): our Cauchy bit-matrix Reed-Solomon against two peer packages,
 * measured side by side in one run, each contender in its own child process, plus the streaming
 * figures.
 *
 * Grid (MB/s are MB of SOURCE payload per second, 1 MB = 1e6 bytes; operations are described in
 * bench/fec-worker.ts):
 * - Encode_10x4x1200 / Reconstruct_10x4x1200: k=10 data, m=4 parity, 1200-byte shards; ours
 *   (StreamingFecEncoder / StreamingFecDecoder through the streaming API, copies included), wasm
 *   (@digitaldefiance/reed-solomon-erasure.wasm), ronomon (@ronomon/reed-solomon, native C, one
 *   awaited operation at a time on the libuv pool).
 * - .../inproc_*: ours and wasm again, but in ONE process with the WASM package loaded and run
 *   first (the previous arrangement), kept for honesty: see "Why processes" below.
 * - Kernel_*: the raw block math on preallocated symbols (fast kernel vs plain reference kernel).
 * - Sliding_W{16,64,128}: encoder throughput, step 8, 2 repairs per step.
 * - Decode_lossless: decoder cost per packet when nothing is lost (sources + useless repairs).
 *
 * Why processes: growing WebAssembly memory detaches an ArrayBuffer, and the first detach in a
 * process invalidates V8's "array buffer detaching" protector, which makes every optimised
 * typed-array access in that process slower (about -25% on our kernels). Hosting the WASM peer
 * beside our code therefore measures the co-hosting, not the implementations; the headline ratio
 * runs each contender in its own `child_process.fork` of bench/fec-worker.ts (`--expose-gc
 * --import tsx`), and the in-process ratio is printed beside it, labelled.
 *
 * Timing: the parent runs rounds, and in each round asks every contender in turn for one window
 * of each operation (ours, wasm, ronomon, ours, wasm, ronomon, ...), so all of them see the same
 * machine load; a child that is not measuring waits idle on its IPC channel. Synchronous
 * contenders report operations per CPU-second of their process (process.cpuUsage: CI and this
 * 2-core box run other jobs at the same time, and CPU time is not stolen by them, unlike the wall
 * clock); ronomon's work runs on the libuv pool, so it reports operations per wall second,
 * awaited one at a time (its per-CPU-second rate is printed too). A figure is the best of the
 * rounds (discards rounds disturbed by GC or by a burst of load); the median-of-rounds ratio is
 * printed beside the headline ratio to show how stable it is.
 *
 * Checks (ratios from this run only): isolated ours/wasm >= ENCODE_FLOOR / RECONSTRUCT_FLOOR,
 * fast/reference kernel >= 2.5, the lossless decoder does no payload work, and no per-packet
 * allocation on the streaming paths.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FecContender, FecWorkerCommand, FecWorkerReply } from './fec-worker.js';
import type { BenchContext, Check, Figure, SuiteResult } from './harness.js';

const K = 10;
const SHARD = 1200;
const MB = 1e6;
const BLOCK_BYTES = K * SHARD;

/**
 * Floors of the isolated ours/wasm ratios: issue 3's target, 2.0. Three quick runs on the loaded
 * 2-core development box (load average 7-9) measured encode 2.95-2.97 and reconstruct 2.78-2.86
 * isolated (2.10-2.20 both in one process), so the floor holds with a wide margin.
 */
const ENCODE_FLOOR = 2.0;
const RECONSTRUCT_FLOOR = 2.0;

/** How long a child may take to answer one request before the bench gives up on it. */
const REPLY_TIMEOUT_MS = 120_000;

const WORKER = fileURLToPath(new URL('./fec-worker.ts', import.meta.url));

/** One forked contender: requests go out one at a time and are answered in order. */
class Worker {
  readonly name: FecContender;
  readonly proc: ChildProcess;
  readonly ready: Promise<string[]>;
  private _nextId = 1;
  private readonly _pending = new Map<number, { resolve: (m: FecWorkerReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private _failure: Error | undefined;

  constructor(name: FecContender, quick: boolean) {
    this.name = name;
    this.proc = fork(WORKER, [name, quick ? 'quick' : 'full'], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fec bench: worker ${name} did not start in ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
      this.proc.on('message', (m: FecWorkerReply) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m.tasks);
          return;
        }
        if (m.type === 'error') {
          this._fail(new Error(`fec bench: worker ${name} failed: ${m.message}`));
          clearTimeout(timer);
          reject(this._failure!);
          return;
        }
        const p = this._pending.get(m.id);
        if (!p) return;
        this._pending.delete(m.id);
        clearTimeout(p.timer);
        p.resolve(m);
      });
      this.proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        this._fail(new Error(`fec bench: worker ${name} exited (code ${code}, signal ${signal})`));
        reject(this._failure!);
      });
    });
    // Avoid an unhandled rejection when a worker dies before anyone awaits `ready`.
    this.ready.catch(() => undefined);
  }

  private _fail(err: Error): void {
    if (!this._failure) this._failure = err;
    for (const p of this._pending.values()) {
      clearTimeout(p.timer);
      p.reject(this._failure);
    }
    this._pending.clear();
  }

  request(cmd: FecWorkerCommand): Promise<FecWorkerReply> {
    if (this._failure) return Promise.reject(this._failure);
    return new Promise<FecWorkerReply>((resolve, reject) => {
      const id = 'id' in cmd ? cmd.id : 0;
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new Error(`fec bench: worker ${this.name} did not answer ${cmd.cmd} in ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this._pending.set(id, { resolve, reject, timer });
      this.proc.send(cmd);
    });
  }

  async measure(task: string, ms: number): Promise<{ rate: number; cpuRate: number }> {
    const r = await this.request({ cmd: 'measure', id: this._nextId++, task, ms });
    if (r.type !== 'rate') throw new Error(`fec bench: worker ${this.name} answered ${r.type} to measure`);
    return r;
  }

  async extras(): Promise<{ figures: Figure[]; checks: Check[] }> {
    const r = await this.request({ cmd: 'extras', id: this._nextId++ });
    if (r.type !== 'extras') throw new Error(`fec bench: worker ${this.name} answered ${r.type} to extras`);
    return r;
  }

  /** Asks the child to exit and waits for it (kills it after 5 s). */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    if (this.proc.connected) this.proc.send({ cmd: 'exit' } satisfies FecWorkerCommand);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median over rounds of the per-round ratio a/b (both measured in the same round). */
function medianRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, i) => x / b[i]!));
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const rounds = ctx.quick ? 5 : 12;
  const ms = ctx.quick ? 60 : 150;
  // All four start (and warm up) at once; only the measurements below are serialised.
  const workers = {
    ours: new Worker('ours', ctx.quick),
    wasm: new Worker('wasm', ctx.quick),
    ronomon: new Worker('ronomon', ctx.quick),
    inproc: new Worker('inproc', ctx.quick),
  };
  const all = Object.values(workers);
  try {
    await Promise.all(all.map((w) => w.ready));
    // One round asks every contender in turn for one window of each operation.
    const plan: Array<[Worker, string, string]> = [
      [workers.ours, 'encode', 'ours encode'],
      [workers.wasm, 'encode', 'wasm encode'],
      [workers.ronomon, 'encode', 'ronomon encode'],
      [workers.ours, 'reconstruct', 'ours reconstruct'],
      [workers.wasm, 'reconstruct', 'wasm reconstruct'],
      [workers.ronomon, 'reconstruct', 'ronomon reconstruct'],
      [workers.ours, 'kernel fast', 'kernel fast'],
      [workers.ours, 'kernel reference', 'kernel reference'],
      [workers.inproc, 'ours encode', 'inproc ours encode'],
      [workers.inproc, 'wasm encode', 'inproc wasm encode'],
      [workers.inproc, 'ours reconstruct', 'inproc ours reconstruct'],
      [workers.inproc, 'wasm reconstruct', 'inproc wasm reconstruct'],
    ];
    const rate: Record<string, number[]> = {};
    const cpu: Record<string, number[]> = {};
    for (const [, , key] of plan) {
      rate[key] = [];
      cpu[key] = [];
    }
    for (let r = 0; r < rounds; r++) {
      for (const [w, task, key] of plan) {
        const m = await w.measure(task, ms);
        rate[key]!.push(m.rate);
        cpu[key]!.push(m.cpuRate);
      }
    }
    const extras = await workers.ours.extras();

    const best = (key: string): number => (Math.max(...rate[key]!) * BLOCK_BYTES) / MB;
    const bestCpu = (key: string): number => (Math.max(...cpu[key]!) * BLOCK_BYTES) / MB;
    const medRatio = (a: string, b: string): number => medianRatio(rate[a]!, rate[b]!);
    const oursEnc = best('ours encode');
    const wasmEnc = best('wasm encode');
    const ronEnc = best('ronomon encode');
    const oursRec = best('ours reconstruct');
    const wasmRec = best('wasm reconstruct');
    const ronRec = best('ronomon reconstruct');
    const kFast = best('kernel fast');
    const kRef = best('kernel reference');
    const ipOursEnc = best('inproc ours encode');
    const ipWasmEnc = best('inproc wasm encode');
    const ipOursRec = best('inproc ours reconstruct');
    const ipWasmRec = best('inproc wasm reconstruct');
    const figures: Figure[] = [
      { name: 'Encode_10x4x1200/ours', value: oursEnc, unit: 'MB/s', note: 'StreamingFecEncoder, block mode, own process' },
      { name: 'Encode_10x4x1200/wasm', value: wasmEnc, unit: 'MB/s', note: 'own process' },
      { name: 'Encode_10x4x1200/ronomon', value: ronEnc, unit: 'MB/s', note: `native, one op at a time, wall clock (${bestCpu('ronomon encode').toFixed(0)} per CPU-second)` },
      { name: 'Encode_10x4x1200/ours:wasm', value: oursEnc / wasmEnc, unit: 'ratio', note: `isolated processes, best of ${rounds} rounds (median of rounds ${medRatio('ours encode', 'wasm encode').toFixed(2)})` },
      { name: 'Encode_10x4x1200/ours:ronomon', value: oursEnc / ronEnc, unit: 'ratio' },
      { name: 'Encode_10x4x1200/inproc_ours', value: ipOursEnc, unit: 'MB/s', note: 'same process as the WASM package (detaching protector invalidated)' },
      { name: 'Encode_10x4x1200/inproc_wasm', value: ipWasmEnc, unit: 'MB/s', note: 'same process as ours' },
      { name: 'Encode_10x4x1200/inproc_ours:wasm', value: ipOursEnc / ipWasmEnc, unit: 'ratio', note: `one process (median of rounds ${medRatio('inproc ours encode', 'inproc wasm encode').toFixed(2)})` },
      { name: 'Reconstruct_10x4x1200/ours', value: oursRec, unit: 'MB/s', note: 'StreamingFecDecoder, 4 of 10 lost, own process' },
      { name: 'Reconstruct_10x4x1200/wasm', value: wasmRec, unit: 'MB/s', note: 'own process' },
      { name: 'Reconstruct_10x4x1200/ronomon', value: ronRec, unit: 'MB/s', note: `wall clock (${bestCpu('ronomon reconstruct').toFixed(0)} per CPU-second)` },
      { name: 'Reconstruct_10x4x1200/ours:wasm', value: oursRec / wasmRec, unit: 'ratio', note: `isolated processes, best of ${rounds} rounds (median of rounds ${medRatio('ours reconstruct', 'wasm reconstruct').toFixed(2)})` },
      { name: 'Reconstruct_10x4x1200/ours:ronomon', value: oursRec / ronRec, unit: 'ratio' },
      { name: 'Reconstruct_10x4x1200/inproc_ours', value: ipOursRec, unit: 'MB/s', note: 'same process as the WASM package' },
      { name: 'Reconstruct_10x4x1200/inproc_wasm', value: ipWasmRec, unit: 'MB/s', note: 'same process as ours' },
      { name: 'Reconstruct_10x4x1200/inproc_ours:wasm', value: ipOursRec / ipWasmRec, unit: 'ratio', note: `one process (median of rounds ${medRatio('inproc ours reconstruct', 'inproc wasm reconstruct').toFixed(2)})` },
      { name: 'Kernel_10x4x1216/fast', value: kFast, unit: 'MB/s', note: 'math only, no copies' },
      { name: 'Kernel_10x4x1216/reference', value: kRef, unit: 'MB/s' },
      { name: 'Kernel_10x4x1216/fast:reference', value: kFast / kRef, unit: 'ratio' },
      ...extras.figures,
    ];
    const checks: Check[] = [
      { name: 'encode ours/wasm (isolated)', value: oursEnc / wasmEnc, min: ENCODE_FLOOR, detail: `ours ${oursEnc.toFixed(0)} MB/s vs wasm ${wasmEnc.toFixed(0)} MB/s, each in its own process (k=10 m=4 1200 B; in one process ${(ipOursEnc / ipWasmEnc).toFixed(2)})` },
      { name: 'reconstruct ours/wasm (isolated)', value: oursRec / wasmRec, min: RECONSTRUCT_FLOOR, detail: `ours ${oursRec.toFixed(0)} MB/s vs wasm ${wasmRec.toFixed(0)} MB/s, each in its own process (4 of 10 lost; in one process ${(ipOursRec / ipWasmRec).toFixed(2)})` },
      { name: 'kernel fast/reference', value: kFast / kRef, min: 2.5, detail: `fast ${kFast.toFixed(0)} MB/s vs reference ${kRef.toFixed(0)} MB/s` },
      ...extras.checks,
    ];
    return { suite: 'fec', figures, checks };
  } finally {
    await Promise.all(all.map((w) => w.close()));
  }
}
