import { describe, expect, it } from 'vitest';
import { SimPair } from '../../../src/core/connection/sim-pair.js';

const KEY = 'correct horse battery staple';

function frame(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (k * 131 + i * 17) & 0xff;
  return b;
}

describe('Connection pair (virtual time)', () => {
  it('handshakes and carries frames bit-exact over a perfect link', () => {
    const pair = new SimPair({ connection: { key: KEY }, forward: { delayMs: 20 } });
    expect(pair.handshake()).toBe(true);
    const sizes = [1, 100, 1332, 1333, 5000, 40_000, 0, 7];
    let i = 0;
    pair.runUntil(pair.now + 2000, (now) => {
      if (i < sizes.length) pair.clientConn!.sendFrame(frame(i, sizes[i]!), now, { keyframe: i === 0 }), i++;
    }, 20);
    const frames = pair.log.serverEvents.filter((e) => e.type === 'frame');
    expect(frames.length).toBe(sizes.length);
    frames.forEach((f, k) => {
      if (f.type !== 'frame') throw new Error('unreachable');
      expect(f.data).toEqual(frame(k, sizes[k]!));
    });
    const st = pair.serverConn!.stats(pair.now);
    expect(st.recovery.lost).toBe(0);
    expect(st.rejected.auth).toBe(0);
    expect(st.rtt.samples).toBeGreaterThan(0);
    expect(st.rtt.srttMs).toBeGreaterThan(30);
    expect(st.rtt.srttMs).toBeLessThan(60);
    pair.destroy();
  });

  it('refuses a wrong key and both sides say so', () => {
    const pair = new SimPair({ connection: { key: KEY }, listener: { key: 'another key of 16+ bytes' } });
    expect(pair.handshake()).toBe(false);
    expect(pair.connectError?.message).toMatch(/authentication failed/);
    expect((pair.connectError as { code?: string }).code).toBe('ERR_SLUICE_AUTH_FAILED');
    expect(pair.log.endpointEvents.some((e) => e.type === 'handshake-rejected')).toBe(true);
    pair.destroy();
  });
});

describe('graceful close', () => {
  it('hands over every frame the receiver still holds when the peer closes', () => {
    const pair = new SimPair({ connection: { key: KEY, latencyMs: 1000 }, forward: { delayMs: 10 } });
    expect(pair.handshake()).toBe(true);
    for (let i = 0; i < 5; i++) pair.clientConn!.sendFrame(frame(i, 3000), pair.now);
    // Let the packets arrive (10 ms) but close long before their 1 s deadline.
    pair.runUntil(pair.now + 50);
    expect(pair.log.serverEvents.filter((e) => e.type === 'frame').length).toBe(0);
    pair.clientConn!.close(pair.now);
    pair.runUntil(pair.now + 100);
    const frames = pair.log.serverEvents.filter((e) => e.type === 'frame');
    expect(frames.length).toBe(5);
    expect(pair.log.serverEvents.at(-1)).toMatchObject({ type: 'closed', byPeer: true });
    pair.destroy();
  });
});
