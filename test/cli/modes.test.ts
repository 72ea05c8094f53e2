/**
 * `sluice send` / `sluice recv` modes as child processes: stdin to stdout, a listening sender
 * with a calling receiver, and a listening receiver serving one sender at a time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { syntheticTs } from './mpegts.js';
import { killAll, portOf, sluice } from './spawn.js';

const env = { SLUICE_KEY: 'cli modes key 0123456789' };
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-modes-'));
afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('stdin -> sluice -> stdout, bit-exact, then both exit 0', async () => {
  const ts = syntheticTs(7 * 300, 2, 21);
  const recv = sluice(['recv', 'sluice://127.0.0.1:0', '-', '--once'], env);
  const l = await recv.waitJson((o) => o.event === 'listening');
  const send = sluice(['send', '-', `sluice://127.0.0.1:${portOf(l.address)}`], env);
  send.proc.stdin!.end(ts);
  expect(await send.exited, send.text()).toBe(0);
  expect(await recv.exited, recv.text()).toBe(0);
  expect(Buffer.compare(Buffer.concat(recv.stdout), Buffer.from(ts))).toBe(0);
  expect(send.json().find((o) => o.event === 'final')).toMatchObject({ reason: 'end of input', input: { frames: 300 } });
});

it('mode=listener on send and mode=caller on recv', async () => {
  const ts = syntheticTs(7 * 200, 3, 22);
  const input = join(dir, 'l.ts');
  const output = join(dir, 'l-out.ts');
  writeFileSync(input, ts);
  const send = sluice(['send', `file:${input}`, 'sluice://127.0.0.1:0?mode=listener'], env);
  const l = await send.waitJson((o) => o.event === 'listening');
  const recv = sluice(['recv', `sluice://127.0.0.1:${portOf(l.address)}?mode=caller`, `file:${output}`], env);
  expect(await send.exited, send.text()).toBe(0);
  expect(await recv.exited, recv.text()).toBe(0);
  expect(Buffer.compare(readFileSync(output), Buffer.from(ts))).toBe(0);
  expect(recv.json().find((o) => o.event === 'final')).toMatchObject({ reason: 'closed by peer' });
});

it('a listening recv serves one sender at a time: a second is refused while the first streams, a later one is served', async () => {
  const a = syntheticTs(7 * 200, 2, 31);
  const c = syntheticTs(7 * 50, 2, 32);
    writeFileSync(join(dir, 'b.ts'), syntheticTs(70, 1, 33));
  writeFileSync(join(dir, 'c.ts'), c);
  const output = join(dir, 'serial-out.ts');
  const recv = sluice(['recv', 'sluice://127.0.0.1:0', `file:${output}`], env);
  const url = `sluice://127.0.0.1:${portOf((await recv.waitJson((o) => o.event === 'listening')).address)}`;
  // A streams from stdin, which stays open until B has been refused.
  const sa = sluice(['send', '-', url], env);
  sa.proc.stdin!.write(a.subarray(0, 1316 * 100));
  await sa.waitJson((o) => o.event === 'connected');
  const sb = sluice(['send', `file:${join(dir, 'b.ts')}`, url], env);
  expect(await sb.exited).toBe(1);
  expect(sb.text()).toContain('ERR_SLUICE_PEER_CLOSED');
  sa.proc.stdin!.end(a.subarray(1316 * 100));
  expect(await sa.exited, sa.text()).toBe(0);
  await recv.waitJson((o) => o.event === 'disconnected');
  const sc = sluice(['send', `file:${join(dir, 'c.ts')}`, url], env);
  expect(await sc.exited, sc.text()).toBe(0);
  await recv.waitJson((o) => o.event === 'disconnected' && (o.output as { frames: number }).frames === 250);
  recv.proc.kill('SIGTERM');
  expect(await recv.exited).toBe(0);
  const events = recv.json().map((o) => o.event);
  expect(events.filter((e) => e === 'connected').length).toBe(2);
  expect(events).toContain('busy');
  expect(recv.json().find((o) => o.event === 'final')).toMatchObject({ reason: 'SIGTERM', totals: { connections: 2 } });
  expect(Buffer.compare(readFileSync(output), Buffer.concat([a, c]))).toBe(0);
});
