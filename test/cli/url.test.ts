import { describe, expect, it } from 'vitest';
import { formatAddress, parseFec, parseMode, parseSluiceUrl, parseSwitch, resolveTarget } from '../../src/cli/url.js';
import { chunked, parseMediaSpec } from '../../src/cli/media-io.js';

const KEY = '0123456789abcdef';

describe('parseSluiceUrl', () => {
  it('parses host, port and parameters (percent-decoded, names case-insensitive)', () => {
    expect(parseSluiceUrl('sluice://127.0.0.1:9000?latency=200&key=a%20b%2Bc&FEC=32,16,2')).toEqual({
      host: '127.0.0.1',
      port: 9000,
      params: { latency: '200', key: 'a b+c', fec: '32,16,2' },
    });
    expect(parseSluiceUrl('sluice://[::1]:9000')).toEqual({ host: '::1', port: 9000, params: {} });
    expect(parseSluiceUrl('SLUICE://:9000/')).toEqual({ host: '', port: 9000, params: {} });
    expect(parseSluiceUrl('sluice://example.net:1?')).toEqual({ host: 'example.net', port: 1, params: {} });
  });

  it.each([
    ['', /got nothing/],
    ['127.0.0.1:9000', /start with sluice:\/\//],
    ['srt://127.0.0.1:9000', /unknown scheme "srt:\/\/"/],
    ['sluice://127.0.0.1', /missing port/],
    ['sluice://[::1]', /missing port/],
    ['sluice://127.0.0.1:70000', /port must be in \[0, 65535\], got 70000/],
    ['sluice://127.0.0.1:9000:1', /expected HOST:PORT/],
    ['sluice://127.0.0.1:9000?latncy=5', /unknown parameter "latncy" \(known: key, mode, latency/],
    ['sluice://127.0.0.1:9000?latency=5&latency=6', /"latency" given twice/],
    ['sluice://127.0.0.1:9000?latency', /"latency" has no value/],
    ['sluice://127.0.0.1:9000?key=%E0%A4%A', /bad percent-encoding/],
  ])('rejects %j naming what is wrong', (url, re) => {
    expect(() => parseSluiceUrl(url)).toThrow(re);
  });
});

describe('resolveTarget', () => {
  it('maps every parameter to a connection option', () => {
    const t = resolveTarget(
      `sluice://127.0.0.1:9000?key=${KEY}&latency=250&fec=32,16,2&fecminloss=2&arq=0&auth=aead&maxrate=20mbit&rate=8mbit&maxframe=1m&maxdatagram=1316&mode=listener`,
      {},
      {},
      'caller',
    );
    expect(t).toEqual({
      host: '127.0.0.1',
      port: 9000,
      mode: 'listener',
      options: {
        key: KEY,
        latencyMs: 250,
        fec: { window: 32, step: 16, repairs: 2 },
        fecMinLoss: 0.02,
        arq: false,
        auth: 'aead',
        maxRateBps: 20_000_000,
        expectedRateBps: 8_000_000,
        maxFrameBytes: 1024 * 1024,
        maxDatagram: 1316,
      },
    });
  });

  it('flags override the URL; the key falls back to SLUICE_KEY; defaults by command', () => {
    const t = resolveTarget('sluice://localhost:9000?latency=250&fec=off', { latency: '80', 'max-datagram': '1500' }, { SLUICE_KEY: KEY }, 'caller');
    expect(t.host).toBe('127.0.0.1');
    expect(t.mode).toBe('caller');
    expect(t.options).toEqual({ key: KEY, latencyMs: 80, fec: false, maxDatagram: 1500 });
    // --fec-min-loss: a bare number is a percentage, like the demo's --loss.
    expect(resolveTarget(`sluice://1.2.3.4:5?key=${KEY}`, { 'fec-min-loss': '0' }, {}, 'caller').options.fecMinLoss).toBe(0);
    expect(resolveTarget(`sluice://1.2.3.4:5?key=${KEY}`, { 'fec-min-loss': '8' }, {}, 'caller').options.fecMinLoss).toBe(0.08);
    expect(resolveTarget(`sluice://:9000?key=${KEY}`, {}, {}, 'listener')).toMatchObject({ host: '0.0.0.0', port: 9000, mode: 'listener' });
    expect(resolveTarget(`sluice://:0`, { key: KEY }, {}, 'listener').port).toBe(0);
    // The URL key wins over the environment; --key wins over both.
    expect(resolveTarget(`sluice://1.2.3.4:5?key=${KEY}x`, {}, { SLUICE_KEY: KEY }, 'caller').options.key).toBe(`${KEY}x`);
    expect(resolveTarget(`sluice://1.2.3.4:5?key=${KEY}x`, { key: `${KEY}y` }, {}, 'caller').options.key).toBe(`${KEY}y`);
  });

  it.each([
    ['sluice://1.2.3.4:5', {}, {}, /key: missing.*SLUICE_KEY/],
    ['sluice://1.2.3.4:5?key=short', {}, {}, /key \(in the sluice URL\): the key must be at least 16 bytes, got 5/],
    ['sluice://1.2.3.4:5', { key: 'short' }, {}, /--key: the key must be at least 16 bytes/],
    ['sluice://1.2.3.4:5', {}, { SLUICE_KEY: 'short' }, /SLUICE_KEY: the key must be at least 16 bytes/],
    [`sluice://1.2.3.4:5?key=${KEY}&latency=5`, {}, {}, /latency \(in the sluice URL\): expected an integer in \[20, 60000\], got "5"/],
    [`sluice://1.2.3.4:5?key=${KEY}`, { latency: 'fast' }, {}, /--latency: expected an integer/],
    [`sluice://1.2.3.4:5?key=${KEY}&fec=64,32,x`, {}, {}, /fec \(in the sluice URL\): expected W,S,R/],
    [`sluice://1.2.3.4:5?key=${KEY}&fec=200`, {}, {}, /window: expected an integer in \[1, 128\]/],
    [`sluice://1.2.3.4:5?key=${KEY}&fecminloss=150`, {}, {}, /fecminloss \(in the sluice URL\)/],
    [`sluice://1.2.3.4:5?key=${KEY}&arq=maybe`, {}, {}, /arq \(in the sluice URL\): expected 1 or 0/],
    [`sluice://1.2.3.4:5?key=${KEY}&auth=rsa`, {}, {}, /auth \(in the sluice URL\): expected hmac or aead/],
    [`sluice://1.2.3.4:5?key=${KEY}&maxrate=1kbit`, {}, {}, /maxrate \(in the sluice URL\): expected a rate in \[64kbit, 10gbit\]/],
    [`sluice://1.2.3.4:5?key=${KEY}&rate=fast`, {}, {}, /rate \(in the sluice URL\)/],
    [`sluice://1.2.3.4:5?key=${KEY}&maxframe=1g`, {}, {}, /maxframe/],
    [`sluice://1.2.3.4:5?key=${KEY}&maxdatagram=100`, {}, {}, /maxdatagram \(in the sluice URL\): expected an integer in \[1200, 65507\]/],
    [`sluice://1.2.3.4:5?key=${KEY}&mode=server2`, {}, {}, /mode \(in the sluice URL\): expected caller or listener/],
    [`sluice://:5?key=${KEY}`, {}, {}, /a caller needs a host/],
    [`sluice://1.2.3.4:0?key=${KEY}`, {}, {}, /a caller needs a port in \[1, 65535\], got 0/],
  ] as const)('rejects %s %j %j', (url, flags, env, re) => {
    expect(() => resolveTarget(url, flags, env, 'caller')).toThrow(re);
  });
});

describe('small parsers', () => {
  it('parseFec', () => {
    expect(parseFec('f', '64,32,1')).toEqual({ window: 64, step: 32, repairs: 1 });
    expect(parseFec('f', '20,10')).toEqual({ window: 20, step: 10, repairs: 1 });
    expect(parseFec('f', '10')).toEqual({ window: 10, step: 10, repairs: 1 });
    for (const off of ['off', 'OFF', '0', 'none', 'false']) expect(parseFec('f', off)).toBe(false);
    expect(() => parseFec('f', '10,20')).toThrow(/f step: expected an integer in \[1, 10\]/);
    expect(() => parseFec('f', '1,2,3,4')).toThrow(/expected W,S,R/);
  });
  it('parseSwitch / parseMode', () => {
    expect(['1', 'on', 'TRUE', 'yes'].map((v) => parseSwitch('x', v))).toEqual([true, true, true, true]);
    expect(['0', 'off', 'false', 'no'].map((v) => parseSwitch('x', v))).toEqual([false, false, false, false]);
    expect(() => parseSwitch('--arq', '2')).toThrow(/--arq: expected 1 or 0/);
    expect(parseMode('m', 'Listener')).toBe('listener');
    expect(parseMode('m', 'caller')).toBe('caller');
  });
  it('formatAddress brackets IPv6', () => {
    expect(formatAddress('::1', 5)).toBe('[::1]:5');
    expect(formatAddress('10.0.0.1', 5)).toBe('10.0.0.1:5');
  });
});

describe('inputs and outputs', () => {
  it('parseMediaSpec', () => {
    expect(parseMediaSpec('input', 'udp://localhost:5000')).toMatchObject({ kind: 'udp', address: { host: '127.0.0.1', port: 5000 } });
    expect(parseMediaSpec('input', 'udp://[::1]:5000')).toMatchObject({ kind: 'udp', address: { host: '::1', port: 5000 } });
    expect(parseMediaSpec('input', 'file:a/b.ts')).toMatchObject({ kind: 'file', path: 'a/b.ts' });
    expect(parseMediaSpec('output', 'file:///tmp/b.ts')).toMatchObject({ kind: 'file', path: '/tmp/b.ts' });
    expect(parseMediaSpec('output', '-')).toMatchObject({ kind: 'stdio' });
    expect(() => parseMediaSpec('output', 'udp://127.0.0.1:0')).toThrow(/output: udp port must be in \[1, 65535\]/);
    expect(() => parseMediaSpec('input', 'sluice://127.0.0.1:9000')).toThrow(/is a sluice URL.*argument order/);
    expect(() => parseMediaSpec('input', 'movie.ts')).toThrow(/input: expected udp:\/\/HOST:PORT, file:PATH or -/);
    expect(() => parseMediaSpec('input', 'file:')).toThrow(/needs a path/);
    expect(() => parseMediaSpec('input', 'udp://127.0.0.1')).toThrow(/input: expected udp:\/\/HOST:PORT/);
  });

  it('chunked cuts any piece sizes into exact chunks, the last one short', async () => {
    async function* pieces(): AsyncGenerator<Uint8Array> {
      let v = 0;
      for (const n of [1, 5, 1316, 3000, 0, 7, 2000]) {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = v++ & 0xff;
        yield b;
      }
    }
    const out: Uint8Array[] = [];
    for await (const c of chunked(pieces(), 1316)) out.push(c);
    const total = 1 + 5 + 1316 + 3000 + 7 + 2000;
    expect(total).toBe(6329);
    expect(out.map((c) => c.length)).toEqual([1316, 1316, 1316, 1316, total - 4 * 1316]);
    let v = 0;
    for (const c of out) for (const b of c) expect(b).toBe(v++ & 0xff);
  });
});
