/**
 * MPEG-TS helpers for the CLI and example tests: a synthetic transport stream with continuity
 * counters, and a checker that counts continuity-counter discontinuities per PID (what ffprobe
 * and players report as "continuity check failed").
 */

/** TS packet size, bytes. */
export const TS_PACKET = 188;

/**
 * `packets` TS packets over `pids` PIDs (0x100...), each with a 4-bit continuity counter that
 * increments per PID, payload bytes from a seeded pattern. Deterministic.
 */
export function syntheticTs(packets: number, pids = 3, seed = 1): Uint8Array {
  const out = new Uint8Array(packets * TS_PACKET);
  const cc = new Uint8Array(pids);
  let x = (seed * 0x9e3779b1) | 1;
  for (let i = 0; i < packets; i++) {
    const o = i * TS_PACKET;
    const p = i % pids;
    const pid = 0x100 + p;
    out[o] = 0x47;
    out[o + 1] = (i < pids ? 0x40 : 0) | ((pid >> 8) & 0x1f); // payload_unit_start on each PID's first packet
    out[o + 2] = pid & 0xff;
    out[o + 3] = 0x10 | (cc[p]! & 0x0f); // payload only
    cc[p] = (cc[p]! + 1) & 0x0f;
    for (let k = 4; k < TS_PACKET; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[o + k] = x & 0xff;
    }
  }
  return out;
}

/** Result of {@link checkContinuity}. */
export interface ContinuityReport {
  readonly packets: number;
  /** Bytes that are not part of a whole TS packet starting with 0x47. */
  readonly syncErrors: number;
  /** CC discontinuities, per PID. */
  readonly discontinuities: Record<number, number>;
  /** Sum over PIDs. */
  readonly totalDiscontinuities: number;
}

/**
 * Walks TS packets and counts continuity-counter discontinuities per PID (a packet with payload
 * must carry the previous CC + 1 mod 16; a repeat of the same CC once is a legal duplicate;
 * packets without payload keep the CC; the discontinuity indicator resets the expectation).
 */
export function checkContinuity(ts: Uint8Array): ContinuityReport {
  const last = new Map<number, number>();
  const disc: Record<number, number> = {};
  let syncErrors = 0;
  let packets = 0;
  let total = 0;
  for (let o = 0; o + TS_PACKET <= ts.length; o += TS_PACKET) {
    if (ts[o] !== 0x47) {
      syncErrors++;
      continue;
    }
    packets++;
    const pid = ((ts[o + 1]! & 0x1f) << 8) | ts[o + 2]!;
    if (pid === 0x1fff) continue;
    const afc = (ts[o + 3]! >> 4) & 0x3;
    const cc = ts[o + 3]! & 0x0f;
    const hasPayload = (afc & 1) === 1;
    const discontinuityIndicator = (afc & 2) !== 0 && ts[o + 4]! > 0 && (ts[o + 5]! & 0x80) !== 0;
    const prev = last.get(pid);
    if (prev !== undefined && !discontinuityIndicator) {
      const expected = hasPayload ? (prev + 1) & 0x0f : prev;
      if (cc !== expected && !(hasPayload && cc === prev)) {
        disc[pid] = (disc[pid] ?? 0) + 1;
        total++;
      }
    }
    last.set(pid, cc);
  }
  if (ts.length % TS_PACKET !== 0) syncErrors++;
  return { packets, syncErrors, discontinuities: disc, totalDiscontinuities: total };
}
