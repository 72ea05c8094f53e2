import { describe, expect, it } from 'vitest';
import { DEFAULT_FEC, DEFAULT_FEC_LONG, defaultFecFor, resolveOptions } from '../../../src/core/connection/options.js';

const key = 'options test key 0123456789';

describe('default FEC follows rate and latency', () => {
  it('keeps the 64/32 window where it fits the latency, shortens it, then leaves recovery to ARQ', () => {
    expect(defaultFecFor(10e6, 120, 1400)).toBe(DEFAULT_FEC);
    // 20 Mbit/s, 120 ms: 1877 packets/s x 75 ms = 140 -> two repairs every 64 over 128.
    expect(defaultFecFor(20e6, 120, 1400)).toBe(DEFAULT_FEC_LONG);
    expect(defaultFecFor(15e6, 120, 1400)).toBe(DEFAULT_FEC); // 105 packets: 64 fits, 128 does not
    // 5 Mbit/s, 120 ms: 470 packets/s x 75 ms = 35 packets -> one repair every 32 over 35.
    expect(defaultFecFor(5e6, 120, 1400)).toEqual({ window: 35, step: 32, repairs: 1 });
    // 3 Mbit/s: 21 packets -> one repair per 21-packet block.
    expect(defaultFecFor(3e6, 120, 1400)).toEqual({ window: 21, step: 21, repairs: 1 });
    expect(defaultFecFor(2e6, 120, 1400)).toBeNull();
    // More latency makes room again.
    expect(defaultFecFor(2e6, 500, 1400)).toBe(DEFAULT_FEC);
    expect(defaultFecFor(1e6, 20, 1400)).toBeNull();
  });

  it('resolveOptions uses it only when fec is not given', () => {
    expect(resolveOptions({ key, expectedRateBps: 2e6 }).fec).toBeNull();
    expect(resolveOptions({ key, expectedRateBps: 2e6 }).maxPayload).toBe(1360); // no room kept for REPAIRs
    // Where 64 packets fit, the session negotiates the long geometry and the sender picks the
    // window by the rate it actually sends (adaptive-fec.test.ts).
    expect(resolveOptions({ key, expectedRateBps: 10e6 }).fec).toEqual(DEFAULT_FEC_LONG);
    expect(resolveOptions({ key }).fec).toEqual(DEFAULT_FEC_LONG); // default rate 20 Mbit/s
    expect(resolveOptions({ key, expectedRateBps: 2e6, fec: { window: 64, step: 32, repairs: 1 } }).fec).toEqual(DEFAULT_FEC);
    expect(resolveOptions({ key, expectedRateBps: 10e6, fec: false }).fec).toBeNull();
    expect(() => resolveOptions({ key, expectedRateBps: 1 })).toThrow(/expectedRateBps/);
  });
});
