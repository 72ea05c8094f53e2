/**
 * Memory suite: the slab pool against plain allocation, the cost of accounting per packet,
 * and heap growth / GC count / reuse rate per million pooled packets.
 *
 * Grid names: `<Op>_<impl>_<bytes>`. Every task keeps the last 16 buffers "in flight" in a
 * ring (as a send history or reorder window would), so the allocating baseline cannot be
 * optimised into a no-op and both sides hold the same number of live buffers.
 *
 * Checks (ratios and per-op figures from this run, never absolute times):
 * - `pool_vs_alloc`: pooled acquire+release rate / `new Uint8Array(1400)` rate, >= 1.
 * - `pool_alloc_per_op`: bytes allocated per acquire+release, < 1 (the hit path allocates nothing).
 * - `pool_reuse_after_warmup`: hits / acquires after warm-up under a varying in-flight depth,
 *   >= 0.99 (the target).
 *
 * {@link pipelineMemory} is where the "per million packets through ReorderBuffer + FEC +
 * SendBuffer with pooling" figures go once those components are wired to pools (issue 5,
 * item 6); it returns nothing until then.
 */
import { MemoryAccountant } from '../src/core/memory/accountant.js';
import { BufferPool } from '../src/core/memory/buffer-pool.js';
import { measureHeap, runTasks, type BenchContext, type Check, type Figure, type SuiteResult } from './harness.js';

const PACKET = 1400;
const SLOT = 1472;
const IN_FLIGHT = 16;
const MASK = IN_FLIGHT - 1;

/** Deterministic 32-bit LCG (Numerical Recipes constants) for the in-flight depth. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

/**
 * Steady-state simulation: the number of packets held wanders between 0 and `maxDepth`
 * (random walk biased back to the middle), as a reorder window under jitter would.
 * Returns hits/acquires over the measured part (after `warmup` operations).
 */
function reuseUnderLoad(pool: BufferPool, ops: number, warmup: number, maxDepth: number): { reuse: number; refused: number } {
  const held: Uint8Array[] = [];
  const rnd = lcg(0x5eed);
  let h0 = 0;
  let a0 = 0;
  for (let i = 0; i < ops + warmup; i++) {
    if (i === warmup) {
      const s = pool.stats();
      h0 = s.hits;
      a0 = s.hits + s.misses;
    }
    const r = rnd() / 0x1_0000_0000;
    const pAcquire = held.length < maxDepth / 2 ? 0.6 : 0.4;
    if (r < pAcquire || held.length === 0) {
      const b = pool.acquire();
      if (b !== null) {
        b[0] = i & 0xff;
        held.push(b);
      }
    } else {
      pool.release(held.pop()!);
    }
  }
  for (const b of held) pool.release(b);
  const s = pool.stats();
  return { reuse: (s.hits - h0) / (s.hits + s.misses - a0), refused: s.refusedCap + s.refusedBudget };
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const acct = new MemoryAccountant();
  const pool = acct.createPool({ slotSize: SLOT, slotsPerSlab: 64, maxSlots: 4096, devChecks: false });
  const set = acct.createPoolSet({ prefix: 'set', devChecks: false });
  const account = acct.account('conn.1.reorder');

  const ringPool: Array<Uint8Array | null> = new Array<Uint8Array | null>(IN_FLIGHT).fill(null);
  const ringSet: Array<Uint8Array | null> = new Array<Uint8Array | null>(IN_FLIGHT).fill(null);
  const ringAlloc: Uint8Array[] = new Array<Uint8Array>(IN_FLIGHT).fill(new Uint8Array(1));
  let k = 0;
  let sink = 0;

  const poolStep = (i: number): void => {
    const j = i & MASK;
    const old = ringPool[j];
    if (old !== null && old !== undefined) pool.release(old);
    const b = pool.acquire()!;
    b[0] = i;
    ringPool[j] = b;
  };
  const allocStep = (i: number): void => {
    const b = new Uint8Array(PACKET);
    b[0] = i;
    sink ^= ringAlloc[i & MASK]![0]!;
    ringAlloc[i & MASK] = b;
  };

  // Heap first, on a cold pool: 1M acquire/release pairs (after warm-up, which grows the slab).
  const million = 1_000_000;
  const heapPool = await measureHeap(poolStep, million, 50_000);
  const heapAlloc = await measureHeap(allocStep, ctx.quick ? 100_000 : million, 20_000);
  // The harness's own forced GCs before the loop can be reported late, inside the count: a
  // no-op loop shows the floor the pool figure is compared with.
  const heapNoop = await measureHeap(() => {}, million, 1000);

  const hz = await runTasks(ctx, {
    AcquireRelease_pool_1472: () => poolStep(k++),
    AcquireRelease_poolset_1400: () => {
      const j = k++ & MASK;
      const old = ringSet[j];
      if (old !== null && old !== undefined) set.release(old);
      const b = set.acquire(PACKET)!;
      b[0] = j;
      ringSet[j] = b;
    },
    Alloc_uint8array_1400: () => allocStep(k++),
    AccountUse_pair: () => {
      account.use(PACKET, 1);
      account.use(-PACKET, -1);
    },
  });

  // Reuse rate in steady state: a depth wandering up to 512 packets, 1M operations.
  const steady = acct.createPool({ slotSize: SLOT, slotsPerSlab: 64, maxSlots: 1024, name: 'pool.steady', devChecks: false });
  const reuse = reuseUnderLoad(steady, ctx.quick ? 200_000 : million, 50_000, 512);
  const steadyStats = steady.stats();

  for (let j = 0; j < IN_FLIGHT; j++) {
    const a = ringPool[j];
    if (a !== null && a !== undefined) pool.release(a);
    const b = ringSet[j];
    if (b !== null && b !== undefined) set.release(b);
  }
  if (sink === 0x1234_5678) console.log(sink);
  const poolStats = pool.stats();
  pool.close();
  set.close();
  steady.close();
  account.close();
  const leaks = acct.leakCheck({ strict: true });

  const figures: Figure[] = [];
  for (const [name, v] of Object.entries(hz)) {
    figures.push({ name, value: v, unit: 'ops/s', note: name.startsWith('AccountUse') ? 'use(+) and use(-)' : 'acquire+release (or alloc) of one buffer' });
  }
  figures.push(
    { name: 'Pool_heap_growth_1M', value: heapPool.heapGrowthBytes, unit: 'bytes', note: `${heapPool.gcCount} GCs over ${heapPool.iterations} acquire/release` },
    { name: 'Pool_alloc_per_op', value: heapPool.allocatedBytesPerOp, unit: 'bytes/op' },
    {
      name: 'Noop_gc_baseline_1M',
      value: heapNoop.gcCount,
      unit: 'GCs',
      note: `harness floor: GCs counted around an empty loop (alloc ${heapNoop.allocatedBytesPerOp.toFixed(3)} bytes/op, growth ${heapNoop.heapGrowthBytes} B)`,
    },
    {
      name: 'Alloc_heap_growth',
      value: heapAlloc.heapGrowthBytes,
      unit: 'bytes',
      note: `${heapAlloc.gcCount} GCs over ${heapAlloc.iterations} new Uint8Array(1400) (${(heapAlloc.gcCount * (million / heapAlloc.iterations)).toFixed(0)} per 1M)`,
    },
    { name: 'Alloc_alloc_per_op', value: heapAlloc.allocatedBytesPerOp, unit: 'bytes/op', note: 'on-heap JSArrayBuffer/view objects; the 1400-byte backing store is off-heap' },
    { name: 'Pool_reuse_rate_total', value: poolStats.reuseRate, unit: 'ratio', note: `${poolStats.hits} hits, ${poolStats.misses} misses, ${poolStats.slabs} slab(s)` },
    {
      name: 'Pool_reuse_steady_512',
      value: reuse.reuse,
      unit: 'ratio',
      note: `after warm-up, depth <= 512; high water ${steadyStats.highWater}, ${steadyStats.slabs} slabs, ${reuse.refused} refused`,
    },
  );
  const pipe = await pipelineMemory(ctx);
  figures.push(...pipe.figures);

  const g = (n: string): number => hz[n] ?? 0;
  const checks: Check[] = [
    {
      name: 'pool_vs_alloc',
      value: g('AcquireRelease_pool_1472') / g('Alloc_uint8array_1400'),
      min: 1,
      detail: 'pooled acquire+release rate / new Uint8Array(1400) rate',
    },
    {
      name: 'pool_alloc_per_op',
      value: heapPool.allocatedBytesPerOp,
      max: 1,
      detail: 'bytes allocated per pooled acquire+release (must be ~0)',
    },
    {
      name: 'pool_reuse_after_warmup',
      value: reuse.reuse,
      min: 0.99,
      detail: 'hits / acquires after warm-up, in-flight depth wandering up to 512',
    },
    {
      name: 'leak_check_after_close',
      value: leaks.ok ? 1 : 0,
      min: 1,
      detail: leaks.summary,
    },
    ...pipe.checks,
  ];
  return { suite: 'memory', figures, checks };
}

/**
 * Placeholder for the issue-5 pipeline figures: GC count and heap growth per million packets
 * through ReorderBuffer + StreamingFecEncoder/Decoder + SendBuffer sharing one PoolSet and one
 * MemoryAccountant (reuse rate > 99% after warm-up, no heap growth), and the memory report of
 * one connection at 10 Mbps / 120 ms (bytes per account vs `latency x bitrate`). The lead fills
 * it in once those components take slots from a pool; until then it only reports the
 * `latency x bitrate` reference figure so the table shows what the report must match.
 */
export async function pipelineMemory(_ctx: BenchContext): Promise<{ figures: Figure[]; checks: Check[] }> {
  const bitrate = 10_000_000;
  const latencyMs = 120;
  const bytes = (bitrate / 8) * (latencyMs / 1000);
  return {
    figures: [
      {
        name: 'Reference_latency_x_bitrate_10Mbps_120ms',
        value: bytes,
        unit: 'bytes',
        note: `${Math.ceil(bytes / PACKET)} packets of ${PACKET} B; measured per-account report pending (pipelineMemory)`,
      },
    ],
    checks: [],
  };
}
