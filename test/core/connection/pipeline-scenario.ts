/**
 * One whole-pipeline scenario (shared by the property test, the fuzz target and the replay of
 * kept failures): a core pair under virtual time with the given link, FEC/ARQ configuration and
 * frames. Throws (through expect) when an oracle fails.
 */
import { expect } from 'vitest';
import { SimPair } from '../../../src/core/connection/sim-pair.js';
import { MemoryAccountant } from '../../../src/core/memory/accountant.js';

const KEY = 'property test key 0123456789';

export interface Scenario {
  seed: number;
  loss: number;
  burst?: { p: number; r: number } | undefined;
  delayMs: number;
  jitterMs: number;
  reorder: number;
  duplicate: number;
  latencyMs: number;
  fec: false | { window: number; step: number; repairs: number };
  arq: boolean;
  sizes: number[];
  intervalMs: number;
}

export function frameBytes(index: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  if (size >= 4) {
    b[0] = index >>> 24;
    b[1] = (index >>> 16) & 0xff;
    b[2] = (index >>> 8) & 0xff;
    b[3] = index & 0xff;
  }
  for (let k = 4; k < size; k++) b[k] = (k * 29 + index * 71) & 0xff;
  return b;
}

export function runScenario(s: Scenario): void {
        const accountant = new MemoryAccountant();
        const link = {
          seed: s.seed,
          loss: s.loss,
          ...(s.burst ? { burst: s.burst } : {}),
          delayMs: s.delayMs,
          jitterMs: s.jitterMs,
          reorder: s.reorder,
          duplicate: s.duplicate,
        };
        const pair = new SimPair({
          seed: s.seed,
          connection: { key: KEY, latencyMs: s.latencyMs, fec: s.fec, arq: s.arq, expectedRateBps: 4e6, handshakeTimeoutMs: 20_000 },
          forward: link,
          accounts: accountant,
        });
        pair.keepLog = false;
        const deliveredAt: number[] = [];
        const events: Array<{ type: 'frame'; index: number } | { type: 'lost' }> = [];
        const queuedAt = new Map<number, number>();
        let lateness = 0;
        pair.onEvent = (side, e, now) => {
          if (side !== 'server') return;
          if (e.type === 'frame') {
            const d = e.data;
            const index = d.length >= 4 ? ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0 : -1;
            if (index >= 0) {
              expect(d).toEqual(frameBytes(index, d.length));
              const q = queuedAt.get(index)!;
              lateness = Math.max(lateness, now - q - s.latencyMs - s.delayMs - s.jitterMs - (s.reorder > 0 ? 20 : 0));
            }
            events.push({ type: 'frame', index });
            deliveredAt.push(now);
          } else if (e.type === 'frame-lost') {
            events.push({ type: 'lost' });
          }
        };
        // A lossy handshake may take a few HELLO retries; a failed one is a valid outcome only
        // when the link loses a lot.
        if (!pair.handshake(20_000)) {
          pair.destroy();
          expect(s.loss + (s.burst ? 0.5 : 0)).toBeGreaterThan(0.05);
          return;
        }
        let i = 0;
        const sizes = s.sizes.map((z) => Math.max(4, z));
        pair.runUntil(
          pair.now + sizes.length * s.intervalMs,
          (now) => {
            if (i < sizes.length && pair.clientConn !== null && pair.clientConn.state === 'open') {
              queuedAt.set(i, now);
              pair.clientConn.sendFrame(frameBytes(i, sizes[i]!), now);
              i++;
            }
          },
          s.intervalMs,
        );
        // Long enough for a periodic KEEPALIVE to get through a burst and its deadline to pass.
        pair.runUntil(pair.now + s.latencyMs * 4 + 3000);
        // In order, never twice, and a gap in delivered indexes is preceded by a loss report.
        let last = -1;
        let lostSinceLast = false;
        for (const e of events) {
          if (e.type === 'lost') {
            lostSinceLast = true;
            continue;
          }
          expect(e.index).toBeGreaterThan(last);
          if (e.index > last + 1) expect(lostSinceLast).toBe(true);
          last = e.index;
          lostSinceLast = false;
        }
        // Undelivered frames at the end must be reported once the receiver knows they were sent
        // (a later packet or the sender's KEEPALIVE told it the extent). A link that drops every
        // packet after them leaves the receiver nothing to know it by.
        if (last < i - 1 && pair.serverConn !== null && pair.clientConn !== null) {
          const known = pair.serverConn.stats(pair.now).received.knownExtent;
          const sent = pair.clientConn.stats(pair.now).sent.nextSeq;
          if (known === sent && pair.serverConn.state === 'open') expect(lostSinceLast).toBe(true);
        }
        // Pacing and the FEC tail can add a few ms; a frame is never held a whole period late.
        expect(lateness).toBeLessThanOrEqual(15);
        pair.client.closeAll(pair.now);
        pair.runUntil(pair.now + 200);
        pair.destroy();
        const leaks = accountant.leakCheck({ strict: true });
        expect(leaks.ok, leaks.summary).toBe(true);
}
