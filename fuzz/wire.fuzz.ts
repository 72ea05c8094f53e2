/**
 * Fuzz target `wire`: random and mutated datagrams fed to `decodePacket`.
 *
 * Case kinds (picked uniformly per case): pure random bytes; random bytes with a plausible
 * header (version 1, assigned type, reserved 0); and mutations of the known-answer vectors in
 * spec/vectors/wire.json: bit flips, byte overwrites, truncation, extension with random bytes,
 * and splices of a byte range from another vector (often of another type) at the same offset.
 *
 * Oracles (a failure throws with the seed and the case index to replay):
 * - decodePacket never throws and returns a known status;
 * - the datagram sits at a random offset inside a larger buffer; decoding it with two different
 *   garbage fills around it gives the same status (no read outside the datagram changes the
 *   outcome);
 * - a datagram that decodes OK re-encodes with encodeFromView without throwing (decoder and
 *   encoder agree on validity), and the re-encoding decodes OK to the same bytes again
 *   (encode(decode(x)) is a fixed point);
 * - for every type but HELLO, that re-encoding equals the input outside the flags byte and the
 *   tag (no accepted field is dropped or left stale by the decoder).
 *
 * Summary: cases, elapsed time, and the tally of statuses returned.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ACCEPT_OFF_PARAMS,
  DECODE_STATUS_COUNT,
  DecodeStatus,
  PacketType,
  PacketView,
  TAG_LENGTH,
  decodePacket,
  decodeStatusName,
  encodeFromView,
} from '../src/core/wire/index.js';
import type { FuzzContext } from './harness.js';

/** mulberry32: small, fast, seeded PRNG (uniform u32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

interface Vectors {
  valid: Array<{ hex: string }>;
}

const MAX_LEN = 1500;
/** sessionFlags within the session parameter block (spec/protocol.md, Session parameters). */
const ACCEPT_SESSION_FLAGS_AT = 12;
const PAD = 64;

export async function run(ctx: FuzzContext): Promise<string> {
  const path = join(import.meta.dirname, '..', 'spec', 'vectors', 'wire.json');
  const seeds = (JSON.parse(readFileSync(path, 'utf8')) as Vectors).valid.map((v) => new Uint8Array(Buffer.from(v.hex, 'hex')));
  const minCases = ctx.long ? 2_000_000 : 200_000;
  const budgetMs = ctx.budgetMs ?? (ctx.long ? 10 * 60_000 : 45_000);
  const rnd = prng(ctx.seed ^ 0x57a1_c0de);
  const below = (n: number): number => rnd() % n;

  const view = new PacketView();
  const bufA = new Uint8Array(MAX_LEN + 2 * PAD);
  const bufB = new Uint8Array(MAX_LEN + 2 * PAD);
  const reenc = new Uint8Array(MAX_LEN + 2 * PAD);
  const reenc2 = new Uint8Array(MAX_LEN + 2 * PAD);
  const work = new Uint8Array(MAX_LEN);
  const tally = new Float64Array(DECODE_STATUS_COUNT);
  const kinds = new Float64Array(7);
  let reencoded = 0;

  const t0 = Date.now();
  let cases = 0;
  // Run at least minCases; in long mode keep going until the time budget if one was given.
  while (cases < minCases || (ctx.budgetMs !== undefined && Date.now() - t0 < budgetMs)) {
    if (cases >= minCases && Date.now() - t0 > budgetMs) break;
    // ---- build the case in `work[0, len)`
    let len: number;
    const kind = below(7);
    kinds[kind]!++;
    if (kind === 0) {
      len = below(MAX_LEN + 1);
      for (let i = 0; i < len; i++) work[i] = rnd() & 0xff;
    } else if (kind === 1) {
      len = 12 + below(MAX_LEN - 11);
      for (let i = 0; i < len; i++) work[i] = rnd() & 0xff;
      work[0] = 1;
      work[1] = 1 + below(11);
      work[3] = 0;
    } else {
      const src = seeds[below(seeds.length)]!;
      len = src.length;
      work.set(src);
      const rounds = 1 + below(4);
      for (let r = 0; r < rounds; r++) {
        const op = kind === 6 ? below(5) : kind - 2;
        if (op === 0 && len > 0) {
          // bit flips
          const flips = 1 + below(8);
          for (let f = 0; f < flips; f++) work[below(len)]! ^= 1 << below(8);
        } else if (op === 1 && len > 0) {
          // overwrite a few bytes, biased to the first 40 (header and body fields)
          const n = 1 + below(4);
          for (let f = 0; f < n; f++) work[below(Math.min(len, rnd() & 1 ? 40 : len))] = rnd() & 0xff;
        } else if (op === 2) {
          // truncate
          len = below(len + 1);
        } else if (op === 3) {
          // extend with random bytes
          const add = 1 + below(64);
          const newLen = Math.min(MAX_LEN, len + add);
          for (let i = len; i < newLen; i++) work[i] = rnd() & 0xff;
          len = newLen;
        } else {
          // splice a range from another vector at the same offset
          const other = seeds[below(seeds.length)]!;
          const start = below(Math.min(len, other.length) + 1);
          const end = start + below(Math.min(len, other.length) - start + 1);
          for (let i = start; i < end; i++) work[i] = other[i]!;
        }
      }
    }

    // ---- oracle 1 + 2: place at a random offset with two garbage fills
    const off = below(PAD);
    // Fresh garbage in the margins the datagram does not cover (B is the complement of A, so a
    // read of any margin byte changes what the decoder sees).
    const end = off + len;
    for (let i = 0; i < off; i++) {
      bufA[i] = rnd() & 0xff;
      bufB[i] = ~bufA[i]! & 0xff;
    }
    for (let i = end; i < end + PAD; i++) {
      bufA[i] = rnd() & 0xff;
      bufB[i] = ~bufA[i]! & 0xff;
    }
    bufA.set(work.subarray(0, len), off);
    bufB.set(work.subarray(0, len), off);
    let stA: number;
    let stB: number;
    try {
      stA = decodePacket(view, bufA, off, len);
      stB = decodePacket(view, bufB, off, len);
    } catch (err) {
      throw new Error(`wire fuzz: decodePacket threw on case ${cases} (seed ${ctx.seed}): ${String(err)}`);
    }
    if (!(stA >= 0 && stA < DECODE_STATUS_COUNT)) throw new Error(`wire fuzz: unknown status ${stA} on case ${cases}`);
    if (stA !== stB) {
      throw new Error(`wire fuzz: status depends on bytes outside the datagram (${stA} vs ${stB}) on case ${cases} (seed ${ctx.seed})`);
    }
    tally[stA]!++;

    // ---- oracle 3: OK views re-encode, and the re-encoding is a fixed point
    if (stA === DecodeStatus.OK) {
      let n: number;
      try {
        n = encodeFromView(reenc, 0, view);
      } catch (err) {
        throw new Error(`wire fuzz: decode accepted what the encoder rejects on case ${cases} (seed ${ctx.seed}): ${String(err)} hex=${Buffer.from(work.subarray(0, len)).toString('hex')}`);
      }
      const st2 = decodePacket(view, reenc, 0, n);
      if (st2 !== DecodeStatus.OK) throw new Error(`wire fuzz: re-encoding does not decode (${decodeStatusName(st2)}) on case ${cases}`);
      const n2 = encodeFromView(reenc2, 0, view);
      if (n2 !== n) throw new Error(`wire fuzz: re-encoding length changed ${n} -> ${n2} on case ${cases}`);
      for (let i = 0; i < n; i++) {
        if (reenc[i] !== reenc2[i]) throw new Error(`wire fuzz: encode(decode(x)) not a fixed point at byte ${i} on case ${cases}`);
      }
      // ---- oracle 4: nothing the decoder accepted is lost. Apart from the flags byte (undefined
      // bits are masked on receive) and the tag slot (left zero by the encoder), the re-encoding
      // equals the input, so every body field (e.g. KEEPALIVE nextSeq) is read, not left stale.
      // HELLO is exempt: its padding and, without the COOKIE flag, its cookie slot are ignored.
      // ACCEPT's sessionFlags byte is a flags byte too (undefined bits ignored).
      if (view.type !== PacketType.HELLO) {
        if (n !== len) throw new Error(`wire fuzz: re-encoding length ${n} != input ${len} on case ${cases}`);
        const skip = view.type === PacketType.ACCEPT ? ACCEPT_OFF_PARAMS + ACCEPT_SESSION_FLAGS_AT : 2;
        for (let i = 0; i < n - TAG_LENGTH; i++) {
          if (i !== 2 && i !== skip && reenc[i] !== work[i]) {
            throw new Error(`wire fuzz: re-encoding differs from the input at byte ${i} on case ${cases} (seed ${ctx.seed}) hex=${Buffer.from(work.subarray(0, len)).toString('hex')}`);
          }
        }
      }
      reencoded++;
    }
    cases++;
  }
  const ms = Date.now() - t0;
  const parts: string[] = [];
  for (let s = 0; s < DECODE_STATUS_COUNT; s++) if (tally[s]! > 0) parts.push(`${decodeStatusName(s)}=${tally[s]}`);
  return `${cases} cases in ${(ms / 1000).toFixed(1)} s, 0 throws, ${reencoded} re-encoded; statuses: ${parts.join(' ')}`;
}
