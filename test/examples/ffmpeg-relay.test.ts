import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { checkContinuity } from '../cli/mpegts.js';
import { runExample, stopRun, type ExampleRun } from './run-example.js';

let run: ExampleRun | null = null;
afterEach(() => stopRun(run));
const dir = mkdtempSync(join(tmpdir(), 'sluice-ffmpeg-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('examples/ffmpeg-relay.ts: real ffmpeg MPEG-TS across 10% loss arrives byte-identical, ffprobe finds every packet', { timeout: 90_000 }, async () => {
  for (const tool of ['ffmpeg', 'ffprobe']) {
    const found = spawnSync(tool, ['-version'], { stdio: 'ignore' }).status === 0;
    expect(found, `${tool} is not installed: this test needs ffmpeg and ffprobe on PATH (apt-get install -y ffmpeg)`).toBe(true);
  }
  run = runExample('ffmpeg-relay', [dir, '8'], 85_000);
  const code = await run.exited;
  const out = run.stdout();
  expect(code, out + run.stderr()).toBe(0);
  expect(out).toMatch(/byte-identical to what ffmpeg sent/);
  const link = /link: (\d+) of (\d+) datagrams dropped/.exec(out)!;
  expect(Number(link[1]) / Number(link[2])).toBeGreaterThan(0.05); // the loss was real

  // Checked again here, independently of the example.
  const sent = readFileSync(join(dir, 'sent.ts'));
  const received = readFileSync(join(dir, 'received.ts'));
  expect(sent.length).toBeGreaterThan(100_000);
  expect(Buffer.compare(sent, received)).toBe(0);
  const cc = checkContinuity(received);
  expect(cc.syncErrors).toBe(0);
  expect(cc.totalDiscontinuities, JSON.stringify(cc.discontinuities)).toBe(0);
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_packets', '-of', 'csv=p=0', join(dir, 'received.ts')], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(probe.status).toBe(0);
  expect(probe.stderr.trim()).toBe('');
  expect(probe.stdout.split('\n').filter((l) => l !== '').length).toBeGreaterThan(100);
});
