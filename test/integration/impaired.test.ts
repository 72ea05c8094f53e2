/**
 * Integration over real UDP sockets on 127.0.0.1 through the seeded impairment relay: loss on
 * both directions, 20 ms one-way delay, 120 ms latency. Frames arrive bit-exact and in order or
 * are reported lost; hostile datagrams change nothing but counters; 100 connections share one
 * listening socket; after every scenario every memory account is back to zero.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, type Frame, type SluiceConnection, type SluiceServer } from '../../src/io/api.js';
import { ImpairRelay } from '../../src/io/impair-relay.js';
import { MemoryAccountant } from '../../src/core/memory/accountant.js';
import type { ImpairmentOptions } from '../../src/core/link-model.js';

const KEY = 'integration key 0123456789';

function frameBytes(index: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b[0] = index >>> 8;
  b[1] = index & 0xff;
  for (let k = 2; k < size; k++) b[k] = (k * 13 + index * 101) & 0xff;
  return b;
}

function nextConnection(server: SluiceServer): Promise<SluiceConnection> {
  return new Promise((resolve) => server.once('connection', resolve));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function assertNoLeaks(accountant: MemoryAccountant): void {
  const leaks = accountant.leakCheck();
  expect(leaks.ok, leaks.summary).toBe(true);
  const strict = accountant.leakCheck({ strict: true });
  expect(strict.ok, strict.summary).toBe(true);
}

interface Run {
  delivered: Map<number, Uint8Array>;
  order: number[];
  lostEvents: number;
  sent: number;
  serverConn: SluiceConnection;
}

/** Streams `frames` frames of varied size at 25 fps-like pacing (compressed in time). */
async function stream(serverSide: Promise<SluiceConnection>, client: SluiceConnection, frames: number): Promise<Run> {
  const serverConn = await serverSide;
  const delivered = new Map<number, Uint8Array>();
  const order: number[] = [];
  let lostEvents = 0;
  serverConn.on('frame', (f: Frame) => {
    const idx = (f.data[0]! << 8) | f.data[1]!;
    order.push(idx);
    delivered.set(idx, f.data);
  });
  serverConn.on('frame-lost', () => lostEvents++);
  for (let i = 0; i < frames; i++) {
    const size = i % 25 === 0 ? 30_000 : 2_000 + ((i * 7919) % 9000);
    await client.write(frameBytes(i, size), { keyframe: i % 25 === 0 });
    await sleep(10);
  }
  // Until every sequence sent was delivered or given up (latency 120 ms + recovery; longer on a
  // loaded machine), at most 10 s.
  const until = Date.now() + 10_000;
  while (serverConn.stats().received.nextExpectedSeq !== client.stats().sent.nextSeq && Date.now() < until) await sleep(20);
  return { delivered, order, lostEvents, sent: frames, serverConn };
}

function checkRun(r: Run): void {
  // In order, never twice, bit-exact.
  for (let k = 1; k < r.order.length; k++) expect(r.order[k]!, 'frames in order, never twice').toBeGreaterThan(r.order[k - 1]!);
  for (const [idx, data] of r.delivered) expect(Buffer.from(data).equals(Buffer.from(frameBytes(idx, data.length)))).toBe(true);
  // Anything not delivered was reported lost.
  if (r.delivered.size < r.sent) expect(r.lostEvents, 'undelivered frames are reported lost').toBeGreaterThan(0);
}

describe('impaired loopback (real sockets, relay with loss both ways, 20 ms, 120 ms latency)', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (closers.length > 0) await closers.pop()!();
  });

  async function setup(impairment: ImpairmentOptions, accountant: MemoryAccountant) {
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY, accountant, expectedRateBps: 10e6 });
    closers.push(() => server.close());
    const relay = new ImpairRelay({
      listen: { host: '127.0.0.1', port: 0 },
      target: { host: '127.0.0.1', port: server.address().port },
      impairment: { delayMs: 20, ...impairment },
      durationMs: 60_000,
    });
    const addr = await relay.start();
    closers.push(() => relay.close());
    const serverSide = nextConnection(server);
    const client = await connect({ host: '127.0.0.1', port: addr.port, key: KEY, accountant, expectedRateBps: 10e6, handshakeTimeoutMs: 5000 });
    closers.push(() => client.close());
    return { server, relay, client, serverSide };
  }

  const scenarios: Array<[string, ImpairmentOptions, number]> = [
    // Live delivery drops what misses the 120 ms deadline, and on a loaded 2-core machine the
    // shared event loop can make a frame miss it even on a clean path (seen: 4 of 120 frames at
    // 5% loss with a load average of 7). Recovery quality is measured by the benchmarks.
    ['0% loss', { seed: 1 }, 0.01],
    ['5% random loss', { loss: 0.05, seed: 2 }, 0.1],
    // Recovery rates are the benchmark's business (bench/compare-srt.ts); here a loose bound
    // catches a recovery path that stopped working, on a shared machine with 1 ms timers.
    ['20% random loss', { loss: 0.2, seed: 3 }, 0.2],
    ['bursty loss (Gilbert-Elliott p=0.01 r=0.1)', { burst: { p: 0.01, r: 0.1 }, seed: 4 }, 0.2],
  ];

  it.each(scenarios)('%s: frames bit-exact and in order or reported lost; no leaks', async (_name, impairment, maxLostShare) => {
    const accountant = new MemoryAccountant();
    const { client, serverSide } = await setup(impairment, accountant);
    const r = await stream(serverSide, client, 120);
    if (process.env.SLUICE_DEBUG) console.log(JSON.stringify({ st: r.serverConn.stats(), client: client.stats(), delivered: r.delivered.size }));
    checkRun(r);
    const lostShare = 1 - r.delivered.size / r.sent;
    expect(lostShare, `${r.sent - r.delivered.size} of ${r.sent} frames lost: ${JSON.stringify(r.serverConn.stats().recovery)}`).toBeLessThanOrEqual(maxLostShare);
    const st = r.serverConn.stats();
    expect(st.rejected.auth).toBe(0);
    while (closers.length > 0) await closers.pop()!();
    assertNoLeaks(accountant);
  }, 60_000);

  it('forged, replayed and garbage datagrams change nothing but counters', async () => {
    const accountant = new MemoryAccountant();
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY, accountant });
    closers.push(() => server.close());
    // A tapping relay: forwards both ways and keeps copies of what the client sent.
    const captured: Buffer[] = [];
    const up = dgram.createSocket('udp4');
    const down = dgram.createSocket('udp4');
    let clientAddr: dgram.RemoteInfo | null = null;
    await new Promise<void>((r) => down.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
    down.on('message', (m, rinfo) => {
      clientAddr = rinfo;
      if (captured.length < 200) captured.push(Buffer.from(m));
      up.send(m, server.address().port, '127.0.0.1');
    });
    up.on('message', (m) => {
      if (clientAddr) down.send(m, clientAddr.port, clientAddr.address);
    });
    closers.push(async () => {
      up.close();
      down.close();
      return undefined;
    });
    const serverSide = nextConnection(server);
    const client = await connect({ host: '127.0.0.1', port: down.address().port, key: KEY, accountant });
    closers.push(() => client.close());
    const attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
    closers.push(async () => {
      attacker.close();
    });
    const port = server.address().port;
    const hostile = setInterval(() => {
      // Garbage of every size, a replay of a captured packet, and a forged copy (one bit flipped).
      const junk = Buffer.alloc(1 + Math.floor(Math.random() * 1400));
      for (let k = 0; k < junk.length; k++) junk[k] = (Math.random() * 256) | 0;
      attacker.send(junk, port, '127.0.0.1');
      const c = captured[Math.floor(Math.random() * captured.length)];
      if (c) {
        attacker.send(c, port, '127.0.0.1');
        // Forged: a fresh packet number (so the replay check lets it through to the tag check)
        // and one flipped bit in the body or tag.
        const f = Buffer.from(c);
        f.writeUInt32BE((f.readUInt32BE(8) + 100 + Math.floor(Math.random() * 800)) >>> 0, 8);
        f[12 + Math.floor(Math.random() * (f.length - 12))]! ^= 1 << Math.floor(Math.random() * 8);
        attacker.send(f, port, '127.0.0.1');
      }
    }, 2);
    const r = await stream(serverSide, client, 100);
    clearInterval(hostile);
    checkRun(r);
    expect(r.sent - r.delivered.size, 'frames lost while under attack').toBeLessThanOrEqual(1);
    const st = r.serverConn.stats();
    const ep = server.endpointCounters;
    if (process.env.SLUICE_DEBUG) console.log(JSON.stringify({ rejected: st.rejected, ep, captured: captured.length }));
    const dropped = st.rejected.auth + st.rejected.replay + Object.values(st.rejected.decode).reduce((a, b) => a + b, 0) + ep.unknownConnection + Object.values(ep.decode).reduce((a, b) => a + b, 0);
    expect(st.rejected.replay).toBeGreaterThan(0);
    expect(st.rejected.auth).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(100);
    while (closers.length > 0) await closers.pop()!();
    assertNoLeaks(accountant);
  }, 60_000);

  it('100 connections share one listening socket', async () => {
    const accountant = new MemoryAccountant();
    // The 100 callers share this process (and its event loop) with the listener, so datagrams
    // wait for loop turns (libuv reads 32 per socket per turn): a 1 s latency keeps this test
    // about multiplexing, not about this process's scheduling.
    const opts = { key: KEY, accountant, expectedRateBps: 2e6, latencyMs: 1000 };
    const server = await listen({ host: '127.0.0.1', port: 0, ...opts });
    closers.push(() => server.close());
    const got = new Map<SluiceConnection, number>();
    server.on('connection', (c: SluiceConnection) => {
      got.set(c, 0);
      c.on('frame', (f: Frame) => got.set(c, got.get(c)! + f.data.length));
    });
    const clients: SluiceConnection[] = [];
    for (let i = 0; i < 100; i++) {
      clients.push(await connect({ host: '127.0.0.1', port: server.address().port, ...opts }));
    }
    expect(server.connectionCount).toBe(100);
    for (let round = 0; round < 5; round++) {
      for (const c of clients) c.send(new Uint8Array(3000).fill(round));
      await sleep(20);
    }
    const until = Date.now() + 5000;
    while ([...got.values()].reduce((a, b) => a + b, 0) < 100 * 5 * 3000 && Date.now() < until) await sleep(20);
    expect(got.size).toBe(100);
    for (const bytes of got.values()) expect(bytes).toBe(5 * 3000);
    const perConn = accountant.snapshot().connections;
    expect(perConn.length).toBeGreaterThanOrEqual(100);
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    closers.length = 0;
    assertNoLeaks(accountant);
  }, 60_000);
});
