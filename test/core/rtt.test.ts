import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_INITIAL_RTO_MS, RttEstimator } from '../../src/core/rtt.js';

describe('RttEstimator (RFC 6298)', () => {
  it('starts at the initial RTO', () => {
    const r = new RttEstimator();
    expect(r.hasSample).toBe(false);
    expect(r.rto).toBe(DEFAULT_INITIAL_RTO_MS);
    expect(r.srtt).toBe(DEFAULT_INITIAL_RTO_MS);
  });

  it('first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4 RTTVAR) (§2.2)', () => {
    const r = new RttEstimator({ minRtoMs: 0 });
    r.onSample(40);
    expect([r.srtt, r.rttvar, r.rto]).toEqual([40, 20, 120]);
  });

  it('later samples: alpha 1/8, beta 1/4, RTTVAR before SRTT (§2.3)', () => {
    const r = new RttEstimator({ minRtoMs: 0 });
    r.onSample(40);
    r.onSample(44);
    expect(r.rttvar).toBe(16); // 0.75 * 20 + 0.25 * |40 - 44|
    expect(r.srtt).toBe(40.5); // 0.875 * 40 + 0.125 * 44
    expect(r.rto).toBe(104.5);
    expect(r.min).toBe(40);
    expect(r.latest).toBe(44);
    expect(r.samples).toBe(2);
  });

  it('clock granularity G bounds the variance term', () => {
    const r = new RttEstimator({ minRtoMs: 0, clockGranularityMs: 10 });
    r.onSample(2);
    expect(r.rto).toBe(12); // 2 + max(10, 4)
  });

  it('bounds the RTO (§2.4, §2.5) and backs off by doubling (§5.5)', () => {
    const r = new RttEstimator({ minRtoMs: 50, maxRtoMs: 300 });
    r.onSample(5);
    expect(r.rto).toBe(50);
    r.backoff();
    expect(r.rto).toBe(100);
    r.backoff();
    r.backoff();
    expect(r.rto).toBe(300);
    r.onSample(5);
    expect(r.rto).toBe(50);
  });

  it('refuses negative or non-finite samples without throwing', () => {
    const r = new RttEstimator();
    r.onSample(-1);
    r.onSample(Number.NaN);
    r.onSample(Infinity);
    expect(r.rejected).toBe(3);
    expect(r.hasSample).toBe(false);
  });

  it('onSampleUs takes whole microseconds (allocation-free per-ACK form); absurd samples are refused', () => {
    const r = new RttEstimator({ minRtoMs: 0 });
    r.onSampleUs(40_000);
    expect([r.srtt, r.rttvar, r.rto]).toEqual([40, 20, 120]);
    r.onSample(40.0004);
    expect(r.latest).toBe(40); // microsecond resolution
    r.onSample(3e6);
    r.onSampleUs(-5);
    expect(r.rejected).toBe(2);
  });

  it('validates options', () => {
    expect(() => new RttEstimator({ minRtoMs: 100, maxRtoMs: 50 })).toThrow(/maxRtoMs/);
    expect(() => new RttEstimator({ initialRtoMs: 0 })).toThrow(/initialRtoMs/);
  });

  it('converges to a constant RTT and keeps RTO within bounds', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.double({ min: 1, max: 500, noNaN: true }), (xs, c) => {
        const r = new RttEstimator({ minRtoMs: 20, maxRtoMs: 10_000 });
        for (const x of xs) {
          r.onSample(x);
          expect(r.rto).toBeGreaterThanOrEqual(20);
          expect(r.rto).toBeLessThanOrEqual(10_000);
        }
        for (let i = 0; i < 200; i++) r.onSample(c);
        expect(Math.abs(r.srtt - c)).toBeLessThan(0.01 * c + 1e-6 + 5000 * 0.875 ** 200);
      }),
    );
  });
});
