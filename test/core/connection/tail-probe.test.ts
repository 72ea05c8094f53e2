/**
 * Tail probes: after the last packet of a burst, when nothing follows within a few ms, the sender
 * sends a KEEPALIVE. After DATA it tells the receiver the next seq (a lost tail becomes known);
 * after a retransmission it carries a newer packet number, which is what proves that
 * retransmission lost to the sender (largestPn) when a bursty sender has nothing else to send.
 * Virtual time, video-like frames (38 packets every 40 ms), 10% loss, 20 ms each way.
 */
import { describe, expect, it } from 'vitest';
import { SimPair } from '../../../src/core/connection/sim-pair.js';

const KEY = 'tail probe test key 0123456789';

interface Sent {
  t: number;
  type: number;
  rtx: boolean;
}

describe('tail probes', () => {
  it('a retransmission followed by silence is followed by a KEEPALIVE within 6 ms', () => {
    const pair = new SimPair({
      connection: { key: KEY, latencyMs: 120, expectedRateBps: 10e6 },
      forward: { loss: 0.1, delayMs: 20, seed: 11, capacity: 16384 },
      backward: { loss: 0.1, delayMs: 20, seed: 12, capacity: 16384 },
      seed: 11,
    });
    pair.keepLog = false;
    const sent: Sent[] = [];
    const link = pair.forward;
    const orig = link.send.bind(link);
    link.send = (b: Uint8Array, off: number, len: number, now: number): void => {
      sent.push({ t: now, type: b[off + 1]!, rtx: b[off + 1] === 0x04 && (b[off + 2]! & 0x04) !== 0 });
      orig(b, off, len, now);
    };
    expect(pair.handshake()).toBe(true);
    const frame = new Uint8Array(50_000);
    let i = 0;
    pair.runUntil(pair.now + 4000, (now) => {
      if (i++ < 100) pair.clientConn!.sendFrame(frame, now);
    }, 40);
    pair.destroy();
    // Every retransmission after which nothing is sent for 5 ms (TAIL_PROBE_MS) is followed by a
    // KEEPALIVE at 5 ms (the virtual clock fires timers on time).
    let lonely = 0;
    for (let k = 0; k < sent.length; k++) {
      const p = sent[k]!;
      if (!p.rtx) continue;
      const next = sent[k + 1];
      if (next !== undefined && next.t - p.t < 5) continue; // something followed at once
      lonely++;
      expect(next, `retransmission at ${p.t.toFixed(1)} ms is the last packet`).toBeDefined();
      expect(next!.type).toBe(0x09);
      expect(next!.t - p.t).toBeLessThanOrEqual(6);
    }
    expect(lonely).toBeGreaterThan(10);
  });
});
