/**
 * The demo's self-contained HTML report: inline SVG charts drawn here (no script, no external
 * asset), a configuration table and the summary table. Pure functions of the recorded data.
 */

/** One sample of the demo, taken every sampling interval. Cumulative fields say so. */
export interface DemoSample {
  /** ms since the stream started. */
  readonly tMs: number;
  /** Frames sent / delivered intact / reported lost, cumulative. */
  readonly framesSent: number;
  readonly framesDelivered: number;
  readonly framesLost: number;
  /** Received payload rate over the last interval, bits/s. */
  readonly bitrateBps: number;
  /** Datagrams the relay dropped sender -> receiver, cumulative. */
  readonly relayDropped: number;
  /** Datagrams the relay passed sender -> receiver, cumulative. */
  readonly relaySent: number;
  /** Packets recovered by FEC / by retransmission / lost for good (receiver), cumulative. */
  readonly byFec: number;
  readonly byArq: number;
  readonly lost: number;
  /** Receive (reorder) buffer occupancy now. */
  readonly recvBufferPackets: number;
  readonly recvBufferMs: number;
  /** End-to-end frame latency over the last interval, ms (NaN when no frame arrived). */
  readonly latencyP50: number;
  readonly latencyP99: number;
  /** Accountant totals now, bytes. */
  readonly memReservedBytes: number;
  readonly memUsedBytes: number;
}

/** The end-of-run figures shown in the summary table and the report. */
export interface DemoSummary {
  readonly startedAt: string;
  readonly durationS: number;
  readonly config: ReadonlyArray<readonly [string, string]>;
  readonly rows: ReadonlyArray<readonly [string, string]>;
  readonly recvCapacityPackets: number;
  readonly latencyBudgetMs: number;
  readonly ok: boolean;
  readonly verdict: string;
  readonly memoryAccounts: ReadonlyArray<{ readonly name: string; readonly reservedBytes: number; readonly highWaterBytes: number }>;
}

const COLORS = { fec: '#2a9d8f', arq: '#457b9d', lost: '#e63946', drop: '#f4a261', p50: '#264653', p99: '#e76f51', line: '#6c757d' };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100 || Number.isInteger(v)) return `${Math.round(v)}`;
  return `${+v.toFixed(2)}`;
}

/** A "nice" step for about `n` ticks over [0, max]. */
function niceStep(max: number, n: number): number {
  if (!(max > 0)) return 1;
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly dashed?: boolean;
}

const W = 720;
const H = 256;
// The title on the first line, the legend on the second, then the plot.
const PAD = { l: 56, r: 16, t: 44, b: 34 };

function frame(title: string, yLabel: string, xMax: number, yMax: number, body: string, legend: ReadonlyArray<{ name: string; color: string }>): string {
  const pw = W - PAD.l - PAD.r;
  const ph = H - PAD.t - PAD.b;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${PAD.l}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`);
  const ys = niceStep(yMax, 4);
  for (let y = 0; y <= yMax + 1e-9; y += ys) {
    const py = PAD.t + ph - (y / yMax) * ph;
    parts.push(`<line x1="${PAD.l}" x2="${PAD.l + pw}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${PAD.l - 6}" y="${(py + 4).toFixed(1)}" font-size="10" text-anchor="end">${fmt(y)}</text>`);
  }
  const xs = niceStep(xMax, 8);
  for (let x = 0; x <= xMax + 1e-9; x += xs) {
    const px = PAD.l + (x / xMax) * pw;
    parts.push(`<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${PAD.t + ph}" y2="${PAD.t + ph + 4}" stroke="#999"/>`);
    parts.push(`<text x="${px.toFixed(1)}" y="${PAD.t + ph + 15}" font-size="10" text-anchor="middle">${fmt(x)}</text>`);
  }
  parts.push(`<text x="${PAD.l + pw / 2}" y="${H - 4}" font-size="10" text-anchor="middle">time (s)</text>`);
  parts.push(`<text x="12" y="${PAD.t + ph / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 12 ${PAD.t + ph / 2})">${esc(yLabel)}</text>`);
  parts.push(`<line x1="${PAD.l}" x2="${PAD.l}" y1="${PAD.t}" y2="${PAD.t + ph}" stroke="#999"/>`);
  parts.push(`<line x1="${PAD.l}" x2="${PAD.l + pw}" y1="${PAD.t + ph}" y2="${PAD.t + ph}" stroke="#999"/>`);
  parts.push(body);
  let lx = PAD.l;
  for (const g of legend) {
    parts.push(`<rect x="${lx}" y="23" width="10" height="10" fill="${g.color}"/><text x="${lx + 13}" y="32" font-size="10">${esc(g.name)}</text>`);
    lx += 24 + g.name.length * 6;
  }
  parts.push('</svg>');
  return parts.join('');
}

/**
 * A line chart of `series` (x in seconds). Points with a non-finite y break the line.
 * @returns an `<svg>` element as text.
 */
export function lineChart(title: string, yLabel: string, series: readonly Series[]): string {
  let xMax = 0;
  let yMax = 0;
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (x > xMax) xMax = x;
      if (Number.isFinite(y) && y > yMax) yMax = y;
    }
  }
  xMax = xMax > 0 ? xMax : 1;
  yMax = yMax > 0 ? niceStep(yMax * 1.1, 4) * Math.ceil((yMax * 1.1) / niceStep(yMax * 1.1, 4)) : 1;
  const pw = W - PAD.l - PAD.r;
  const ph = H - PAD.t - PAD.b;
  const body: string[] = [];
  for (const s of series) {
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) {
        pen = false;
        continue;
      }
      const px = PAD.l + (x / xMax) * pw;
      const py = PAD.t + ph - (Math.min(y, yMax) / yMax) * ph;
      d += `${pen ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`;
      pen = true;
    }
    if (d !== '') {
      body.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed === true ? ' stroke-dasharray="5,4"' : ''}/>`);
    }
  }
  return frame(title, yLabel, xMax, yMax, body.join(''), series.map((s) => ({ name: s.name, color: s.color })));
}

/**
 * Stacked bars per time bucket (x in seconds, bucket width `widthS`), one layer per series.
 * @returns an `<svg>` element as text.
 */
export function stackedBars(title: string, yLabel: string, widthS: number, series: readonly Series[]): string {
  const buckets = new Map<number, number>();
  let xMax = 0;
  for (const s of series) {
    for (const [x, y] of s.points) {
      buckets.set(x, (buckets.get(x) ?? 0) + Math.max(0, y));
      if (x + widthS > xMax) xMax = x + widthS;
    }
  }
  let yMax = 0;
  for (const v of buckets.values()) if (v > yMax) yMax = v;
  xMax = xMax > 0 ? xMax : 1;
  yMax = yMax > 0 ? niceStep(yMax * 1.1, 4) * Math.ceil((yMax * 1.1) / niceStep(yMax * 1.1, 4)) : 1;
  const pw = W - PAD.l - PAD.r;
  const ph = H - PAD.t - PAD.b;
  const base = new Map<number, number>();
  const body: string[] = [];
  const bw = Math.max(1, (widthS / xMax) * pw - 1);
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (!(y > 0)) continue;
      const b = base.get(x) ?? 0;
      const px = PAD.l + (x / xMax) * pw;
      const top = PAD.t + ph - ((b + y) / yMax) * ph;
      const h = (y / yMax) * ph;
      body.push(`<rect x="${px.toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${esc(s.name)} ${fmt(x)} s: ${y}</title></rect>`);
      base.set(x, b + y);
    }
  }
  return frame(title, yLabel, xMax, yMax, body.join(''), series.map((s) => ({ name: s.name, color: s.color })));
}

/** Per-bucket increments of a cumulative field, bucketed by whole `widthS` seconds. */
function perBucket(samples: readonly DemoSample[], pick: (s: DemoSample) => number, widthS: number): Array<[number, number]> {
  const out = new Map<number, number>();
  let prev = 0;
  for (const s of samples) {
    const v = pick(s);
    const b = Math.floor(s.tMs / 1000 / widthS) * widthS;
    out.set(b, (out.get(b) ?? 0) + (v - prev));
    prev = v;
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * The whole report as one HTML document (no script, no external resource).
 * @example writeFileSync('report.html', renderReport(summary, samples));
 */
export function renderReport(summary: DemoSummary, samples: readonly DemoSample[]): string {
  const t = (s: DemoSample): number => s.tMs / 1000;
  const occupancy = lineChart('Receive buffer occupancy', 'packets held', [
    { name: 'packets held', color: COLORS.p50, points: samples.map((s) => [t(s), s.recvBufferPackets] as const) },
    { name: `capacity (${summary.recvCapacityPackets})`, color: COLORS.line, dashed: true, points: samples.map((s) => [t(s), summary.recvCapacityPackets] as const) },
  ]);
  const heldMs = lineChart('Receive buffer span', 'ms of media held', [
    { name: 'ms held', color: COLORS.arq, points: samples.map((s) => [t(s), s.recvBufferMs] as const) },
    { name: `latency budget (${summary.latencyBudgetMs} ms)`, color: COLORS.line, dashed: true, points: samples.map((s) => [t(s), summary.latencyBudgetMs] as const) },
  ]);
  const latency = lineChart('End-to-end frame latency', 'ms', [
    { name: 'p50', color: COLORS.p50, points: samples.map((s) => [t(s), s.latencyP50] as const) },
    { name: 'p99', color: COLORS.p99, points: samples.map((s) => [t(s), s.latencyP99] as const) },
    { name: 'latency budget', color: COLORS.line, dashed: true, points: samples.map((s) => [t(s), summary.latencyBudgetMs] as const) },
  ]);
  const recovery = stackedBars('Recovery by mechanism (packets per second)', 'packets', 1, [
    { name: 'recovered by FEC', color: COLORS.fec, points: perBucket(samples, (s) => s.byFec, 1) },
    { name: 'recovered by retransmission', color: COLORS.arq, points: perBucket(samples, (s) => s.byArq, 1) },
    { name: 'lost for good', color: COLORS.lost, points: perBucket(samples, (s) => s.lost, 1) },
  ]);
  const drops = stackedBars('Datagrams dropped by the relay (sender to receiver, per second)', 'datagrams', 1, [
    { name: 'dropped', color: COLORS.drop, points: perBucket(samples, (s) => s.relayDropped, 1) },
  ]);
  const bitrate = lineChart('Received bitrate', 'bit/s', [{ name: 'bitrate', color: COLORS.fec, points: samples.map((s) => [t(s), s.bitrateBps] as const) }]);
  const memory = lineChart('Memory held by sluice (accountant)', 'bytes', [
    { name: 'reserved', color: COLORS.arq, points: samples.map((s) => [t(s), s.memReservedBytes] as const) },
    { name: 'in use', color: COLORS.fec, points: samples.map((s) => [t(s), s.memUsedBytes] as const) },
  ]);
  const table = (rows: ReadonlyArray<readonly [string, string]>): string =>
    `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
  const memRows = summary.memoryAccounts.map((a) => [a.name, `${fmt(a.reservedBytes)} B reserved at the end of the stream, ${fmt(a.highWaterBytes)} B high-water`] as const);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sluice demo ${esc(summary.startedAt)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:780px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
th{font-weight:600;color:#444}td{font-variant-numeric:tabular-nums}
.ok{color:#2a9d8f;font-weight:bold}.bad{color:#e63946;font-weight:bold}svg{margin:8px 0;display:block}
</style></head><body>
<h1>sluice demo</h1>
<p>Started ${esc(summary.startedAt)}, ${summary.durationS.toFixed(1)} s of synthetic media through a seeded impairment relay on 127.0.0.1.
<span class="${summary.ok ? 'ok' : 'bad'}">${esc(summary.verdict)}</span></p>
<h2>Configuration</h2>${table(summary.config)}
<h2>Summary</h2>${table(summary.rows)}
<h2>Recovery</h2>${recovery}${drops}
<h2>Latency</h2>${latency}
<h2>Buffers</h2>${occupancy}${heldMs}
<h2>Throughput and memory</h2>${bitrate}${memory}
<h2>Memory per account</h2>${table(memRows)}
<p style="font-size:11px;color:#777">Generated by <code>sluice demo</code>. Self-contained: no scripts, no external resources.</p>
</body></html>
`;
}
