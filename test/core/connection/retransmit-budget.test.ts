/**
 * The retransmission budget (tokens earned only by original sends) must not strand the last
 * packets of a stream: once the sender goes quiet it earns nothing, so the bucket has to hold
 * enough for their later rounds. Virtual time: 50 Mbit/s for 1.5 s, then silence; 20% loss
 * both ways, 20 ms each way, 500 ms latency (about ten rounds: nothing should be lost).
 */
import { describe, expect, it } from 'vitest';
import { lossyPair } from '../../support/lossy-pair.js';

const KEY = 'retransmit budget test key 0123456789';

describe('retransmission budget', () => {
  it('recovers the last packets of a stream after the sender goes quiet', () => {
    for (const seed of [1, 2]) {
      const { pair, delivered } = lossyPair(
        { key: KEY, latencyMs: 500, expectedRateBps: 50e6 },
        { loss: 0.2, delayMs: 20, jitterMs: 2, preserveOrder: true },
        seed,
      );
      const frame = new Uint8Array(1316);
      const period = (1316 * 8 * 1000) / 50e6;
      const total = Math.floor(1500 / period);
      let sent = 0;
      pair.runUntil(pair.now + 1500, (now) => {
        if (sent < total) pair.clientConn!.sendFrame(frame, now), sent++;
      }, period);
      pair.runUntil(pair.now + 2000);
      const lost = pair.serverConn!.counters.lost;
      pair.destroy();
      expect({ seed, lost, delivered: delivered() }).toEqual({ seed, lost: 0, delivered: sent });
    }
  });
});
