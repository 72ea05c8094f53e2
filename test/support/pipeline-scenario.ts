/**
 * One whole-pipeline scenario (shared by the property test, the fuzz target and the replay of
 * kept failures): a core pair under virtual time with the given link, FEC/ARQ configuration and
 * frames. Throws when an oracle fails.
 */
import fc from 'fast-check';
import { SimPair } from '../../src/core/connection/sim-pair.js';
import { MemoryAccountant } from '../../src/core/memory/accountant.js';

/** The oracle's assertion: throws with the scenario's context (no test runner needed, so the fuzzer can use it too). */
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`pipeline oracle: ${what}`);
}

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

/** Arbitrary scenarios: links from clean to hostile, FEC/ARQ on and off, frames of any size. */
export const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.nat({ max: 0xffff }),
  loss: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.3, noNaN: true })),
  burst: fc.option(fc.record({ p: fc.double({ min: 0.001, max: 0.05, noNaN: true }), r: fc.double({ min: 0.05, max: 0.9, noNaN: true }) }), { nil: undefined }),
  delayMs: fc.integer({ min: 0, max: 50 }),
  jitterMs: fc.integer({ min: 0, max: 20 }),
  reorder: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.1, noNaN: true })),
  duplicate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.05, noNaN: true })),
  latencyMs: fc.integer({ min: 40, max: 300 }),
  fec: fc.oneof(
    fc.constant(false as const),
    fc.record({ window: fc.integer({ min: 1, max: 64 }), step: fc.integer({ min: 1, max: 64 }), repairs: fc.integer({ min: 1, max: 3 }) }).map((f) => {
      const step = Math.min(f.step, f.window);
      // The session limit: repairs x ceil(window / step) <= 128 (spec/fec.md).
      return { window: f.window, step, repairs: Math.min(f.repairs, Math.floor(128 / Math.ceil(f.window / step))) };
    }),
  ),
  arq: fc.boolean(),
  sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 2000, max: 30_000 })), { minLength: 1, maxLength: 30 }),
  intervalMs: fc.integer({ min: 5, max: 50 }),
});


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

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
              check(equalBytes(d, frameBytes(index, d.length)), `frame ${index} delivered with wrong bytes`);
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
          check(s.loss + (s.burst ? 0.5 : 0) > 0.05, 'handshake failed on a nearly clean link');
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
          check(e.index > last, `frame ${e.index} delivered after frame ${last} (out of order or twice)`);
          if (e.index > last + 1) check(lostSinceLast, `frames ${last + 1}..${e.index - 1} missing without a loss report`);
          last = e.index;
          lostSinceLast = false;
        }
        // Undelivered frames at the end must be reported once the receiver knows they were sent
        // (a later packet or the sender's KEEPALIVE told it the extent). A link that drops every
        // packet after them leaves the receiver nothing to know it by.
        if (last < i - 1 && pair.serverConn !== null && pair.clientConn !== null) {
          const known = pair.serverConn.stats(pair.now).received.knownExtent;
          const sent = pair.clientConn.stats(pair.now).sent.nextSeq;
          if (known === sent && pair.serverConn.state === 'open') check(lostSinceLast, `frames after ${last} missing at the end without a loss report`);
        }
        // Pacing and the FEC tail can add a few ms; a frame is never held a whole period late.
        check(lateness <= 15, `a frame was delivered ${lateness.toFixed(1)} ms after its deadline`);
        pair.client.closeAll(pair.now);
        pair.runUntil(pair.now + 200);
        pair.destroy();
        const leaks = accountant.leakCheck({ strict: true });
        check(leaks.ok, `memory not returned: ${leaks.summary}`);
}
