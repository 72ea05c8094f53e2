/**
 * Prometheus text exposition (format 0.0.4) of a {@link MemorySnapshot}: pure string building,
 * no I/O. Serve it with {@link PROMETHEUS_CONTENT_TYPE}.
 *
 * Metric families (names follow https://prometheus.io/docs/practices/naming/: base units,
 * `_bytes` / `_seconds`, counters end in `_total`, ratios in `_ratio`):
 *
 * | family | type | labels |
 * |---|---|---|
 * | `sluice_memory_budget_bytes` | gauge | |
 * | `sluice_memory_budget_remaining_bytes` | gauge | |
 * | `sluice_memory_reserved_high_water_bytes` | gauge | |
 * | `sluice_memory_budget_refusals_total` | counter | |
 * | `sluice_memory_reconciled` | gauge (1/0) | |
 * | `sluice_memory_reserved_bytes` | gauge | account, state (open/closed) |
 * | `sluice_memory_used_bytes`, `sluice_memory_used_packets` | gauge | account, state |
 * | `sluice_memory_capacity_bytes`, `sluice_memory_capacity_packets` | gauge | account, state |
 * | `sluice_memory_high_water_bytes`, `sluice_memory_high_water_packets` | gauge | account, state |
 * | `sluice_memory_span_seconds` | gauge | account, state |
 * | `sluice_connection_reserved_bytes`, `_used_bytes`, `_used_packets` | gauge | connection |
 * | `sluice_pool_acquire_total` | counter | pool, result (hit/miss) |
 * | `sluice_pool_refused_total` | counter | pool, reason (cap/budget) |
 * | `sluice_pool_grows_total`, `sluice_pool_releases_total` | counter | pool |
 * | `sluice_pool_release_errors_total` | counter | pool, reason (double/foreign) |
 * | `sluice_pool_in_use_slots`, `_allocated_slots`, `_max_slots`, `_high_water_slots`, `_slabs` | gauge | pool |
 * | `sluice_pool_slot_size_bytes`, `sluice_pool_reserved_bytes` | gauge | pool |
 * | `sluice_pool_reuse_ratio` | gauge | pool |
 *
 * A closed account still holding memory (a leak until given back) appears with
 * `state="closed"`, so an open account reusing its name never produces a duplicate series.
 */
import type { MemorySnapshot } from './accountant.js';

/** Content-Type of the text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Unpaired UTF-16 surrogates: not encodable as UTF-8, so the text would not be valid. */
const _LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Escapes a label value: backslash, double quote and line feed (format 0.0.4); an unpaired
 * surrogate (not valid UTF-8) becomes U+FFFD. Every other character is kept as is.
 */
export function escapeLabelValue(v: string): string {
  return v
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(_LONE_SURROGATE, '\uFFFD');
}

/** Escapes HELP text: backslash and line feed (format 0.0.4). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Formats a sample value: Go float syntax, `NaN`, `+Inf`, `-Inf`. */
export function formatSampleValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

type _Labels = ReadonlyArray<readonly [string, string]>;

class _Writer {
  readonly lines: string[] = [];
  family(name: string, type: 'gauge' | 'counter', help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, labels: _Labels, value: number): void {
    let l = '';
    if (labels.length > 0) {
      l = '{' + labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',') + '}';
    }
    this.lines.push(`${name}${l} ${formatSampleValue(value)}`);
  }
}

/**
 * Renders `snap` as Prometheus text format 0.0.4 (ends with a line feed).
 * @example
 * ```ts
 * res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
 * res.end(formatPrometheus(accountant.snapshot()));
 * ```
 */
export function formatPrometheus(snap: MemorySnapshot): string {
  const w = new _Writer();
  const scalar = (name: string, type: 'gauge' | 'counter', help: string, v: number): void => {
    w.family(name, type, help);
    w.sample(name, [], v);
  };
  scalar('sluice_memory_budget_bytes', 'gauge', 'Global memory budget of the accountant, in bytes.', snap.budgetBytes);
  scalar('sluice_memory_budget_remaining_bytes', 'gauge', 'Bytes left under the budget.', snap.remainingBytes);
  scalar('sluice_memory_reserved_high_water_bytes', 'gauge', 'Largest total of reserved bytes seen.', snap.highWaterReservedBytes);
  scalar('sluice_memory_budget_refusals_total', 'counter', 'Reservations refused because they would exceed the budget.', snap.budgetRefusals);
  scalar('sluice_memory_reconciled', 'gauge', '1 when the sum of account reservations equals the accountant total, else 0.', snap.reconciled ? 1 : 0);

  const perAccount: Array<[string, string, (a: MemorySnapshot['accounts'][number]) => number]> = [
    ['sluice_memory_reserved_bytes', 'Bytes reserved (held) by the account.', (a) => a.reservedBytes],
    ['sluice_memory_used_bytes', 'Bytes of the account capacity currently occupied.', (a) => a.usedBytes],
    ['sluice_memory_used_packets', 'Packets currently held by the account.', (a) => a.usedPackets],
    ['sluice_memory_capacity_bytes', 'Capacity in bytes the component enforces.', (a) => a.capacityBytes],
    ['sluice_memory_capacity_packets', 'Capacity in packets the component enforces.', (a) => a.capacityPackets],
    ['sluice_memory_high_water_bytes', 'Largest used bytes seen.', (a) => a.highWaterBytes],
    ['sluice_memory_high_water_packets', 'Largest used packets seen.', (a) => a.highWaterPackets],
    ['sluice_memory_span_seconds', 'Time span between the oldest and newest item held, in seconds.', (a) => a.spanMs / 1000],
  ];
  for (const [name, help, get] of perAccount) {
    w.family(name, 'gauge', help);
    for (const a of snap.accounts) w.sample(name, [['account', a.name], ['state', a.closed ? 'closed' : 'open']], get(a));
  }

  const perConn: Array<[string, string, (c: MemorySnapshot['connections'][number]) => number]> = [
    ['sluice_connection_reserved_bytes', 'Bytes reserved by the accounts of one connection (conn.<id>.*).', (c) => c.reservedBytes],
    ['sluice_connection_used_bytes', 'Bytes occupied in the buffers of one connection.', (c) => c.usedBytes],
    ['sluice_connection_used_packets', 'Packets held in the buffers of one connection.', (c) => c.usedPackets],
  ];
  for (const [name, help, get] of perConn) {
    w.family(name, 'gauge', help);
    for (const c of snap.connections) w.sample(name, [['connection', c.id]], get(c));
  }

  const pools = snap.pools;
  w.family('sluice_pool_acquire_total', 'counter', 'Pool acquires; hit = served without allocating, miss = grew a slab or was refused.');
  for (const p of pools) {
    w.sample('sluice_pool_acquire_total', [['pool', p.name], ['result', 'hit']], p.hits);
    w.sample('sluice_pool_acquire_total', [['pool', p.name], ['result', 'miss']], p.misses);
  }
  w.family('sluice_pool_refused_total', 'counter', 'Acquires that returned no slot, by reason.');
  for (const p of pools) {
    w.sample('sluice_pool_refused_total', [['pool', p.name], ['reason', 'cap']], p.refusedCap);
    w.sample('sluice_pool_refused_total', [['pool', p.name], ['reason', 'budget']], p.refusedBudget);
  }
  w.family('sluice_pool_release_errors_total', 'counter', 'Releases ignored as double release or foreign buffer.');
  for (const p of pools) {
    w.sample('sluice_pool_release_errors_total', [['pool', p.name], ['reason', 'double']], p.doubleReleases);
    w.sample('sluice_pool_release_errors_total', [['pool', p.name], ['reason', 'foreign']], p.foreignReleases);
  }
  const perPool: Array<[string, 'gauge' | 'counter', string, (p: MemorySnapshot['pools'][number]) => number]> = [
    ['sluice_pool_grows_total', 'counter', 'Slabs allocated because an acquire found no free slot.', (p) => p.grows],
    ['sluice_pool_releases_total', 'counter', 'Slots given back.', (p) => p.releases],
    ['sluice_pool_in_use_slots', 'gauge', 'Slots handed out and not yet released.', (p) => p.inUse],
    ['sluice_pool_allocated_slots', 'gauge', 'Slots in allocated slabs.', (p) => p.slotsAllocated],
    ['sluice_pool_max_slots', 'gauge', 'Cap on slots of the pool.', (p) => p.maxSlots],
    ['sluice_pool_high_water_slots', 'gauge', 'Largest number of slots in use seen.', (p) => p.highWater],
    ['sluice_pool_slabs', 'gauge', 'Slabs currently allocated.', (p) => p.slabs],
    ['sluice_pool_slot_size_bytes', 'gauge', 'Bytes per slot.', (p) => p.slotSize],
    ['sluice_pool_reserved_bytes', 'gauge', 'Bytes reserved by the pool (slabs and bookkeeping).', (p) => p.reservedBytes],
    ['sluice_pool_reuse_ratio', 'gauge', 'Fraction of acquires served without allocating (hits / acquires).', (p) => p.reuseRate],
  ];
  for (const [name, type, help, get] of perPool) {
    w.family(name, type, help);
    for (const p of pools) w.sample(name, [['pool', p.name]], get(p));
  }
  return w.lines.join('\n') + '\n';
}
