/**
 * `sluice send` / `sluice recv` errors as child processes: a wrong key (both sides say so), a
 * port in use, an unreachable peer, unreadable input, bad URLs.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { syntheticTs } from './mpegts.js';
import { killAll, portOf, sluice } from './spawn.js';

const KEY = 'cli acceptance key 0123456789';
const env = { SLUICE_KEY: KEY };
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-err-'));

afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice send / recv errors', () => {
  it('a wrong key: the caller fails with ERR_SLUICE_AUTH_FAILED and the listener logs the rejection', async () => {
    const recv = sluice(['recv', 'sluice://127.0.0.1:0', '-'], env);
    const l = await recv.waitJson((o) => o.event === 'listening');
    const input = join(dir, 'small.ts');
    writeFileSync(input, syntheticTs(70));
    const send = sluice(['send', `file:${input}`, `sluice://127.0.0.1:${portOf(l.address)}?key=another+key+of+16+bytes`]);
    expect(await send.exited).toBe(1);
    expect(send.text()).toMatch(/ERR_SLUICE_AUTH_FAILED.*wrong key/);
    const rej = await recv.waitJson((o) => o.event === 'rejected');
    expect(rej.reason).toMatch(/authentication failed/);
    recv.proc.kill('SIGTERM');
    expect(await recv.exited).toBe(0);
    expect(recv.json().some((o) => o.event === 'final')).toBe(true);
  });

  it('a port in use: ERR_SLUICE_BIND naming the address, exit 1', async () => {
    const recv = sluice(['recv', 'sluice://127.0.0.1:0', '-'], env);
    const l = await recv.waitJson((o) => o.event === 'listening');
    const port = portOf(l.address);
    const second = sluice(['recv', `sluice://127.0.0.1:${port}`, '-'], env);
    expect(await second.exited).toBe(1);
    expect(second.text()).toContain(`ERR_SLUICE_BIND`);
    expect(second.text()).toContain(`127.0.0.1:${port}`);
    // The same for a UDP input of send.
    const third = sluice(['send', `udp://127.0.0.1:${port}`, 'sluice://127.0.0.1:9'], env);
    expect(await third.exited).toBe(1);
    expect(third.text()).toMatch(/ERR_SLUICE_BIND: input: cannot bind udp:\/\/127\.0\.0\.1:\d+: the port is in use/);
    recv.proc.kill('SIGINT');
    expect(await recv.exited).toBe(0);
  });

  it('an unreachable peer: ERR_SLUICE_CONNECT_TIMEOUT naming the address', async () => {
    const input = join(dir, 'small2.ts');
    writeFileSync(input, syntheticTs(70));
    const sock = dgram.createSocket('udp4'); // bound and silent: nobody answers the HELLO
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      const send = sluice(['send', `file:${input}`, `sluice://127.0.0.1:${sock.address().port}`], env);
      expect(await send.exited).toBe(1);
      expect(send.text()).toContain(`ERR_SLUICE_CONNECT_TIMEOUT`);
      expect(send.text()).toContain(`127.0.0.1:${sock.address().port}`);
    } finally {
      sock.close();
    }
  });

  it('unreadable input and bad URLs: clear messages, exit 1 / 2', async () => {
    const a = sluice(['send', `file:${join(dir, 'missing.ts')}`, 'sluice://127.0.0.1:9000'], env);
    expect(await a.exited).toBe(1);
    expect(a.text()).toContain('cannot read input file:');
    expect(a.text()).toContain('no such file');
    const b = sluice(['send', '-', 'srt://127.0.0.1:9000'], env);
    expect(await b.exited).toBe(2);
    expect(b.text()).toContain('unknown scheme "srt://"');
    const c = sluice(['recv', 'sluice://127.0.0.1:9000', 'file:/tmp/x']);
    expect(await c.exited).toBe(2);
    expect(c.text()).toMatch(/key: missing.*SLUICE_KEY/);
  });
});
