import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SendBuffer, SentPacketView, type SendBufferOptions } from '../../src/core/send-buffer.js';
import { RttEstimator } from '../../src/core/rtt.js';
import type { MemoryAccount } from '../../src/core/memory/types.js';
import { seqAdd, seqInRange } from '../../src/core/seq.js';

const MAX_PAYLOAD = 100;

class RecordingAccount implements MemoryAccount {
  readonly name = 'test.send';
  reserved = 0;
  usedBytes = 0;
  usedPackets = 0;
  reserve(bytes: number): void {
    this.reserved += bytes;
  }
  unreserve(bytes: number): void {
    this.reserved -= bytes;
  }
  setCapacity(): void {}
  use(bytes: number, packets: number): void {
    this.usedBytes += bytes;
    this.usedPackets += packets;
  }
  setSpanMs(): void {}
}

function make(opts: Partial<SendBufferOptions> = {}): SendBuffer {
  return new SendBuffer({ capacity: 16, maxBytes: 16 * MAX_PAYLOAD, maxPayload: MAX_PAYLOAD, usefulLifeMs: 1000, retransmitShare: 1, ...opts });
}

const buf = new Uint8Array(MAX_PAYLOAD + 4);
function lenFor(seq: number): number {
  return 1 + (seq % MAX_PAYLOAD);
}
function add(sb: SendBuffer, seq: number, now: number, ts = seq * 1000, len = lenFor(seq)): void {
  for (let i = 0; i < len; i++) buf[4 + i] = (seq + i) & 0xff;
  sb.add(seq, ts, 0x08, 5000, buf, 4, len, now);
}
function checkView(v: SentPacketView): void {
  const out = v.payload.subarray(v.offset, v.offset + v.length);
  for (let i = 0; i < v.length; i++) if (out[i] !== ((v.seq + i) & 0xff)) throw new Error(`payload of ${v.seq} corrupted at ${i}`);
}
const starts = new Uint32Array(8);
const counts = new Uint32Array(8);
function nack(sb: SendBuffer, now: number, ...ranges: Array<[number, number]>): void {
  ranges.forEach(([s, c], i) => {
    starts[i] = s;
    counts[i] = c;
  });
  sb.onNack(starts, counts, ranges.length, now);
}
function pollAll(sb: SendBuffer, now: number): number[] {
  const v = new SentPacketView();
  const seqs: number[] = [];
  while (sb.pollRetransmit(now, v)) {
    checkView(v);
    seqs.push(v.seq);
  }
  return seqs;
}

describe('SendBuffer: unit', () => {
  it('validates options and misuse', () => {
    expect(() => make({ capacity: 10 })).toThrow(/capacity/);
    expect(() => make({ maxBytes: 10 })).toThrow(/maxBytes/);
    expect(() => make({ retransmitShare: -1 })).toThrow(/retransmitShare/);
    const sb = make();
    add(sb, 5, 0);
    expect(() => add(sb, 7, 0)).toThrow(/expected seq 6/);
    expect(() => sb.add(6, 0, 0, 0, buf, 0, MAX_PAYLOAD + 1, 0)).toThrow(/length/);
  });

  it('ACK evicts everything before ackSeq; accounting balances; close returns all', () => {
    const acct = new RecordingAccount();
    const sb = make({ account: acct });
    for (let s = 0; s < 10; s++) add(sb, s, s);
    expect(sb.packets).toBe(10);
    expect(acct.usedPackets).toBe(10);
    sb.onAck(4, 20);
    expect(sb.oldestSeq).toBe(4);
    expect(sb.stats.evictedAcked).toBe(4);
    sb.onAck(2, 21); // old ACK: nothing
    sb.onAck(50, 21); // beyond what was sent: ignored
    expect(sb.stats.ackInvalid).toBe(1);
    expect(sb.packets).toBe(6);
    expect(acct.usedBytes).toBe(sb.bytes);
    sb.close();
    expect(acct).toMatchObject({ reserved: 0, usedBytes: 0, usedPackets: 0 });
  });

  it('byte cap and packet cap evict oldest first, counted', () => {
    const sb = make({ capacity: 8, maxBytes: 250 });
    for (let s = 0; s < 20; s++) {
      add(sb, s, 0, 0, 100);
      expect(sb.bytes).toBeLessThanOrEqual(250);
    }
    expect(sb.packets).toBe(2);
    expect(sb.oldestSeq).toBe(18);
    expect(sb.stats.evictedCap).toBe(18);
    const sb2 = make({ capacity: 4, maxBytes: 10_000 });
    for (let s = 0; s < 10; s++) add(sb2, s, 0);
    expect(sb2.packets).toBe(4);
    expect(sb2.stats.evictedCap).toBe(6);
  });

  it('useful life: expired packets are evicted and never retransmitted', () => {
    const sb = make({ usefulLifeMs: 100 });
    add(sb, 0, 0);
    add(sb, 1, 50);
    expect(sb.nextTimeout()).toBe(100);
    nack(sb, 60, [0, 2]);
    expect(pollAll(sb, 100)).toEqual([1]);
    expect(sb.stats.evictedExpired).toBe(1);
    expect(sb.nextTimeout()).toBe(150);
  });

  it('NACK queues retransmissions, oldest first, with the original payload and fields', () => {
    const sb = make();
    for (let s = 0; s < 10; s++) add(sb, seqAdd(0xffff_fffb, s), s);
    nack(sb, 20, [2, 2], [0xffff_fffc, 2]);
    expect(sb.queued).toBe(4);
    expect(sb.hasRetransmit()).toBe(true);
    expect(sb.nextTimeout()).toBe(-Infinity);
    const v = new SentPacketView();
    expect(sb.pollRetransmit(20, v)).toBe(true);
    expect(v).toMatchObject({ seq: 0xffff_fffc, timestamp: (0xffff_fffc * 1000) >>> 0, flags: 0x08, frameLength: 5000, transmissions: 2, firstSentAt: 1 });
    checkView(v);
    expect(pollAll(sb, 20)).toEqual([0xffff_fffd, 2, 3]);
    expect(sb.stats.retransmitted).toBe(4);
  });

  it('a packet is not retransmitted again before one RTT; a duplicate NACK is not queued twice', () => {
    const rtt = new RttEstimator();
    const sb = make({ rtt });
    rtt.onSample(50);
    add(sb, 0, 0);
    nack(sb, 10, [0, 1]);
    nack(sb, 11, [0, 1]);
    expect(sb.stats.nackDuplicate).toBe(1);
    expect(pollAll(sb, 12)).toEqual([0]);
    nack(sb, 40, [0, 1]); // 28 ms after the retransmission, RTT 50: suppressed
    expect(sb.stats.retransmitSuppressedRtt).toBe(1);
    expect(pollAll(sb, 40)).toEqual([]);
    add(sb, 1, 61); // refills the bucket (share 1)
    nack(sb, 62, [0, 1]);
    expect(pollAll(sb, 62)).toEqual([0]); // a second round gets one more copy...
    expect(sb.nextTimeout()).toBe(72); // ...DEFAULT_COPY_SPACING_MS later
    expect(pollAll(sb, 71.9)).toEqual([]);
    expect(pollAll(sb, 72)).toEqual([0]);
    expect(sb.stats.retransmitted).toBe(3);
    expect(sb.rtt).toBe(rtt);
  });

  it('largestPn: a later copy answers a NACK written after the last copy could have arrived, else waits srtt + 2 rttvar', () => {
    const rtt = new RttEstimator();
    const sb = make({ rtt });
    rtt.onSample(50); // srtt 50, rttvar 25: patience 100 ms
    for (let q = 0; q < 8; q++) add(sb, q, 0); // tokens for the copies
    const nackPn = (now: number, pn: number): void => {
      sb.onNack(new Uint32Array([0]), new Uint32Array([1]), 1, now, pn);
    };
    nackPn(10, 100); // first NACK: always answered
    expect(pollAll(sb, 10)).toEqual([0]);
    sb.recordPacketNumber(0, 0xffff_fffe); // the copy went out as packet number 2^32 - 2
    nackPn(12, 0xffff_fffd); // written before that copy could arrive: not answered...
    nackPn(100, 0xffff_fffd); // ...even 90 ms later (srtt alone would have answered)
    expect(pollAll(sb, 100)).toEqual([]);
    expect(sb.stats.retransmitSuppressedRtt).toBe(2);
    nackPn(101, 1); // written after packet 2^32 - 2 (across the wrap) was received: the copy was lost
    expect(pollAll(sb, 101)).toEqual([0]); // second round: two copies, 10 ms apart
    expect(pollAll(sb, 111)).toEqual([0]);
    sb.recordPacketNumber(0, 5);
    nackPn(150, 3); // no proof, 39 ms after the last copy: not yet
    expect(pollAll(sb, 150)).toEqual([]);
    nackPn(212, 3); // no proof, but 101 ms after it: answered
    expect(pollAll(sb, 212)).toEqual([0]);
    // Without largestPn the RTT rule applies (sent 1 ms ago, RTT 50: not again).
    sb.onNack(new Uint32Array([0]), new Uint32Array([1]), 1, 213);
    expect(pollAll(sb, 213)).toEqual([]);
    sb.recordPacketNumber(77, 1); // not held: ignored
    expect(sb.stats.retransmitSuppressedRtt).toBe(4);
  });

  it('a retransmission that would arrive after the deadline is not sent', () => {
    const sb = make({ deadlineMs: 100 });
    add(sb, 0, 0);
    add(sb, 1, 50);
    nack(sb, 120, [0, 2]); // 0 is past first send + 100; 1 is not
    expect(pollAll(sb, 120)).toEqual([1]);
    expect(sb.stats.retransmitTooLate).toBe(1);
    expect(sb.queued).toBe(0);
  });

  it('NACKs for packets no longer held become drop notices; never-sent sequences are ignored', () => {
    const sb = make();
    for (let s = 100; s < 110; s++) add(sb, s, 0);
    sb.onAck(105, 1);
    nack(sb, 2, [101, 2], [103, 4], [120, 3], [50, 2]);
    expect(sb.stats.nackInvalid).toBe(2); // 107..108 are fine; 120.. and 50.. were never sent
    expect(sb.pendingDrops).toBe(1);
    const ds = new Uint32Array(4);
    const dc = new Uint16Array(4);
    expect(sb.copyDropRanges(ds, dc, 4)).toBe(1);
    expect([ds[0], dc[0]]).toEqual([101, 4]); // 101..102 merged with 103..104
    expect(sb.copyDropRanges(ds, dc, 4)).toBe(0);
    expect(pollAll(sb, 3)).toEqual([105, 106]);
  });

  it('RTT from ACK echoes: now - first send - ack delay, skipping retransmitted packets (Karn)', () => {
    const sb = make({ rtt: { minRtoMs: 0 } });
    add(sb, 0, 0, 1000);
    add(sb, 1, 1, 1000); // same timestamp (same frame)
    add(sb, 2, 2, 2000);
    sb.onAck(0, 42, 1000, 1); // newest with ts 1000 is seq 1 sent at 1: 42 - 1 - 1
    expect(sb.rtt.latest).toBe(40);
    nack(sb, 43, [2, 1]);
    pollAll(sb, 43);
    sb.onAck(3, 80, 2000, 0);
    expect(sb.stats.rttKarnSkipped).toBe(1);
    expect(sb.rtt.samples).toBe(1);
    expect(sb.packets).toBe(0);
  });

  it('retransmitCopies: copies per round, one more each later round, spaced in time, each paid with tokens', () => {
    const sb = make({ retransmitCopies: 2, rtt: { minRtoMs: 0 } });
    sb.rtt.onSample(10);
    for (let s = 0; s < 8; s++) add(sb, s, 0, 0, 10); // 80 tokens
    nack(sb, 1, [0, 2]);
    expect(pollAll(sb, 1)).toEqual([0, 1]); // first copies at once
    expect(sb.nextTimeout()).toBe(11); // second copies copySpacingMs (10) later
    expect(sb.hasRetransmit(10.9)).toBe(false);
    expect(pollAll(sb, 10.9)).toEqual([]);
    expect(pollAll(sb, 11)).toEqual([0, 1]);
    nack(sb, 25, [0, 1]); // second round of seq 0 (one RTT after its last copy): three copies
    expect(pollAll(sb, 25)).toEqual([0]);
    expect(pollAll(sb, 35)).toEqual([0]);
    expect(pollAll(sb, 45)).toEqual([0]);
    expect(sb.tokens).toBe(10);
    nack(sb, 50, [1, 1]);
    const v = new SentPacketView();
    expect(sb.pollRetransmit(50, v)).toBe(true); // 1 of 3 copies; the bucket stops the rest
    expect(sb.hasRetransmit()).toBe(false);
    expect(sb.pollRetransmit(60, v)).toBe(false);
    expect(sb.pollRetransmit(70, v)).toBe(false);
    expect(() => make({ retransmitCopies: 5 })).toThrow(/retransmitCopies/);
    expect(() => make({ copySpacingMs: -1 })).toThrow(/copySpacingMs/);
    expect(() => make({ deadlineMs: 2000 })).toThrow(/deadlineMs/);
  });

  it('copies go out in due-time order across packets, and never after the deadline', () => {
    const sb = make({ retransmitCopies: 2, deadlineMs: 25, rtt: { minRtoMs: 0 } });
    sb.rtt.onSample(1);
    for (let s = 0; s < 4; s++) add(sb, s, 0, 0, 10);
    for (let s = 4; s < 12; s++) add(sb, s, 0, 0, 10); // tokens to spare
    nack(sb, 1, [0, 1]);
    expect(pollAll(sb, 1)).toEqual([0]); // copy of 0 due at 11
    nack(sb, 5, [0, 1]); // round 2 of 0: copies due at 15 and 25 (past the deadline 0 + 25)
    nack(sb, 5, [1, 1]); // round 1 of 1: copy due at 15
    expect(pollAll(sb, 5)).toEqual([0, 1]);
    expect(pollAll(sb, 11)).toEqual([0]);
    expect(pollAll(sb, 15)).toEqual([0, 1]);
    expect(pollAll(sb, 30)).toEqual([]); // the copy due at 25 would arrive after the deadline
    expect(sb.nextTimeout()).toBe(1000); // only the expiry is left
  });

  it('rate limit: tokens come only from original sends; a blocked retransmission waits for them', () => {
    const sb = make({ retransmitShare: 0.5 });
    add(sb, 0, 0, 0, 100); // +50 tokens
    nack(sb, 1, [0, 1]);
    expect(sb.hasRetransmit()).toBe(false);
    expect(sb.nextTimeout()).toBe(1000); // waiting on tokens is not a timer
    expect(pollAll(sb, 1)).toEqual([]);
    expect(sb.stats.retransmitSuppressedRate).toBe(1);
    add(sb, 1, 2, 0, 100); // +50
    expect(pollAll(sb, 2)).toEqual([0]);
    expect(sb.tokens).toBe(0);
  });
});

describe('SendBuffer: properties', () => {
  type Op =
    | { k: 'add'; len: number }
    | { k: 'ack'; back: number }
    | { k: 'nack'; off: number; count: number }
    | { k: 'storm' }
    | { k: 'poll' }
    | { k: 'tick'; dt: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ k: fc.constant('add' as const), len: fc.integer({ min: 0, max: MAX_PAYLOAD }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('nack' as const), off: fc.integer({ min: -60, max: 10 }), count: fc.integer({ min: 1, max: 70 }) }) },
    { weight: 1, arbitrary: fc.constant({ k: 'storm' as const }) },
    { weight: 3, arbitrary: fc.constant({ k: 'poll' as const }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 60 }) }) },
  );

  it('never over its byte cap, never returns an evicted packet, retransmissions within share x sent bytes', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0xffff_ffc0, max: 0xffff_ffff }),
        fc.constantFrom(0, 0.1, 0.25, 1),
        fc.integer({ min: MAX_PAYLOAD, max: 2000 }),
        (ops, start, share, maxBytes) => {
          const acct = new RecordingAccount();
          const sb = new SendBuffer({ capacity: 32, maxBytes, maxPayload: MAX_PAYLOAD, usefulLifeMs: 200, retransmitShare: share, account: acct });
          const v = new SentPacketView();
          const contents = new Map<number, number>(); // seq -> length added
          let next = start;
          let now = 0;
          for (const op of ops) {
            switch (op.k) {
              case 'add':
                add(sb, next, now, 0, op.len);
                contents.set(next, op.len);
                next = seqAdd(next, 1);
                break;
              case 'ack':
                sb.onAck(seqAdd(next, -op.back), now);
                break;
              case 'nack':
                nack(sb, now, [seqAdd(next, op.off), op.count]);
                break;
              case 'storm':
                // A forged storm: NACK everything, many times over.
                for (let k = 0; k < 5; k++) nack(sb, now, [seqAdd(next, -100), 200]);
                break;
              case 'poll':
                while (sb.pollRetransmit(now, v)) {
                  // Only held packets (never evicted ones), with their own bytes.
                  expect(seqInRange(v.seq, sb.oldestSeq, sb.packets)).toBe(true);
                  expect(v.length).toBe(contents.get(v.seq));
                  checkView(v);
                  expect(now - v.firstSentAt).toBeLessThan(200);
                }
                break;
              case 'tick':
                now += op.dt;
                break;
            }
            expect(sb.bytes).toBeLessThanOrEqual(maxBytes);
            expect(sb.packets).toBeLessThanOrEqual(32);
            expect(acct.usedBytes).toBe(sb.bytes);
            expect(sb.stats.retransmittedBytes).toBeLessThanOrEqual(share * sb.stats.sentBytes + 1e-9);
          }
          const st = sb.stats;
          expect(st.added).toBe(st.evictedAcked + st.evictedCap + st.evictedExpired + sb.packets);
          sb.close();
          expect(acct).toMatchObject({ reserved: 0, usedBytes: 0, usedPackets: 0 });
        },
      ),
    );
  });
});
