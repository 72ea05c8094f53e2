/**
 * Shared plumbing for the benchmark suites: the runner (`bench/run.ts`) imports every
 * `bench/*.bench.ts`, calls its `run(ctx)` and collects the returned {@link SuiteResult}.
 *
 * Rules (STYLE.md habit 11): figures are throughput (ops/s, bytes/s) and heap growth; checks
 * compare ratios measured in the same run, never absolute times.
 */
import { Bench } from 'tinybench';

export interface BenchContext {
  /** Quick mode (CI): fewer iterations, shorter tinybench time. */
  readonly quick: boolean;
  /** Milliseconds tinybench spends per task. */
  readonly taskTimeMs: number;
}

export interface Figure {
  /** Grid name, e.g. `Encode_10x4x1200`. */
  readonly name: string;
  readonly value: number;
  /** Unit, e.g. `ops/s`, `MB/s`, `bytes/1M`, `ratio`. */
  readonly unit: string;
  readonly note?: string;
}

/** A regression check: a ratio measured in this run against a stated floor or ceiling. */
export interface Check {
  readonly name: string;
  readonly value: number;
  /** The check passes when `value >= min` (if set) and `value <= max` (if set). */
  readonly min?: number;
  readonly max?: number;
  readonly detail: string;
}

export interface SuiteResult {
  readonly suite: string;
  readonly figures: Figure[];
  readonly checks: Check[];
}

/** Runs tinybench tasks and returns ops/s per task name (median-based throughput). */
export async function runTasks(
  ctx: BenchContext,
  tasks: Record<string, () => void>,
): Promise<Record<string, number>> {
  const bench = new Bench({ time: ctx.taskTimeMs, warmupTime: Math.min(200, ctx.taskTimeMs) });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
  await bench.run();
  const out: Record<string, number> = {};
  for (const task of bench.tasks) {
    const r = task.result as { throughput?: { mean?: number }; hz?: number } | undefined;
    const hz = r?.throughput?.mean ?? r?.hz ?? 0;
    out[task.name] = hz;
  }
  return out;
}

export interface HeapReport {
  /** Iterations measured (after warm-up). */
  readonly iterations: number;
  /** Heap used after minus before, both after a full GC, in bytes. */
  readonly heapGrowthBytes: number;
  /** Bytes allocated per iteration: median of short samples taken right after full GCs. */
  readonly allocatedBytesPerOp: number;
  /** Number of GCs observed during the measured loop (needs PerformanceObserver). */
  readonly gcCount: number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/**
 * Bytes allocated per call of `fn`: the median of 9 samples of `ops` calls, each taken right after
 * a full GC (so no scavenge lands inside a sample and hides the allocation), after 3 discarded
 * warm-up samples (so JIT compilation is not counted). A clean path reads ~0; one that allocates
 * a view per call reads tens of bytes.
 */
export function allocationPerOp(fn: (i: number) => void, ops = 2000): number {
  const samples: number[] = [];
  let k = 0;
  for (let s = 0; s < 12; s++) {
    gc();
    const a = process.memoryUsage().heapUsed;
    for (let i = 0; i < ops; i++) fn(k++);
    const b = process.memoryUsage().heapUsed;
    if (s >= 3) samples.push(Math.max(0, (b - a) / ops));
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)]!;
}

/**
 * Measures heap growth and GC activity over `iterations` calls of `fn` after `warmup` calls.
 * Run under `node --expose-gc` (the runner does) for exact before/after figures. GCs forced by
 * the harness itself are settled before counting starts, so a clean loop reads 0-1 GCs per
 * million calls of a small function.
 */
export async function measureHeap(
  fn: (i: number) => void,
  iterations: number,
  warmup = Math.min(100_000, iterations),
): Promise<HeapReport> {
  const { PerformanceObserver } = await import('node:perf_hooks');
  for (let i = 0; i < warmup; i++) fn(i);
  const allocatedBytesPerOp = allocationPerOp(fn);

  let gcCount = 0;
  const obs = new PerformanceObserver((list) => {
    gcCount += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  gc();
  // GC entries are delivered asynchronously: let the forced ones arrive before counting.
  await tick();
  await tick();
  gcCount = 0;
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < iterations; i++) fn(i);
  await tick();
  await tick();
  const countDuring = gcCount;
  gc();
  const after = process.memoryUsage().heapUsed;
  obs.disconnect();
  return {
    iterations,
    heapGrowthBytes: after - before,
    allocatedBytesPerOp,
    gcCount: countDuring,
  };
}

/** Formats a number for the table. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  if (a >= 100) return n.toFixed(0);
  return n.toFixed(3);
}
