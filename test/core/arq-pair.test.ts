/**
 * A simulated sender/receiver pair joined by a seeded lossy link with delay, on a fake clock
 * (quinn-proto's `Pair::drive()` idea): SendBuffer + RTT on one side, ReorderBuffer +
 * NackScheduler on the other, ARQ only (no FEC). Loss applies to every packet in both
 * directions (DATA, retransmissions, ACKs, NACKs, probes).
 */
import { describe, expect, it } from 'vitest';
import { ReorderBuffer, ReorderEvent, ReorderOutput, InsertStatus } from '../../src/core/reorder-buffer.js';
import { SendBuffer, SentPacketView } from '../../src/core/send-buffer.js';
import { NackScheduler } from '../../src/core/nack-scheduler.js';
import { RttEstimator } from '../../src/core/rtt.js';
import { seqAdd, seqDiff } from '../../src/core/seq.js';

/** mulberry32: a small seeded PRNG (the link model of src/core/link/ is not used on purpose). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Msg =
  | { kind: 'data'; seq: number; ts: number; rtx: boolean; len: number; b0: number }
  | { kind: 'ack'; ackSeq: number; echo: number; delayMs: number }
  | { kind: 'nack'; starts: number[]; counts: number[] }
  | { kind: 'probe'; t: number }
  | { kind: 'probeEcho'; t: number };

/** One direction of the link: loss, fixed delay plus jitter, delivery in arrival-time order. */
class Link {
  private readonly q: Array<{ at: number; m: Msg }> = [];
  sent = 0;
  dropped = 0;
  constructor(
    private readonly rnd: () => number,
    private readonly loss: number,
    private readonly delayMs: number,
    private readonly jitterMs: number,
  ) {}
  send(now: number, m: Msg): void {
    this.sent++;
    if (this.rnd() < this.loss) {
      this.dropped++;
      return;
    }
    const at = now + this.delayMs + this.rnd() * this.jitterMs;
    let i = this.q.length;
    while (i > 0 && this.q[i - 1]!.at > at) i--;
    this.q.splice(i, 0, { at, m });
  }
  next(): number {
    return this.q.length > 0 ? this.q[0]!.at : Infinity;
  }
  take(now: number): Msg | null {
    return this.q.length > 0 && this.q[0]!.at <= now ? this.q.shift()!.m : null;
  }
}

interface PairConfig {
  seed: number;
  loss: number;
  delayMs: number;
  jitterMs: number;
  latencyMs: number;
  packets: number;
  intervalMs: number;
  startSeq: number;
  copies: number;
}

function runPair(cfg: PairConfig) {
  const rnd = prng(cfg.seed);
  const fwd = new Link(rnd, cfg.loss, cfg.delayMs, cfg.jitterMs);
  const back = new Link(rnd, cfg.loss, cfg.delayMs, cfg.jitterMs);
  const sendBuf = new SendBuffer({
    capacity: 1024,
    maxBytes: 1024 * 1360,
    maxPayload: 1360,
    usefulLifeMs: cfg.latencyMs + 2 * cfg.delayMs,
    // A copy sent later than first send + latency reaches the receiver after the packet's release
    // (less the jitter: this harness has no too-late drop of its own, the connection does).
    deadlineMs: cfg.latencyMs - 2 * cfg.jitterMs,
    retransmitShare: 0.5,
    retransmitCopies: cfg.copies,
    // Bernoulli loss: copies back to back are as safe as spaced ones and arrive sooner (spacing,
    // the default, is for bursty loss; bench/sim-recovery.ts measures both).
    copySpacingMs: 0,
  });
  const reorder = new ReorderBuffer({ capacity: 1024, latencyMs: cfg.latencyMs, maxPayload: 1360 });
  const nacks = new NackScheduler({ source: reorder });
  const rxRtt = new RttEstimator();
  const payload = new Uint8Array(1360);
  const view = new SentPacketView();
  const out = new ReorderOutput();
  const ns = new Uint32Array(228);
  const nc = new Uint32Array(228);
  let offset = Number.NaN; // receiver clock - sender clock, from the first arrival
  let newestTs = -1;
  let newestAt = 0;
  let ackDue = false;
  let nextAck = 0;
  let nextProbe = 0;
  let sentCount = 0;
  let now = 0;
  const delivered: number[] = [];
  let lateDeliveries = 0;
  let lost = 0;
  let drops = 0;
  // A lost tail is revealed by nothing in this harness (the connection's KEEPALIVE carries the
  // next seq): a few uncounted packets follow the measured ones.
  const total = cfg.packets + 16;
  const sendTimeOf = (i: number) => i * cfg.intervalMs;

  for (let guard = 0; guard < 10_000_000; guard++) {
    // --- sender
    while (sentCount < total && sendTimeOf(sentCount) <= now) {
      const seq = seqAdd(cfg.startSeq, sentCount);
      const ts = Math.round(sendTimeOf(sentCount) * 1000) >>> 0;
      const len = 200 + (sentCount % 1000);
      payload[0] = seq & 0xff;
      sendBuf.add(seq, ts, 0, len, payload, 0, len, now);
      fwd.send(now, { kind: 'data', seq, ts, rtx: false, len, b0: seq & 0xff });
      sentCount++;
    }
    while (sendBuf.pollRetransmit(now, view)) {
      fwd.send(now, { kind: 'data', seq: view.seq, ts: view.timestamp, rtx: true, len: view.length, b0: view.payload[0]! });
    }
    for (let m = back.take(now); m !== null; m = back.take(now)) {
      if (m.kind === 'ack') sendBuf.onAck(m.ackSeq, now, m.echo, m.delayMs);
      else if (m.kind === 'nack') sendBuf.onNack(Uint32Array.from(m.starts), Uint32Array.from(m.counts), m.starts.length, now);
      else if (m.kind === 'probe') fwd.send(now, { kind: 'probeEcho', t: m.t });
    }
    while (sendBuf.pollRetransmit(now, view)) {
      fwd.send(now, { kind: 'data', seq: view.seq, ts: view.timestamp, rtx: true, len: view.length, b0: view.payload[0]! });
    }
    // Drop notices (NACKs for packets already evicted) are not modelled on the wire here; they
    // are drained so the send buffer does not keep asking to be polled.
    while (sendBuf.copyDropRanges(ns, nc, ns.length) > 0) drops++;
    // --- receiver
    for (let m = fwd.take(now); m !== null; m = fwd.take(now)) {
      if (m.kind === 'probeEcho') {
        rxRtt.onSample(now - m.t);
        continue;
      }
      if (m.kind !== 'data') continue;
      if (offset !== offset) offset = now - m.ts / 1000;
      payload[0] = m.b0;
      const st = reorder.insert(m.seq, m.ts / 1000 + offset, 0, m.len, payload, 0, m.len, now);
      if (st === InsertStatus.Accepted && !m.rtx) {
        newestTs = m.ts;
        newestAt = now;
      }
      ackDue = true;
    }
    while (reorder.poll(now, out)) {
      if (out.kind === ReorderEvent.Packet) {
        if (now > out.releaseAt) lateDeliveries++;
        expect(out.payload[0]).toBe(out.seq & 0xff);
        if (seqDiff(cfg.startSeq, out.seq) < cfg.packets) delivered.push(out.seq);
      } else {
        for (let k = 0; k < out.count; k++) if (seqDiff(cfg.startSeq, seqAdd(out.seq, k)) < cfg.packets) lost++;
      }
    }
    if (ackDue && now >= nextAck) {
      ackDue = false;
      nextAck = now + 10;
      const n = reorder.copyLossRanges(ns, nc, new Float64Array(1), 1);
      // Everything before the first missing sequence (or after the last held one) is received.
      const ackSeq = n > 0 ? ns[0]! : seqAdd(reorder.nextExpected, reorder.packets);
      back.send(now, { kind: 'ack', ackSeq, echo: newestTs, delayMs: now - newestAt });
    }
    if (now >= nextProbe) {
      nextProbe = now + 100;
      back.send(now, { kind: 'probe', t: now });
    }
    if (now >= nacks.nextTimeout()) {
      const k = nacks.pollSource(now, rxRtt.hasSample ? rxRtt.srtt : 2 * cfg.delayMs, rxRtt.hasSample ? rxRtt.rttvar : 0, ns, nc);
      if (k > 0) back.send(now, { kind: 'nack', starts: Array.from(ns.subarray(0, k)), counts: Array.from(nc.subarray(0, k)) });
    }
    // --- advance the fake clock to the next event
    const t = Math.min(
      sentCount < total ? sendTimeOf(sentCount) : Infinity,
      fwd.next(),
      back.next(),
      reorder.nextTimeout(),
      nacks.nextTimeout(),
      sendBuf.nextTimeout(),
      ackDue ? nextAck : Infinity,
      sentCount < total || reorder.packets > 0 ? nextProbe : Infinity,
    );
    if (t === Infinity) break;
    if (t > now) now = t;
  }
  return { delivered, lost, lateDeliveries, drops, fwd, back, sendBuf, reorder, nacks };
}

function summary(r: ReturnType<typeof runPair>, packets: number): string {
  return (
    `${r.delivered.length}/${packets} delivered, lost ${r.lost}, data link sent ${r.fwd.sent} dropped ${r.fwd.dropped}, ` +
    `control link sent ${r.back.sent} dropped ${r.back.dropped}, retransmissions ${r.sendBuf.stats.retransmitted} ` +
    `(${((100 * r.sendBuf.stats.retransmittedBytes) / r.sendBuf.stats.sentBytes).toFixed(1)} % of data bytes), ` +
    `NACKs ${r.nacks.stats.nacks} (repeats ${r.nacks.stats.repeats}, futile ${r.nacks.stats.futile}), ` +
    `suppressed within an RTT ${r.sendBuf.stats.retransmitSuppressedRtt}, drop notices ${r.drops}, srtt ${r.sendBuf.rtt.srtt.toFixed(1)} ms`
  );
}

const BASE: PairConfig = {
  seed: 0x5eed_2026,
  loss: 0.1,
  delayMs: 20,
  jitterMs: 1,
  latencyMs: 120,
  packets: 10_000, // 20 s at 500 packets/s
  intervalMs: 2,
  startSeq: 0xffff_f000, // crosses the 2^32 wrap
  copies: 2,
};

describe('ARQ-only simulated pair', () => {
  it('delivers 100% on time at 10% random loss (both directions), 20 ms one-way delay, 120 ms latency', () => {
    // Three seeds x 10,000 packets. Two copies per retransmission round (see SendBufferOptions.
    // retransmitCopies): a 120 ms budget at a 40 ms RTT leaves room for two rounds only.
    for (const seed of [BASE.seed, 2, 3]) {
      const cfg = { ...BASE, seed };
      const r = runPair(cfg);
      console.log(`arq pair seed ${seed}: ${summary(r, cfg.packets)}`);
      expect(r.fwd.dropped / r.fwd.sent).toBeGreaterThan(0.09);
      expect(r.back.dropped / r.back.sent).toBeGreaterThan(0.08);
      expect(r.lost).toBe(0);
      expect(r.lateDeliveries).toBe(0);
      expect(r.delivered).toEqual(Array.from({ length: cfg.packets }, (_, i) => seqAdd(cfg.startSeq, i)));
      // Retransmission volume stays within the configured share of the send rate.
      expect(r.sendBuf.stats.retransmittedBytes).toBeLessThanOrEqual(0.5 * r.sendBuf.stats.sentBytes);
    }
  });

  it('with one copy in the first round (the default) the residual loss is small but not zero', () => {
    // Two rounds fit in 3 RTT: about p x p x p^2 = 1e-4 with 1 then 2 copies (1e-3 with single
    // copies throughout, as SRT does). Reported, bounded, not hidden.
    const cfg = { ...BASE, copies: 1 };
    const r = runPair(cfg);
    console.log(`arq pair, 1 copy in the first round: ${summary(r, cfg.packets)}`);
    expect(r.lost / cfg.packets).toBeLessThan(0.002);
    expect(r.lateDeliveries).toBe(0);
    // Order is kept: everything delivered is increasing and each once.
    for (let i = 1; i < r.delivered.length; i++) expect(seqAdd(r.delivered[i - 1]!, 1) === r.delivered[i] || r.delivered[i] !== r.delivered[i - 1]).toBe(true);
  });
});
