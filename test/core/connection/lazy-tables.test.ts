/**
 * A direction's tables get their full size on first use: a receive-only connection does not
 * hold a send buffer sized for the stream, a send-only one no reorder/NACK tables. Reserved
 * bytes read from the accountant, per connection account (virtual time).
 */
import { describe, expect, it } from 'vitest';
import { SimPair } from '../../../src/core/connection/sim-pair.js';
import { MemoryAccountant } from '../../../src/core/memory/accountant.js';

const KEY = 'lazy tables test key 0123456789';

function reserved(acc: MemoryAccountant, connId: number, component: string): number {
  const a = acc.snapshot().accounts.find((x) => x.name === `conn.${connId}.${component}` && !x.closed);
  if (a === undefined) throw new Error(`no account conn.${connId}.${component}`);
  return a.reservedBytes;
}

describe('tables sized on first use', () => {
  it('sizes the send side on the first frame and the receive side on the first DATA, and returns every byte', () => {
    const accountant = new MemoryAccountant();
    const pair = new SimPair({ connection: { key: KEY, expectedRateBps: 20e6 }, forward: { delayMs: 10 }, accounts: accountant });
    expect(pair.handshake()).toBe(true);
    const client = pair.clientConn!;
    const server = pair.serverConn!;
    const c = client.stats(pair.now).connId;
    const s = server.stats(pair.now).connId;
    // Idle: every direction is a 16-slot stand-in (without a shared pool the buffers hold their
    // own payload slab: 16 x 1332 bytes).
    const STAND_IN = 16 * 1332 + 2048;
    for (const [id, comp] of [[c, 'send'], [c, 'reorder'], [c, 'nack'], [s, 'send'], [s, 'reorder'], [s, 'nack']] as const) {
      expect(reserved(accountant, id, comp)).toBeLessThan(STAND_IN);
    }
    expect(server.stats(pair.now).receiveBuffer.capacity).toBe(4096); // the configured size
    let sent = 0;
    pair.runUntil(pair.now + 500, (now) => {
      if (sent++ < 20) client.sendFrame(new Uint8Array(5000), now);
    }, 10);
    // The caller sends: its send tables are full size (4096 slots), its receive tables still
    // stand-ins; the listener the other way round.
    expect(reserved(accountant, c, 'send')).toBeGreaterThan(4096 * 1332);
    expect(reserved(accountant, c, 'reorder')).toBeLessThan(STAND_IN);
    expect(reserved(accountant, c, 'nack')).toBeLessThan(STAND_IN);
    expect(reserved(accountant, s, 'reorder')).toBeGreaterThan(4096 * 1332);
    expect(reserved(accountant, s, 'nack')).toBeGreaterThanOrEqual(4096 * 15);
    expect(reserved(accountant, s, 'send')).toBeLessThan(STAND_IN);
    expect(pair.log.serverEvents.filter((e) => e.type === 'frame').length).toBe(20);
    pair.destroy();
    expect(accountant.leakCheck().ok).toBe(true);
  });
});
