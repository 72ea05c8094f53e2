import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameQueue, Fragment, FRAG_FIRST, FRAG_LAST, FRAG_KEYFRAME } from '../../../src/core/connection/frame-queue.js';
import { FrameAssembler, AssemblyStatus } from '../../../src/core/connection/frame-assembler.js';
import { Pacer } from '../../../src/core/connection/pacer.js';
import { ClockMap } from '../../../src/core/connection/clock-map.js';

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

describe('FrameQueue + FrameAssembler', () => {
  it('fragments frames and reassembles them bit-exact across the seq wrap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 4000 }), { minLength: 1, maxLength: 24 }),
        fc.integer({ min: 16, max: 1400 }),
        (sizes, maxPayload) => {
          const q = new FrameQueue({ limitBytes: 8192, maxFrames: 8 });
          const asm = new FrameAssembler({ maxFrameBytes: 1 << 20 });
          const frag = new Fragment();
          const out = new Uint8Array(maxPayload);
          let seq = 0xffff_fff0; // crosses the 2^32 wrap
          const got: Uint8Array[] = [];
          let next = 0;
          while (next < sizes.length || q.queuedFrames > 0) {
            while (next < sizes.length && q.push(bytes(sizes[next]!, next), 0, sizes[next]!, next * 1000, next % 3 === 0)) next++;
            const n = q.cutInto(out, 0, maxPayload, frag);
            expect(n).toBeGreaterThanOrEqual(0);
            const st = asm.push(seq, frag.flags, frag.timestampUs / 1000, frag.frameLength, out, 0, n);
            seq = (seq + 1) >>> 0;
            if (st === AssemblyStatus.FRAME) {
              expect(asm.frame!.keyframe).toBe(got.length % 3 === 0);
              got.push(asm.frame!.data);
            } else {
              expect(st).toBe(AssemblyStatus.PROGRESS);
            }
          }
          expect(got.length).toBe(sizes.length);
          got.forEach((g, i) => expect(g).toEqual(bytes(sizes[i]!, i)));
          expect(q.queuedBytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a frame that does not fit instead of growing', () => {
    const q = new FrameQueue({ limitBytes: 2048, maxFrames: 2 });
    expect(q.push(new Uint8Array(1500), 0, 1500, 0, false)).toBe(true);
    expect(q.push(new Uint8Array(1000), 0, 1000, 0, false)).toBe(false);
    expect(q.push(new Uint8Array(500), 0, 500, 0, false)).toBe(true);
    expect(q.push(new Uint8Array(1), 0, 1, 0, false)).toBe(false); // frame table full
    expect(q.queuedBytes).toBe(2000);
  });

  it('a loss drops exactly the frame it hits and resumes at the next FIRST', () => {
    const asm = new FrameAssembler({ maxFrameBytes: 100 });
    const p = new Uint8Array(10);
    expect(asm.push(1, FRAG_FIRST, 0, 20, p, 0, 10)).toBe(AssemblyStatus.PROGRESS);
    expect(asm.lost(2, 1)).toBe(true);
    expect(asm.lostFrame).toEqual({ firstSeq: 1, count: 2, reason: 'loss' });
    expect(asm.push(3, FRAG_LAST, 0, 20, p, 0, 10)).toBe(AssemblyStatus.SKIPPED);
    expect(asm.push(4, FRAG_FIRST | FRAG_LAST | FRAG_KEYFRAME, 5, 10, p, 0, 10)).toBe(AssemblyStatus.FRAME);
    expect(asm.frame!.keyframe).toBe(true);
    expect(asm.framesLost).toBe(1);
    expect(asm.framesDelivered).toBe(1);
  });

  it('rejects oversized and inconsistent fragments without throwing', () => {
    const asm = new FrameAssembler({ maxFrameBytes: 100 });
    const p = new Uint8Array(10);
    expect(asm.push(1, FRAG_FIRST, 0, 1_000_000, p, 0, 10)).toBe(AssemblyStatus.OVERSIZED);
    expect(asm.push(2, FRAG_FIRST, 0, 15, p, 0, 10)).toBe(AssemblyStatus.PROGRESS);
    expect(asm.push(3, 0, 0, 15, p, 0, 10)).toBe(AssemblyStatus.INCONSISTENT); // 20 > 15
    expect(asm.push(4, FRAG_FIRST, 0, 10, p, 0, 5)).toBe(AssemblyStatus.PROGRESS);
    expect(asm.push(5, FRAG_LAST, 0, 10, p, 0, 4)).toBe(AssemblyStatus.INCONSISTENT); // 9 != 10
    expect(asm.inProgress).toBe(false);
  });
});

describe('Pacer', () => {
  it('never lets more than rate x time + burst leave', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1400 }), { minLength: 1, maxLength: 300 }), (sizes) => {
        const p = new Pacer({ rateBps: 8_000_000, burstBytes: 5000 }, 0);
        let now = 0;
        let sent = 0;
        for (const s of sizes) {
          now = p.nextSendTime(s, now);
          expect(p.canSend(s, now)).toBe(true);
          p.consume(s, now);
          sent += s;
          expect(sent).toBeLessThanOrEqual(5000 + now * 1000 + 1e-6);
        }
      }),
    );
  });
});

describe('ClockMap', () => {
  it('tracks the minimum one-way offset and follows drift through bucket roll-over', () => {
    const cm = new ClockMap(1000);
    // sender clock starts at 0, receiver at 5000; one-way delay 20 ms + jitter up to 10 ms
    for (let i = 0; i < 100; i++) {
      const s = i * 10;
      cm.observe(s, 5000 + s + 20 + ((i * 7) % 10));
    }
    expect(cm.offsetMs).toBe(5020);
    // receiver clock drifts +50 ms: after two buckets the estimate follows
    for (let i = 100; i < 400; i++) {
      const s = i * 10;
      cm.observe(s, 5050 + s + 20 + ((i * 7) % 10));
    }
    expect(cm.offsetMs).toBe(5070);
  });
  it('unwraps 32-bit microsecond stamps', () => {
    const cm = new ClockMap();
    expect(cm.senderMs(0xffff_fc18)).toBeCloseTo(0xffff_fc18 / 1000);
    expect(cm.senderMs(1000)).toBeCloseTo((2 ** 32 + 1000) / 1000);
  });
});
