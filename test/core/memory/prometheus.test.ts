import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryAccountant } from '../../../src/core/memory/accountant.js';
import {
  PROMETHEUS_CONTENT_TYPE,
  escapeHelp,
  escapeLabelValue,
  formatPrometheus,
  formatSampleValue,
} from '../../../src/core/memory/prometheus.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/**
 * A small validator of the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): names, one HELP and TYPE per
 * family before its samples, families contiguous, label syntax and escapes, numeric values, no
 * duplicate series, counters named `_total`, trailing line feed. Returns the parsed samples.
 */
function validate(text: string): { samples: Sample[]; types: Map<string, string> } {
  expect(text.endsWith('\n')).toBe(true);
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seenFamilies = new Set<string>();
  const series = new Set<string>();
  const samples: Sample[] = [];
  let current = '';
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      expect(name, line).toMatch(METRIC);
      if (kind === 'HELP') {
        expect(helps.has(name), `second HELP for ${name}`).toBe(false);
        helps.add(name);
        expect(/\\[^\\n]/.test(rest.replace(/\\\\/g, '')), `bad escape in HELP ${name}`).toBe(false);
      } else {
        expect(types.has(name), `second TYPE for ${name}`).toBe(false);
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest);
        expect(seenFamilies.has(name), `TYPE after samples of ${name}`).toBe(false);
        types.set(name, rest);
      }
      if (name !== current) {
        expect(seenFamilies.has(name), `family ${name} is not contiguous`).toBe(false);
        if (current !== '') seenFamilies.add(current);
        current = name;
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([\s\S]*)\})? (\S+)$/.exec(line);
    expect(m, `malformed sample line: ${JSON.stringify(line)}`).not.toBeNull();
    const [, name, , body, value] = m as unknown as [string, string, string | undefined, string | undefined, string];
    expect(name, `sample of ${name} outside its family ${current}`).toBe(current);
    expect(types.has(name), `sample before TYPE: ${name}`).toBe(true);
    if (types.get(name) === 'counter') expect(name.endsWith('_total')).toBe(true);
    expect(value, line).toMatch(VALUE);
    const labels: Record<string, string> = {};
    if (body !== undefined && body !== '') {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/gy;
      let pos = 0;
      while (pos < body.length) {
        re.lastIndex = pos;
        const lm = re.exec(body);
        expect(lm, `bad label syntax at ${pos} in ${JSON.stringify(body)}`).not.toBeNull();
        const [, k, v] = lm as unknown as [string, string, string];
        expect(k).toMatch(LABEL);
        expect(k in labels, `duplicate label ${k}`).toBe(false);
        labels[k] = unescapeLabel(v);
        pos = re.lastIndex;
      }
    }
    const key = name + JSON.stringify(Object.entries(labels).sort());
    expect(series.has(key), `duplicate series ${key}`).toBe(false);
    series.add(key);
    samples.push({ name, labels, value: value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value) });
  }
  return { samples, types };
}

function get(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return s?.value;
}

describe('Prometheus helpers', () => {
  it('escapes label values and help text per format 0.0.4', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('a\\b"c\nd')).toBe('a\\\\b"c\\nd');
    expect(escapeLabelValue('a\ud800b\udc00c\ud83d\ude00')).toBe('a\ufffdb\ufffdc\ud83d\ude00');
    expect(formatSampleValue(NaN)).toBe('NaN');
    expect(formatSampleValue(Infinity)).toBe('+Inf');
    expect(formatSampleValue(-Infinity)).toBe('-Inf');
    expect(formatSampleValue(0.125)).toBe('0.125');
    expect(formatSampleValue(1e-7)).toBe('1e-7');
    expect(formatSampleValue(268435456)).toBe('268435456');
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('the validator rejects what the format forbids', () => {
    const ok = '# HELP a_bytes x\n# TYPE a_bytes gauge\na_bytes{l="v"} 1\n';
    expect(() => validate(ok)).not.toThrow();
    expect(() => validate(ok.slice(0, -1))).toThrow();
    expect(() => validate('# TYPE a gauge\n# TYPE a gauge\na 1\n')).toThrow(/second TYPE/);
    expect(() => validate('a 1\n')).toThrow();
    expect(() => validate('# TYPE a gauge\na one\n')).toThrow();
    expect(() => validate('# TYPE a gauge\na{l="x"y"} 1\n')).toThrow();
    expect(() => validate('# TYPE a gauge\na{l="x"} 1\na{l="x"} 2\n')).toThrow(/duplicate series/);
    expect(() => validate('# TYPE a counter\na 1\n')).toThrow();
    expect(() => validate('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n')).toThrow();
    expect(() => validate('# TYPE 1a gauge\n1a 1\n')).toThrow();
  });
});

describe('MemoryAccountant.toPrometheus', () => {
  it('is valid text format and matches snapshot() number for number', () => {
    const acct = new MemoryAccountant({ budgetBytes: 50_000_000 });
    const pool = acct.createPool({ slotSize: 1472, maxSlots: 128 });
    const r = acct.account('conn.7.reorder');
    r.reserve(8192);
    r.setCapacity(256 * 1472, 256);
    const slots = [pool.acquire()!, pool.acquire()!, pool.acquire()!];
    r.use(3 * 1400, 3);
    r.setSpanMs(120);
    pool.release(slots.pop()!);
    const s = acct.account('conn.7.send');
    s.reserve(1000);
    s.use(10, 1);
    s.close(); // closed while holding: published with state="closed"
    const weird = acct.account('we"ird\\name\nx');
    weird.reserve(3);
    expect(() => acct.account('conn.8.fec').reserve(60_000_000)).toThrow();

    const text = acct.toPrometheus();
    const { samples, types } = validate(text);
    const snap = acct.snapshot();

    expect(get(samples, 'sluice_memory_budget_bytes')).toBe(snap.budgetBytes);
    expect(get(samples, 'sluice_memory_budget_remaining_bytes')).toBe(snap.remainingBytes);
    expect(get(samples, 'sluice_memory_budget_refusals_total')).toBe(1);
    expect(types.get('sluice_memory_budget_refusals_total')).toBe('counter');
    expect(get(samples, 'sluice_memory_reconciled')).toBe(1);
    expect(get(samples, 'sluice_memory_reserved_high_water_bytes')).toBe(snap.highWaterReservedBytes);
    for (const a of snap.accounts) {
      const l = { account: a.name, state: a.closed ? 'closed' : 'open' };
      expect(get(samples, 'sluice_memory_reserved_bytes', l)).toBe(a.reservedBytes);
      expect(get(samples, 'sluice_memory_used_bytes', l)).toBe(a.usedBytes);
      expect(get(samples, 'sluice_memory_used_packets', l)).toBe(a.usedPackets);
      expect(get(samples, 'sluice_memory_capacity_bytes', l)).toBe(a.capacityBytes);
      expect(get(samples, 'sluice_memory_capacity_packets', l)).toBe(a.capacityPackets);
      expect(get(samples, 'sluice_memory_high_water_bytes', l)).toBe(a.highWaterBytes);
      expect(get(samples, 'sluice_memory_high_water_packets', l)).toBe(a.highWaterPackets);
      expect(get(samples, 'sluice_memory_span_seconds', l)).toBe(a.spanMs / 1000);
    }
    // The sum of the per-account series reconciles with the total, as in snapshot().
    const sum = samples.filter((x) => x.name === 'sluice_memory_reserved_bytes').reduce((n, x) => n + x.value, 0);
    expect(sum).toBe(snap.reservedBytes);
    expect(get(samples, 'sluice_memory_span_seconds', { account: 'conn.7.reorder', state: 'open' })).toBe(0.12);
    expect(get(samples, 'sluice_memory_reserved_bytes', { account: 'conn.7.send', state: 'closed' })).toBe(1000);
    expect(get(samples, 'sluice_memory_reserved_bytes', { account: 'we"ird\\name\nx', state: 'open' })).toBe(3);
    expect(text).toContain('account="we\\"ird\\\\name\\nx"');

    expect(get(samples, 'sluice_connection_reserved_bytes', { connection: '7' })).toBe(9192);
    expect(get(samples, 'sluice_connection_used_packets', { connection: '7' })).toBe(4);
    expect(get(samples, 'sluice_connection_reserved_bytes', { connection: '8' })).toBe(0);

    const ps = snap.pools[0]!;
    expect(ps.name).toBe('pool.1472');
    expect(get(samples, 'sluice_pool_acquire_total', { pool: 'pool.1472', result: 'hit' })).toBe(ps.hits);
    expect(get(samples, 'sluice_pool_acquire_total', { pool: 'pool.1472', result: 'miss' })).toBe(ps.misses);
    expect(ps.hits).toBe(2);
    expect(ps.misses).toBe(1);
    expect(get(samples, 'sluice_pool_in_use_slots', { pool: 'pool.1472' })).toBe(2);
    expect(get(samples, 'sluice_pool_high_water_slots', { pool: 'pool.1472' })).toBe(3);
    expect(get(samples, 'sluice_pool_reuse_ratio', { pool: 'pool.1472' })).toBe(ps.reuseRate);
    expect(get(samples, 'sluice_pool_refused_total', { pool: 'pool.1472', reason: 'cap' })).toBe(0);
    expect(get(samples, 'sluice_pool_release_errors_total', { pool: 'pool.1472', reason: 'double' })).toBe(0);
    expect(get(samples, 'sluice_pool_reserved_bytes', { pool: 'pool.1472' })).toBe(ps.reservedBytes);
    expect(types.get('sluice_pool_acquire_total')).toBe('counter');
    expect(types.get('sluice_pool_in_use_slots')).toBe('gauge');
    for (const b of slots) pool.release(b);
  });

  it('an empty accountant still renders every family validly', () => {
    const { samples, types } = validate(new MemoryAccountant().toPrometheus());
    expect(types.size).toBeGreaterThan(20);
    expect(samples.map((s) => s.name)).toEqual([
      'sluice_memory_budget_bytes',
      'sluice_memory_budget_remaining_bytes',
      'sluice_memory_reserved_high_water_bytes',
      'sluice_memory_budget_refusals_total',
      'sluice_memory_reconciled',
    ]);
  });

  it('any account names render valid output that round-trips the label values', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }), { maxLength: 6 }), (names) => {
        const acct = new MemoryAccountant();
        names.forEach((n, i) => acct.account(n).reserve(i + 1));
        const { samples } = validate(acct.toPrometheus());
        names.forEach((n, i) => expect(get(samples, 'sluice_memory_reserved_bytes', { account: n, state: 'open' })).toBe(i + 1));
      }),
      { numRuns: 300 }, // each run renders and validates ~30 families (~6 ms); 300 runs keep this test near 2 s
    );
  });
});
