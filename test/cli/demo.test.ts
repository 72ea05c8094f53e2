import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCommand, parseDemoArgs, quantile, textTable } from '../../src/cli/demo.js';
import { DEFAULT_STREAM_SHAPE, FRAME_HEADER_BYTES, SyntheticStream } from '../../src/cli/demo-stream.js';
import { lineChart, stackedBars } from '../../src/cli/demo-report.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('synthetic stream', () => {
  it('has the configured mean bitrate and a keyframe 5x the size every 2 s', () => {
    const s = new SyntheticStream(DEFAULT_STREAM_SHAPE, 9);
    let bytes = 0;
    const key: number[] = [];
    const other: number[] = [];
    const n = 25 * 60;
    for (let i = 0; i < n; i++) {
      const f = s.nextFrame(i);
      bytes += f.size;
      (f.keyframe ? key : other).push(f.size);
      expect(f.keyframe).toBe(i % 50 === 0);
    }
    const bps = (bytes * 8) / 60;
    expect(bps).toBeGreaterThan(5.7e6);
    expect(bps).toBeLessThan(6.3e6);
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(key) / mean(other)).toBeGreaterThan(4.5);
    expect(mean(key) / mean(other)).toBeLessThan(5.5);
    expect(Math.min(...other)).toBeLessThan(mean(other) * 0.8); // sizes vary
  });

  it('the same seed gives the same sizes; verify accepts intact frames and finds a flipped bit', () => {
    const a = new SyntheticStream(DEFAULT_STREAM_SHAPE, 3);
    const b = new SyntheticStream(DEFAULT_STREAM_SHAPE, 3);
    for (let i = 0; i < 100; i++) expect(a.nextFrame(i)).toEqual(b.nextFrame(i));
    const f = new Uint8Array(5000);
    a.fill(f, 42, 1234.5);
    expect(a.verify(f)).toEqual({ ok: true, index: 42, sendTimeMs: 1234.5, problem: '' });
    for (const pos of [FRAME_HEADER_BYTES, 2500, 4999]) {
      const g = f.slice();
      g[pos]! ^= 0x10;
      expect(a.verify(g)).toMatchObject({ ok: false, problem: `byte ${pos} differs` });
    }
    expect(a.verify(f.subarray(0, 4000))).toMatchObject({ ok: false, problem: 'length 4000 != 5000 in its header' });
    // Another stream seed does not verify.
    expect(new SyntheticStream(DEFAULT_STREAM_SHAPE, 4).verify(f).ok).toBe(false);
  });
});

describe('demo helpers', () => {
  it('quantile and textTable', () => {
    const a = new Float64Array([5, 1, 4, 2, 3, 0, 0]);
    expect(quantile(a, 5, 0.5)).toBe(3);
    expect(quantile(a, 5, 0.99)).toBe(5);
    expect(quantile(a, 0, 0.5)).toBeNaN();
    expect(textTable([['a', 'b'], ['long key', 'v']])).toBe('a         b\nlong key  v');
  });

  it('charts are plain SVG with the data drawn', () => {
    const l = lineChart('T <&>', 'ms', [{ name: 'p50', color: '#000', points: [[0, 1], [1, Number.NaN], [2, 3]] }]);
    expect(l).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(l).toContain('T &#60;&#38;&#62;');
    expect((l.match(/M/g) ?? []).length).toBeGreaterThanOrEqual(2); // the NaN breaks the line
    const b = stackedBars('B', 'n', 1, [{ name: 'x', color: '#111', points: [[0, 2], [1, 0], [2, 5]] }]);
    expect((b.match(/<title>/g) ?? []).length).toBe(2); // one bar per non-zero bucket
  });

  it('parses the demo options', () => {
    const p = parseDemoArgs(['--duration', '3', '--loss', '10', '--burst', '0.01,0.2', '--delay', '30', '--jitter', '2', '--fec', '32,16,2', '--arq', '0', '--seed', '7', '--latency', '200', '--no-live']);
    expect(p).toMatchObject({
      help: false,
      durationMs: 3000,
      impairment: { loss: 0.1, burst: { p: 0.01, r: 0.2 }, delayMs: 30, jitterMs: 2, seed: 7 },
      fec: { window: 32, step: 16, repairs: 2 },
      arq: false,
      latencyMs: 200,
      live: false,
      reportPath: null,
    });
    expect(() => parseDemoArgs(['--duration', '0'])).toThrow(/--duration: expected a number in \[0.5, 3600\]/);
  });
});

describe('sluice demo (short run, in process)', () => {
  it('streams through the lossy relay, verifies every frame, prints the summary and writes the report', async () => {
    const report = join(dir, 'demo.html');
    const out: string[] = [];
    const err: string[] = [];
    const code = await demoCommand(['--duration', '3', '--loss', '5', '--no-live', '--report', report], {
      stdout: (l) => out.push(l),
      stderr: (l) => err.push(l),
    });
    const text = out.join('\n');
    expect(code, text + err.join('\n')).toBe(0);
    expect(text).toMatch(/^\[\d+\.\ds\] frames \d+\/\d+/m); // progress lines when not a TTY
    for (const row of ['sluice demo summary', 'datagrams dropped by the relay', 'recovered by FEC', 'recovered by retransmission', 'lost for good', 'latency (send to delivery)', 'memory']) {
      expect(text).toContain(row);
    }
    expect(text).toMatch(/frames delivered\s+\d+ intact .*, 0 corrupted/);
    expect(text).toContain('every account back to zero');
    expect(text).toMatch(/^OK: /m);
    expect(text).toContain(`report: ${report}`);
    const html = readFileSync(report, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(5);
    for (const title of ['Receive buffer occupancy', 'End-to-end frame latency', 'Recovery by mechanism']) expect(html).toContain(title);
    // Self-contained: no script, no external resource.
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html.replace(/xmlns="http:\/\/www.w3.org\/2000\/svg"/g, '')).not.toMatch(/https?:\/\//);
  });
});
