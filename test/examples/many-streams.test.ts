import { afterEach, expect, it } from 'vitest';
import { runExample, stopRun, type ExampleRun } from './run-example.js';

let run: ExampleRun | null = null;
afterEach(() => stopRun(run));

it('examples/many-streams.ts: 50 connections on one socket, memory per connection from the accountant', async () => {
  run = runExample('many-streams', ['50', '2']);
  expect(await run.exited, run.stdout() + run.stderr()).toBe(0);
  const out = run.stdout();
  expect(out).toMatch(/50 connections open on one listening socket \(127\.0\.0\.1:\d+\)/);
  const perConn = [...out.matchAll(/^ {2}conn\.\d+: ([\d.]+) KiB reserved, ([\d.]+) KiB in use \(\d+ packets\), \d+ accounts$/gm)];
  expect(perConn.length).toBe(50);
  const reserved = perConn.map((m) => Number(m[1]));
  expect(Math.min(...reserved)).toBeGreaterThan(0);
  const sum = Number(/sum ([\d.]+) KiB/.exec(out)![1]);
  expect(sum).toBeCloseTo(reserved.reduce((a, b) => a + b, 0), -1);
  const delivered = /frames: (\d+)\/50 connections received all 50 frames; ([\d.]+)% of all frame bytes delivered/.exec(out);
  expect(delivered, out).not.toBeNull();
  // Load-dependent (late frames are dropped): every connection streamed, most frames arrived.
  expect(Number(delivered![2])).toBeGreaterThan(50);
  expect(out).toContain('after close: every account back to zero');
});
