/**
 * ImpairRelay and `sluice impair` over real UDP sockets on 127.0.0.1. Every test sends a
 * bounded number of datagrams and every relay is closed (or stops by itself) within a second
 * or two; timing is asserted only as lower bounds that the model guarantees (never early).
 */
import dgram, { type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ImpairRelay, isLoopbackHost, parseUdpAddress } from '../../src/io/impair-relay.js';
import { LinkModel } from '../../src/core/link-model.js';
import { SluiceRangeError, SluiceStateError } from '../../src/core/errors.js';
import type { MemoryAccount } from '../../src/core/memory/types.js';
import { impairCommand, parseImpairArgs, IMPAIR_HELP } from '../../src/cli/impair.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await (cleanup.pop() as () => Promise<void> | void)();
});

async function udp(): Promise<Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

/** A UDP echo server on 127.0.0.1; records the first 4 bytes (index) of every datagram. */
async function echoServer(): Promise<{ sock: Socket; port: number; seen: number[] }> {
  const sock = await udp();
  const seen: number[] = [];
  sock.on('message', (msg, rinfo) => {
    seen.push(msg.readUInt32BE(0));
    sock.send(msg, rinfo.port, rinfo.address);
  });
  return { sock, port: sock.address().port, seen };
}

function relay(opts: ConstructorParameters<typeof ImpairRelay>[0]): ImpairRelay {
  const r = new ImpairRelay(opts);
  cleanup.push(() => r.close());
  return r;
}

function datagram(i: number, len: number): Buffer {
  const b = Buffer.alloc(len, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

/** Waits until `cond()` holds (polling every 5 ms) or `ms` passes; returns cond(). */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return cond();
}

class Acct implements MemoryAccount {
  readonly name = 'relay';
  reserved = 0;
  used = 0;
  reserve(b: number): void {
    this.reserved += b;
  }
  unreserve(b: number): void {
    this.reserved -= b;
  }
  setCapacity(): void {}
  use(b: number): void {
    this.used += b;
  }
  setSpanMs(): void {}
}

describe('ImpairRelay over 127.0.0.1', () => {
  it('relays both ways byte-exact on a perfect link and accounts its memory', async () => {
    const echo = await echoServer();
    const account = new Acct();
    const r = relay({ listen: 'udp://127.0.0.1:0', target: `udp://127.0.0.1:${echo.port}`, account, capacity: 256 });
    expect(account.reserved).toBeGreaterThan(0);
    const { port } = await r.start();
    const client = await udp();
    const got: Buffer[] = [];
    client.on('message', (m) => got.push(m));
    const n = 200;
    for (let i = 0; i < n; i++) client.send(datagram(i, 100 + (i % 1000)), port, '127.0.0.1');
    expect(await until(() => got.length === n, 3000)).toBe(true);
    for (const m of got) expect(m.equals(datagram(m.readUInt32BE(0), m.length))).toBe(true);
    const s = r.stats();
    expect(s.forward).toMatchObject({ sent: n, delivered: n, held: 0 });
    expect(s.reverse).toMatchObject({ sent: n, delivered: n, held: 0 });
    expect(s.client).toBe(`127.0.0.1:${client.address().port}`);
    await r.close();
    expect(account.reserved).toBe(0);
    expect(account.used).toBe(0);
  });

  it('drops exactly the datagrams the seeded model drops (the relay is the model)', async () => {
    const echo = await echoServer();
    const impairment = { loss: 0.3, seed: 77 };
    const r = relay({ listen: 'udp://127.0.0.1:0', target: `udp://127.0.0.1:${echo.port}`, impairment, reverse: null });
    const { port } = await r.start();
    const client = await udp();
    let back = 0;
    client.on('message', () => back++);
    const n = 300;
    // Paced a little so the loopback socket buffers never overflow: every loss is the model's.
    for (let i = 0; i < n; i++) {
      client.send(datagram(i, 64), port, '127.0.0.1');
      if (i % 50 === 49) await new Promise((res) => setTimeout(res, 5));
    }
    expect(await until(() => r.stats().forward.sent === n && back === echo.seen.length, 3000)).toBe(true);
    // The same model offline, same seed, same order of datagrams: the same survivors.
    const model = new LinkModel(impairment);
    const out = new Uint8Array(1500);
    const expected: number[] = [];
    for (let i = 0; i < n; i++) {
      model.send(datagram(i, 64), 0, 64, 0);
      while (model.poll(0, out) >= 0) expected.push(i);
    }
    expect([...echo.seen].sort((a, b) => a - b)).toEqual(expected);
    expect(r.stats().forward.droppedLoss).toBe(n - expected.length);
    expect(back).toBe(expected.length); // reverse: null is a perfect link
  });

  it('delays each direction by at least the configured delay', async () => {
    const echo = await echoServer();
    const r = relay({ listen: 'udp://127.0.0.1:0', target: `udp://127.0.0.1:${echo.port}`, impairment: { delayMs: 30 } });
    const { port } = await r.start();
    const client = await udp();
    const t0 = performance.now();
    client.send(datagram(1, 32), port, '127.0.0.1');
    await once(client, 'message');
    // Lower bound only (the model never delivers early): 30 ms out + 30 ms back.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
  });

  it('stops by itself after durationMs and resolves `closed` with "duration"', async () => {
    const echo = await echoServer();
    const r = relay({ listen: 'udp://127.0.0.1:0', target: `udp://127.0.0.1:${echo.port}`, durationMs: 200 });
    let closeEvent = '';
    r.on('close', (reason: string) => (closeEvent = reason));
    await r.start();
    expect(await r.closed).toBe('duration');
    expect(closeEvent).toBe('duration');
    await r.close(); // idempotent
    await expect(r.start()).rejects.toThrow(SluiceStateError);
  });

  it('relays replies from the target only, never from a stranger hitting the upstream port', async () => {
    const echo = await echoServer();
    const r = relay({ listen: 'udp://127.0.0.1:0', target: `udp://127.0.0.1:${echo.port}` });
    const { port } = await r.start();
    const stranger = await udp();
    for (let i = 0; i < 5; i++) stranger.send(datagram(i, 16), r.upstreamPort(), '127.0.0.1');
    const client = await udp();
    client.send(datagram(42, 16), port, '127.0.0.1');
    const [msg] = (await once(client, 'message')) as [Buffer];
    expect(msg.readUInt32BE(0)).toBe(42);
    expect(r.stats().reverse.sent).toBe(1);
    expect(r.stats().strayDatagrams).toBe(0);
  });

  it('keeps running when the target is not listening (ICMP errors are counted, not fatal)', async () => {
    const closedPort = await udp();
    const deadPort = closedPort.address().port;
    await new Promise<void>((res) => closedPort.close(() => res()));
    cleanup.pop(); // already closed
    const r = relay({ listen: 'udp://127.0.0.1:0', target: `udp://127.0.0.1:${deadPort}` });
    const { port } = await r.start();
    const client = await udp();
    for (let i = 0; i < 10; i++) {
      client.send(datagram(i, 10), port, '127.0.0.1');
      await new Promise((res) => setTimeout(res, 2));
    }
    expect(await until(() => r.stats().forward.delivered === 10, 2000)).toBe(true);
    expect(r.stats().forward.sent).toBe(10);
  });

  it('refuses a non-loopback target unless allowNonLoopback, and bad options by name', () => {
    expect(() => new ImpairRelay({ listen: 'udp://127.0.0.1:0', target: 'udp://192.0.2.1:5000' })).toThrow(
      /target: 192\.0\.2\.1 is not a loopback address.*allowNonLoopback/,
    );
    expect(() => new ImpairRelay({ listen: 'udp://127.0.0.1:0', target: 'udp://example.com:5000' })).toThrow(SluiceRangeError);
    const ok = new ImpairRelay({ listen: 'udp://127.0.0.1:0', target: 'udp://192.0.2.1:5000', allowNonLoopback: true });
    void ok.close();
    expect(() => new ImpairRelay({ listen: 'udp://127.0.0.1:0', target: 'udp://127.0.0.1:0' })).toThrow(/target\.port/);
    expect(() => new ImpairRelay({ listen: 'udp://127.0.0.1:0', target: 'udp://127.0.0.1:1', durationMs: 0 })).toThrow(/durationMs/);
    expect(() => new ImpairRelay({ listen: 'udp://127.0.0.1:0', target: 'udp://127.0.0.1:1', impairment: { loss: 2 } })).toThrow(/loss/);
    expect(() => new ImpairRelay({ listen: 'tcp://127.0.0.1:0', target: 'udp://127.0.0.1:1' })).toThrow(/listen: expected udp:\/\/HOST:PORT/);
  });

  it('rejects start() with EADDRINUSE when the listen port is taken', async () => {
    const taken = await udp();
    const r = relay({ listen: `udp://127.0.0.1:${taken.address().port}`, target: 'udp://127.0.0.1:9' });
    await expect(r.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(await r.closed).toBe('closed');
  });

  it('parses addresses and recognises loopback hosts', () => {
    expect(parseUdpAddress('x', 'udp://127.0.0.1:5000')).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(parseUdpAddress('x', 'udp://[::1]:6000')).toEqual({ host: '::1', port: 6000 });
    expect(parseUdpAddress('x', 'localhost:7')).toEqual({ host: 'localhost', port: 7 });
    expect(() => parseUdpAddress('x', 'udp://127.0.0.1:70000')).toThrow(/port/);
    expect(() => parseUdpAddress('x', 'udp://127.0.0.1')).toThrow(/expected udp/);
    for (const h of ['127.0.0.1', '127.5.6.7', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', '0.0.0.0', '::', 'example.com', '128.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('sluice impair (CLI)', () => {
  it('relays, prints listening / stats / final JSON lines and exits 0 at the end of --duration', async () => {
    const echo = await echoServer();
    const lines: string[] = [];
    const client = await udp();
    let back = 0;
    client.on('message', () => back++);
    const code = await impairCommand(
      ['--listen', 'udp://127.0.0.1:0', '--to', `udp://127.0.0.1:${echo.port}`, '--loss', '0', '--delay', '2', '--seed', '3', '--duration', '600ms', '--stats-interval', '100'],
      {
        stderr: (l) => lines.push(l),
        onListening: (port) => {
          for (let i = 0; i < 20; i++) client.send(datagram(i, 50), port, '127.0.0.1');
        },
      },
    );
    expect(code).toBe(0);
    const events = lines.map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
    expect(events[0]).toMatchObject({ event: 'listening', forward: 'loss=0%,delay=2ms,seed=3', to: `udp://127.0.0.1:${echo.port}` });
    expect(events.filter((e) => e.event === 'stats').length).toBeGreaterThanOrEqual(2);
    const final = events[events.length - 1] as { event: string; reason: string; forward: { sent: number; delivered: number } };
    expect(final).toMatchObject({ event: 'final', reason: 'duration' });
    expect(final.forward).toMatchObject({ sent: 20, delivered: 20 });
    expect(back).toBe(20);
  });

  it('stops on its abort signal (as on SIGINT) with exit code 0', async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    const code = await impairCommand(['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:9'], {
      stderr: (l) => lines.push(l),
      signal: ac.signal,
      onListening: () => setTimeout(() => ac.abort(), 50),
    });
    expect(code).toBe(0);
    expect(JSON.parse(lines[lines.length - 1] as string)).toMatchObject({ event: 'final', reason: 'closed' });
  });

  it('prints help with examples', async () => {
    const out: string[] = [];
    expect(await impairCommand(['--help'], { stdout: (l) => out.push(l) })).toBe(0);
    expect(out.join('\n')).toBe(IMPAIR_HELP);
    expect(IMPAIR_HELP).toMatch(/Examples:/);
  });

  const bad: Array<[string[], RegExp]> = [
    [['--to', 'udp://127.0.0.1:5000'], /--listen udp:\/\/HOST:PORT is required/],
    [['--listen', 'udp://127.0.0.1:0'], /--to udp:\/\/HOST:PORT is required/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:1', '--loss', '500'], /--loss: expected a probability/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:1', '--burst', '0.1'], /--burst: expected p:r/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:1', '--rate', 'fast'], /--rate: expected a rate/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:1', '--seed', 'x'], /--seed: expected an integer/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:1', '--duration', '0'], /--duration/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:1', '--stats-interval', '1'], /--stats-interval/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://192.0.2.7:1'], /not a loopback address/],
    [['--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:1', '--wobble'], /wobble/],
    [['--listen', 'nowhere', '--to', 'udp://127.0.0.1:1'], /--listen: expected udp:\/\/HOST:PORT/],
  ];
  it.each(bad)('exits 2 with a clear message for %j', async (argv, re) => {
    const lines: string[] = [];
    expect(await impairCommand(argv, { stderr: (l) => lines.push(l) })).toBe(2);
    expect(lines[0]).toMatch(re);
    expect(lines[0]).toMatch(/^sluice impair: /);
  });

  it('exits 1 naming the address when the listen port is in use', async () => {
    const taken = await udp();
    const lines: string[] = [];
    const port = taken.address().port;
    expect(await impairCommand(['--listen', `udp://127.0.0.1:${port}`, '--to', 'udp://127.0.0.1:9'], { stderr: (l) => lines.push(l) })).toBe(1);
    expect(lines[0]).toBe(`sluice impair: cannot listen on udp://127.0.0.1:${port}: udp://127.0.0.1:${port} is already in use`);
  });

  it('maps flags onto the model options (percent flags, --impair base, --reverse)', () => {
    const p = parseImpairArgs([
      '--listen', 'udp://127.0.0.1:0', '--to', 'udp://127.0.0.1:5000',
      '--impair', 'loss=1%,delay=5,rate=10mbit',
      '--loss', '5', '--burst', '0.01,0.1', '--jitter', '5', '--reorder', '1', '--dup', '1%',
      '--outage', '5s:1s', '--outage', '10s:250ms', '--fifo', '--reverse', 'none', '--duration', '30',
    ]);
    expect(p.help).toBe(false);
    if (p.help) return;
    expect(p.options.impairment).toEqual({
      loss: 0.05,
      delayMs: 5,
      rateBps: 10e6,
      burst: { p: 0.01, r: 0.1 },
      jitterMs: 5,
      reorder: 0.01,
      duplicate: 0.01,
      preserveOrder: true,
      outages: [
        { atMs: 5000, durationMs: 1000 },
        { atMs: 10000, durationMs: 250 },
      ],
    });
    expect(p.options.reverse).toBeNull();
    expect(p.options.durationMs).toBe(30_000);
    expect(p.statsIntervalMs).toBe(0);
  });
});
