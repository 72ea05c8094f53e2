/**
 * Repairs follow the measured loss (`fecMinLoss`): a clean link stops them after about a second,
 * a lossy one keeps them, loss that appears later brings them back, and `fecMinLoss: 0` sends
 * them always. Virtual time (SimPair), 10 Mbit/s of 1316-byte frames, 20 ms each way.
 */
import { describe, expect, it } from 'vitest';
import { lossyPair } from '../../support/lossy-pair.js';
import { resolveOptions, DEFAULT_FEC_MIN_LOSS } from '../../../src/core/connection/options.js';
import type { ConnectionOptions } from '../../../src/core/connection/options.js';

const KEY = 'adaptive fec test key 0123456789';
const FRAME = 1316;
const PERIOD_MS = (FRAME * 8 * 1000) / 10e6;

interface Phase {
  seconds: number;
  loss: number;
}

/** Runs the phases back to back; returns repairs sent and the sender's stats at each phase end. */
function run(phases: Phase[], options: Partial<ConnectionOptions> = {}, seed = 5) {
  const { pair, delivered } = lossyPair({ key: KEY, latencyMs: 120, expectedRateBps: 10e6, ...options }, { delayMs: 20 }, seed, 1);
  const frame = new Uint8Array(FRAME);
  let sent = 0;
  const ends: { repairs: number; active: boolean; loss: number }[] = [];
  for (const ph of phases) {
    pair.forward.setLoss(ph.loss);
    const before = pair.clientConn!.counters.repairSent;
    pair.runUntil(pair.now + ph.seconds * 1000, (now) => {
      frame[0] = sent & 0xff;
      pair.clientConn!.sendFrame(frame, now);
      sent++;
    }, PERIOD_MS);
    const st = pair.clientConn!.stats(pair.now);
    ends.push({ repairs: pair.clientConn!.counters.repairSent - before, active: st.sent.fecActive, loss: st.sent.lossEstimate });
  }
  pair.runUntil(pair.now + 1000);
  const st = pair.clientConn!.stats(pair.now);
  const lost = pair.serverConn!.counters.lost;
  pair.destroy();
  return { ends, sent, delivered: delivered(), lost, withheld: st.sent.repairWithheld };
}

describe('adaptive FEC (fecMinLoss)', () => {
  it('validates the option and defaults to 5%', () => {
    expect(resolveOptions({ key: KEY }).fecMinLoss).toBe(DEFAULT_FEC_MIN_LOSS);
    expect(DEFAULT_FEC_MIN_LOSS).toBe(0.05);
    expect(resolveOptions({ key: KEY, fecMinLoss: 0 }).fecMinLoss).toBe(0);
    expect(() => resolveOptions({ key: KEY, fecMinLoss: 1.5 })).toThrow(/fecMinLoss.*\[0, 1\]/);
    expect(() => resolveOptions({ key: KEY, fecMinLoss: -0.1 })).toThrow(/fecMinLoss/);
    expect(() => resolveOptions({ key: KEY, fecMinLoss: Number.NaN })).toThrow(/fecMinLoss/);
    // An explicit FEC configuration is taken as asked: always, unless fecMinLoss says otherwise.
    expect(resolveOptions({ key: KEY, fec: { window: 32, step: 16, repairs: 2 } }).fecMinLoss).toBe(0);
    expect(resolveOptions({ key: KEY, fec: { window: 32, step: 16, repairs: 2 }, fecMinLoss: 0.1 }).fecMinLoss).toBe(0.1);
  });

  it('stops repairs on a clean link within about a second and keeps delivering everything', () => {
    const r = run([{ seconds: 1.5, loss: 0 }, { seconds: 3, loss: 0 }]);
    // 10 Mbit/s = 950 packets/s, one repair per 32: ~44 repairs in 1.5 s if they never stopped.
    expect(r.ends[0]!.repairs).toBeGreaterThan(0);
    expect(r.ends[0]!.repairs).toBeLessThan(40);
    expect(r.ends[1]!.repairs).toBe(0);
    expect(r.ends[1]!.active).toBe(false);
    expect(r.ends[1]!.loss).toBeLessThan(0.01);
    expect(r.withheld).toBeGreaterThan(80);
    expect(r.delivered).toBe(r.sent);
  });

  it('keeps repairs at 10% loss, and brings them back when loss appears on a clean link', () => {
    const steady = run([{ seconds: 4, loss: 0.1 }]);
    expect(steady.ends[0]!.active).toBe(true);
    expect(steady.ends[0]!.loss).toBeGreaterThan(0.07);
    expect(steady.ends[0]!.loss).toBeLessThan(0.13);
    expect(steady.ends[0]!.repairs).toBeGreaterThan(110); // ~119 in 4 s: none withheld after the start
    expect(steady.lost).toBe(0);

    const later = run([{ seconds: 3, loss: 0 }, { seconds: 3, loss: 0.1 }]);
    expect(later.ends[0]!.active).toBe(false);
    expect(later.ends[1]!.active).toBe(true);
    expect(later.ends[1]!.repairs).toBeGreaterThan(40);
    expect(later.lost).toBe(0);
  });

  it('stays off in the hysteresis band and on with fecMinLoss 0', () => {
    // 2% loss: under 0.6 x 5%, so off; ARQ alone recovers it.
    const low = run([{ seconds: 4, loss: 0.02 }]);
    expect(low.ends[0]!.active).toBe(false);
    expect(low.lost).toBe(0);
    const always = run([{ seconds: 3, loss: 0 }], { fecMinLoss: 0 });
    expect(always.ends[0]!.active).toBe(true);
    expect(always.ends[0]!.repairs).toBeGreaterThan(85); // 2850 packets / 32
  });

  it('keeps repairs on without ARQ (nothing to measure with, and they are the only recovery)', () => {
    const noBudget = run([{ seconds: 3, loss: 0 }], { retransmitShare: 0 });
    expect(noBudget.ends[0]!.active).toBe(true);
    const fecOnly = run([{ seconds: 3, loss: 0 }, { seconds: 2, loss: 0.02 }], { arq: false });
    expect(fecOnly.ends[0]!.active).toBe(true);
    expect(fecOnly.ends[0]!.repairs).toBeGreaterThan(85);
    expect(fecOnly.ends[1]!.active).toBe(true);
    expect(fecOnly.ends[1]!.repairs).toBeGreaterThan(55);
  });

  it('the default long FEC follows the rate actually sent: 64-packet windows at 10 Mbit/s, 128 at 20', () => {
    for (const [rateBps, window] of [[10e6, 64], [20e6, 128]] as const) {
      const { pair } = lossyPair({ key: KEY, latencyMs: 120, expectedRateBps: 20e6 }, { loss: 0.1, delayMs: 20 }, 9, 1);
      const windows: number[] = [];
      const link = pair.forward;
      const send = link.send.bind(link);
      link.send = (b: Uint8Array, off: number, len: number, now: number): void => {
        if (b[off + 1] === 0x05) windows.push((b[off + 16]! << 8) | b[off + 17]!); // REPAIR windowLength
        send(b, off, len, now);
      };
      const period = (FRAME * 8 * 1000) / rateBps;
      const frame = new Uint8Array(FRAME);
      pair.runUntil(pair.now + 3000, (now) => pair.clientConn!.sendFrame(frame, now), period);
      expect(pair.clientConn!.stats(pair.now).sent.fecWindow).toBe(window);
      // After the first samples every repair covers `window` packets (the negotiated 128 is the most).
      expect(windows.slice(-20).every((w) => w === window)).toBe(true);
      pair.destroy();
    }
  });
});
