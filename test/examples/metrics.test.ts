import { afterEach, expect, it } from 'vitest';
import { runExample, stopRun, type ExampleRun } from './run-example.js';

let run: ExampleRun | null = null;
afterEach(() => stopRun(run));

/** Checks Prometheus text format 0.0.4; returns samples by metric name. */
function parsePrometheus(text: string): Map<string, Array<{ labels: string; value: number }>> {
  const samples = new Map<string, Array<{ labels: string; value: number }>>();
  const typed = new Map<string, string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta !== null) {
      if (meta[1] === 'TYPE') {
        expect(typed.has(meta[2]!), `TYPE ${meta[2]} declared twice`).toBe(false);
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(meta[3]);
        typed.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    expect(m, `bad sample line: ${line}`).not.toBeNull();
    const name = m![1]!;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    expect(typed.has(name) || typed.has(family), `sample ${name} before its TYPE`).toBe(true);
    const list = samples.get(name) ?? [];
    list.push({ labels: m![2] ?? '', value: Number(m![3]) });
    samples.set(name, list);
  }
  return samples;
}

it('examples/metrics.ts serves valid Prometheus text with accountant and sluice_connection_* metrics', async () => {
  run = runExample('metrics', ['30']);
  const m = await run.waitLine(/metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/);
  await new Promise((r) => setTimeout(r, 600)); // let some frames flow
  const res = await fetch(m[1]!);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  const samples = parsePrometheus(await res.text());
  const names = [...samples.keys()];
  // The accountant's families, its per-connection memory included.
  for (const n of ['sluice_memory_reserved_bytes', 'sluice_memory_used_bytes', 'sluice_memory_budget_bytes', 'sluice_connection_reserved_bytes']) {
    expect(names, n).toContain(n);
  }
  expect(samples.get('sluice_connection_reserved_bytes')!.length).toBe(2);
  const delivered = samples.get('sluice_connection_frames_delivered_total');
  expect(delivered).toBeDefined();
  expect(delivered!.find((s) => s.labels.includes('role="receiver"'))!.value).toBeGreaterThan(0);
  const sentBytes = samples.get('sluice_connection_sent_bytes_total')!;
  expect(sentBytes.length).toBe(2); // sender and receiver
  expect(samples.get('sluice_connection_rtt_seconds')!.every((s) => s.value >= 0)).toBe(true);
  const notFound = await fetch(m[1]!.replace('/metrics', '/other'));
  expect(notFound.status).toBe(404);
  await notFound.text();
  run.proc.kill('SIGINT');
  expect(await run.exited).toBe(0);
  expect(run.stdout()).toContain('stopped');
});
