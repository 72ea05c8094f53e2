import { afterEach, describe, expect, it } from 'vitest';
import { TRIM_DELAY_MS, connect, listen, type SluiceConnection, type Frame } from '../../src/io/api.js';
import { MemoryAccountant } from '../../src/core/memory/accountant.js';
import { ImpairRelay } from '../../src/io/impair-relay.js';
import { DEFAULT_CALLER_SEND_RING, callerSendRingFor } from '../../src/io/socket.js';

const KEY = 'loopback test key, 16+ bytes';

function frame(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (k * 7 + i * 13) & 0xff;
  return b;
}

describe('listen/connect over real UDP on 127.0.0.1', () => {
  let cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup = [];
  });

  it('carries frames bit-exact in order, then closes gracefully and returns every byte', async () => {
    const accountant = new MemoryAccountant();
    // A generous latency: this test is about bytes and order, not the deadline (a loaded machine
    // can hold the shared event loop longer than 120 ms).
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY, accountant, latencyMs: 1000 });
    cleanup.push(() => server.close());
    const got: Frame[] = [];
    const serverSide = new Promise<SluiceConnection>((resolve) => server.once('connection', resolve));
    const client = await connect({ host: '127.0.0.1', port: server.address().port, key: KEY, accountant, latencyMs: 1000 });
    const sconn = await serverSide;
    sconn.on('frame', (f: Frame) => got.push(f));
    const sizes = [10, 1332, 1333, 20_000, 150_000, 0, 999];
    for (let i = 0; i < sizes.length; i++) await client.write(frame(i, sizes[i]!), { keyframe: i === 0 });
    const deadline = Date.now() + 10_000;
    while (got.length < sizes.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got.map((f) => f.data.length)).toEqual(sizes);
    got.forEach((f, i) => expect(Buffer.from(f.data).equals(Buffer.from(frame(i, sizes[i]!)))).toBe(true));
    expect(got[0]!.keyframe).toBe(true);
    const closed = new Promise((r) => sconn.once('close', r));
    await client.close();
    expect(await closed).toMatchObject({ byPeer: true });
    await server.close();
    cleanup = [];
    // Every connection account is zero and every pooled slot is back...
    const leaks = accountant.leakCheck();
    expect(leaks.ok, leaks.summary).toBe(true);
    // ...so the shared pool closed with the last socket and nothing at all is held.
    const strict = accountant.leakCheck({ strict: true });
    expect(strict.ok, strict.summary).toBe(true);
    expect(accountant.reservedBytes).toBe(0);
  });

  it('returns pool slabs once connections end, while the listener stays open', async () => {
    // The listener's memory is charged to its own accountant; the callers use another.
    const accountant = new MemoryAccountant();
    const callers = new MemoryAccountant();
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY, accountant, latencyMs: 1000 });
    cleanup.push(() => server.close());
    const conns: SluiceConnection[] = [];
    const received = new Map<SluiceConnection, number>();
    const seen: { last: Frame | null } = { last: null };
    server.on('connection', (c: SluiceConnection) => {
      conns.push(c);
      received.set(c, 0);
      c.on('frame', (f: Frame) => {
        received.set(c, received.get(c)! + 1);
        seen.last = f;
      });
    });
    const clients: SluiceConnection[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect({ host: '127.0.0.1', port: server.address().port, key: KEY, accountant: callers, latencyMs: 1000 });
      clients.push(c);
      cleanup.push(() => c.close());
    }
    // Three streams of 150 kB frames: the receive side holds hundreds of packets at once, so the
    // listener's shared pool grows several slabs.
    const FRAMES = 8;
    for (let i = 0; i < FRAMES; i++) await Promise.all(clients.map((c) => c.write(frame(i, 150_000))));
    const deadline = Date.now() + 10_000;
    const delivered = () => [...received.values()].reduce((a, b) => a + b, 0);
    while (delivered() < 3 * FRAMES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(delivered()).toBe(3 * FRAMES);
    const poolOf = () => accountant.snapshot().pools.find((p) => p.name === 'pool.1472')!;
    const grown = poolOf();
    expect(grown.grows).toBeGreaterThan(0);
    expect(grown.slabs).toBeGreaterThan(0);
    const reservedOpen = accountant.reservedBytes;

    const ended = conns.map((c) => new Promise((r) => c.once('close', r)));
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(ended);
    expect(server.connectionCount).toBe(0);
    // Within TRIM_DELAY_MS (+ margin) every slab without a slot in use is freed.
    const until = Date.now() + TRIM_DELAY_MS + 3000;
    while (poolOf().slabs > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const trimmed = poolOf();
    expect(trimmed.inUse).toBe(0);
    expect(trimmed.slabs).toBe(0);
    expect(accountant.reservedBytes).toBeLessThanOrEqual(reservedOpen - grown.slabs * grown.slotsPerSlab * grown.slotSize);
    // The pool still serves a new connection after the trim.
    const again = await connect({ host: '127.0.0.1', port: server.address().port, key: KEY, accountant: callers, latencyMs: 1000 });
    cleanup.push(() => again.close());
    await again.write(frame(99, 20_000));
    const until2 = Date.now() + 5000;
    while (conns.length < 4 && Date.now() < until2) await new Promise((r) => setTimeout(r, 10));
    while (received.get(conns[3]!) !== 1 && Date.now() < until2) await new Promise((r) => setTimeout(r, 10));
    expect(received.get(conns[3]!)).toBe(1);
    expect(Buffer.from(seen.last!.data).equals(Buffer.from(frame(99, 20_000)))).toBe(true);
    expect(poolOf().slabs).toBeGreaterThan(0);
  });

  it('encrypts payloads end to end with auth: aead', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY, auth: 'aead' });
    cleanup.push(() => server.close());
    const serverSide = new Promise<SluiceConnection>((resolve) => server.once('connection', resolve));
    const client = await connect({ host: '127.0.0.1', port: server.address().port, key: KEY, auth: 'aead' });
    cleanup.push(() => client.close());
    const sconn = await serverSide;
    expect(sconn.core.options.auth).toBe('aead');
    const got: Uint8Array[] = [];
    sconn.on('frame', (f: Frame) => got.push(f.data));
    for (let i = 0; i < 5; i++) await client.write(frame(i, 4000 + i));
    const deadline = Date.now() + 5000;
    while (got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    got.forEach((d, i) => expect(Buffer.from(d).equals(Buffer.from(frame(i, 4000 + i)))).toBe(true));
    expect(got.length).toBe(5);
    expect(sconn.stats().rejected.auth).toBe(0);
  });

  it('reports a wrong key on both sides', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY });
    cleanup.push(() => server.close());
    const rejected = new Promise<string>((r) => server.once('rejected', (_a: string, _p: number, reason: string) => r(reason)));
    await expect(connect({ host: '127.0.0.1', port: server.address().port, key: 'a different key of 16+' })).rejects.toMatchObject({
      code: 'ERR_SLUICE_AUTH_FAILED',
    });
    expect(await rejected).toMatch(/authentication failed/);
  });

  it('socketStats: a caller counts the ICMP port-unreachable reports once its peer is gone', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY });
    cleanup.push(() => server.close());
    const relay = new ImpairRelay({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: server.address().port }, durationMs: 10_000 });
    const addr = await relay.start();
    let relayClosed = false;
    cleanup.push(async () => {
      if (!relayClosed) await relay.close();
    });
    const client = await connect({ host: '127.0.0.1', port: addr.port, key: KEY, idleTimeoutMs: 5000 });
    cleanup.push(() => client.close(50));
    const before = client.socketStats;
    expect(before.datagramsOut).toBeGreaterThan(0);
    expect(before.datagramsIn).toBeGreaterThan(0);
    expect(before.unreachable).toBe(0);
    await relay.close(); // the port the caller's socket is connected to now refuses
    relayClosed = true;
    const frame = new Uint8Array(1000);
    for (let i = 0; i < 20 && client.socketStats.unreachable === 0; i++) {
      client.send(frame);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(client.socketStats.unreachable).toBeGreaterThan(0);
    expect(client.closed).toBe(false); // counted, not thrown: the idle timeout decides
  });

  it("sizes a caller's send ring for its expected rate (32 slots at 2 Mbit/s, 128 from ~36 Mbit/s)", async () => {
    expect(callerSendRingFor(2e6)).toBe(32);
    expect(callerSendRingFor(20e6)).toBe(64);
    expect(callerSendRingFor(200e6)).toBe(DEFAULT_CALLER_SEND_RING);
    const accountant = new MemoryAccountant();
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY });
    cleanup.push(() => server.close());
    const before = accountant.reservedBytes;
    const client = await connect({ host: '127.0.0.1', port: server.address().port, key: KEY, accountant, expectedRateBps: 2e6 });
    cleanup.push(() => client.close());
    const ring = accountant.snapshot().accounts.filter((a) => a.name.endsWith('.send-ring') && !a.closed);
    expect(ring.map((a) => a.reservedBytes)).toContain(32 * 1500);
    expect(accountant.reservedBytes).toBeGreaterThan(before);
  });

  it('times out against an address where nobody listens, naming it', async () => {
    await expect(connect({ host: '127.0.0.1', port: 9, key: KEY, handshakeTimeoutMs: 300 })).rejects.toMatchObject({
      code: 'ERR_SLUICE_CONNECT_TIMEOUT',
      message: expect.stringContaining('127.0.0.1:9'),
    });
  });

  it('refuses a port in use with a clear error', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, key: KEY });
    cleanup.push(() => server.close());
    await expect(listen({ host: '127.0.0.1', port: server.address().port, key: KEY })).rejects.toMatchObject({
      code: 'ERR_SLUICE_BIND',
      message: expect.stringContaining('in use'),
    });
  });
});
