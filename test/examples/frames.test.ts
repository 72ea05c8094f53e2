import { afterEach, expect, it } from 'vitest';
import { runExample, stopRun, type ExampleRun } from './run-example.js';

let run: ExampleRun | null = null;
afterEach(() => stopRun(run));

it('examples/frames.ts runs as written: 50 frames in, intact, stats printed', async () => {
  run = runExample('frames');
  expect(await run.exited, run.stderr()).toBe(0);
  const out = run.stdout();
  expect(out).toContain('received 50/50 frames, all intact, keyframes 2');
  expect(out).toMatch(/sender: \d+ DATA packets, \d+ FEC repairs, RTT [\d.]+ ms/);
  expect(out).toMatch(/receiver: 50 frames delivered, recovered by FEC 0, by ARQ 0, lost 0/);
});
