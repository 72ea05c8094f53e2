/**
 * Adversarial inputs against a listener with one legitimate connection (core pair, virtual time):
 * - random datagrams and mutations of captured ones, without a valid tag and (re-signed with the
 *   session key, as a malicious authenticated peer would) with one;
 * - hostile sequence-number jumps (+2^31, +2^30, random) in authenticated DATA;
 * - NACK storms (authenticated NACKs asking for everything, again and again);
 * - oversized frame announcements (frameLength up to 2^32 - 1);
 * - handshake floods from many spoofed addresses (valid and invalid HELLOs).
 * Oracle: nothing throws; the listener never sends more bytes to a spoofed address than it
 * received from it (amplification <= 1x) and creates no state for it; retransmissions stay
 * within the configured share of what was sent; memory stays within the configured bounds; the
 * legitimate stream keeps delivering bit-exact frames when the attack is unauthenticated.
 */
import fc from 'fast-check';
import { SimPair } from '../src/core/connection/sim-pair.js';
import { MemoryAccountant } from '../src/core/memory/accountant.js';
import { PacketType, HELLO_MIN_LENGTH } from '../src/core/wire/constants.js';
import { encodeDataHeaderInto, encodeHelloInto, encodeRangesInto } from '../src/core/wire/encode.js';
import { deriveHandshakeKey } from '../src/core/auth/keys.js';
import { createHmacProtector } from '../src/core/auth/hmac-protector.js';
import { SessionParamsView } from '../src/core/wire/view.js';
import type { Connection } from '../src/core/connection/connection.js';
import type { FuzzContext } from './harness.js';

const KEY = 'adversarial fuzz key 0123456789';

type Attack =
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'mutate'; index: number; flips: number[]; resign: boolean }
  | { kind: 'seq-jump'; jump: number }
  | { kind: 'nack-storm'; count: number }
  | { kind: 'oversized'; frameLength: number }
  | { kind: 'hello-flood'; sources: number; valid: boolean };

const attackArb: fc.Arbitrary<Attack> = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 1500 }) }),
  fc.record({ kind: fc.constant('mutate' as const), index: fc.nat(), flips: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), resign: fc.boolean() }),
  fc.record({ kind: fc.constant('seq-jump' as const), jump: fc.oneof(fc.constant(0x8000_0000), fc.constant(0x4000_0000), fc.nat({ max: 0xffff_ffff })) }),
  fc.record({ kind: fc.constant('nack-storm' as const), count: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant('oversized' as const), frameLength: fc.integer({ min: 9 * 1024 * 1024, max: 0xffff_ffff }) }),
  fc.record({ kind: fc.constant('hello-flood' as const), sources: fc.integer({ min: 1, max: 200 }), valid: fc.boolean() }),
);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`adversarial oracle: ${what}`);
}

/** Signs a packet the way the legitimate client would (a malicious peer knows the session key). */
function resign(conn: Connection, buf: Uint8Array, len: number, bodyOffset: number): void {
  const c = conn as unknown as { tx: { protect(b: Uint8Array, o: number, l: number, p: number, i: number): void }; txPn: number };
  const idx = c.txPn++;
  buf[8] = (idx >>> 24) & 0xff;
  buf[9] = (idx >>> 16) & 0xff;
  buf[10] = (idx >>> 8) & 0xff;
  buf[11] = idx & 0xff;
  c.tx.protect(buf, 0, len, bodyOffset, idx);
}

function runAttacks(attacks: Attack[], seed: number): void {
  const accountant = new MemoryAccountant();
  const pair = new SimPair({ seed, connection: { key: KEY, latencyMs: 120, expectedRateBps: 4e6 }, forward: { delayMs: 5 }, accounts: accountant });
  pair.keepLog = false;
  const captured: Uint8Array[] = [];
  // Capture what the client sends (through the forward link) to mutate it later.
  const origSend = pair.forward.send.bind(pair.forward);
  pair.forward.send = (b, o, l, now) => {
    if (captured.length < 64) captured.push(b.slice(o, o + l));
    origSend(b, o, l, now);
  };
  let delivered = 0;
  let corrupted = 0;
  pair.onEvent = (side, e) => {
    if (side !== 'server' || e.type !== 'frame') return;
    delivered++;
    for (let k = 0; k < e.data.length; k++) if (e.data[k] !== ((k + e.data.length) & 0xff)) corrupted++;
  };
  check(pair.handshake(), 'handshake failed on a clean link');
  const client = pair.clientConn!;
  const serverConn = pair.serverConn!;
  const hsKey = deriveHandshakeKey(KEY);
  const hsSeal = createHmacProtector(hsKey, 'hmac', 0);
  const buf = new Uint8Array(65536);
  const spoofIn = new Map<string, number>();
  const spoofOut = new Map<string, number>();
  // Count what the listener sends to spoofed sources (its replies never reach the real client).
  const server = pair.server;
  const origPoll = server.pollTransmit.bind(server);
  server.pollTransmit = (now, out, tx) => {
    const r = origPoll(now, out, tx);
    if (r && tx.address.startsWith('127.9.')) spoofOut.set(`${tx.address}:${tx.port}`, (spoofOut.get(`${tx.address}:${tx.port}`) ?? 0) + tx.length);
    return r;
  };
  let authenticatedAttack = false;
  let frames = 0;
  const sendFrame = (now: number): void => {
    const size = 1 + ((frames * 7919) % 20_000);
    const f = new Uint8Array(size);
    for (let k = 0; k < size; k++) f[k] = (k + size) & 0xff;
    if (client.state === 'open') client.sendFrame(f, now);
    frames++;
  };
  pair.runUntil(pair.now + 200, sendFrame, 20);
  const params = new SessionParamsView();
  params.latencyMs = 120;
  params.maxDatagram = 1400;
  params.maxFrameBytes = 1 << 20;
  params.sessionFlags = 1;
  const nonce = new Uint8Array(16);
  for (const a of attacks) {
    const now = pair.now;
    switch (a.kind) {
      case 'random':
        server.handleDatagram(a.bytes, 0, a.bytes.length, '127.9.0.1', 1000, now);
        spoofIn.set('127.9.0.1:1000', (spoofIn.get('127.9.0.1:1000') ?? 0) + a.bytes.length);
        break;
      case 'mutate': {
        if (captured.length === 0) break;
        const src = captured[a.index % captured.length]!;
        buf.set(src, 0);
        for (const f of a.flips) buf[f % src.length]! ^= 1 << (f & 7);
        if (a.resign && src.length >= 28 && buf[1] !== PacketType.HELLO) {
          authenticatedAttack = true;
          resign(client, buf, src.length, src.length - 16);
        }
        server.handleDatagram(buf, 0, src.length, '127.0.0.1', 40000, now);
        break;
      }
      case 'seq-jump': {
        authenticatedAttack = true;
        const n = encodeDataHeaderInto(buf, 0, serverConn.localId, 0, 0x03, (client.stats(now).sent.nextSeq + a.jump) >>> 0, 0, 10, 10);
        resign(client, buf, n, 24);
        server.handleDatagram(buf, 0, n, '127.0.0.1', 40000, now);
        break;
      }
      case 'nack-storm': {
        // Authenticated NACKs from the receiver side asking for everything sent so far.
        authenticatedAttack = true;
        const starts = new Uint32Array([0]);
        const counts = new Uint32Array([Math.min(0xffff, Math.max(1, client.stats(now).sent.nextSeq))]);
        for (let k = 0; k < a.count; k++) {
          const n = encodeRangesInto(buf, 0, PacketType.NACK, client.localId, 0, starts, counts, 0, 1);
          resign(serverConn, buf, n, n - 16);
          pair.client.handleDatagram(buf, 0, n, '127.0.0.2', 9000, now);
        }
        break;
      }
      case 'oversized': {
        authenticatedAttack = true;
        const n = encodeDataHeaderInto(buf, 0, serverConn.localId, 0, 0x01, client.stats(now).sent.nextSeq, 0, a.frameLength, 100);
        resign(client, buf, n, 24);
        server.handleDatagram(buf, 0, n, '127.0.0.1', 40000, now);
        break;
      }
      case 'hello-flood': {
        for (let k = 0; k < a.sources; k++) {
          const addr = `127.9.${(k >> 8) & 0xff}.${k & 0xff}`;
          nonce[0] = k & 0xff;
          const n = encodeHelloInto(buf, 0, 0, {
            minVersion: 1,
            maxVersion: 1,
            sourceConnId: 1 + k,
            timestamp: 0,
            clientNonce: nonce,
            clientNonceOffset: 0,
            params,
            cookie: null,
            cookieOffset: 0,
            length: HELLO_MIN_LENGTH,
          });
          if (a.valid) hsSeal.protect(buf, 0, n, n - 16, 0);
          server.handleDatagram(buf, 0, n, addr, 5000 + k, now);
          spoofIn.set(`${addr}:${5000 + k}`, (spoofIn.get(`${addr}:${5000 + k}`) ?? 0) + n);
        }
        break;
      }
    }
    pair.runUntil(pair.now + 10, sendFrame, 20);
  }
  pair.runUntil(pair.now + 600);
  // No state for spoofed sources, no amplification.
  check(server.connectionCount === 1, `listener holds ${server.connectionCount} connections after a flood (expected 1)`);
  for (const [src, out] of spoofOut) {
    const inb = spoofIn.get(src) ?? 0;
    check(out <= inb, `amplification to ${src}: sent ${out} bytes for ${inb} received`);
  }
  // Retransmissions within the configured share (default 1x) of what was sent, plus the burst.
  const cs = client.stats(pair.now);
  check(cs.sent.retransmit * 1332 <= cs.sent.dataBytes * client.options.retransmitShare + 64 * 1332, `retransmissions ${cs.sent.retransmit} exceed the share of ${cs.sent.dataBytes} bytes`);
  // Memory within bounds: what the connection reserved does not grow under attack.
  const snap = accountant.snapshot();
  check(snap.reservedBytes <= accountant.budgetBytes, 'over budget');
  check(corrupted === 0 || authenticatedAttack, `${corrupted} corrupted bytes delivered without an authenticated attacker`);
  if (!authenticatedAttack) check(delivered >= frames - 3, `legitimate stream disturbed: ${delivered} of ${frames} frames delivered`);
  pair.client.closeAll(pair.now);
  pair.runUntil(pair.now + 200);
  pair.destroy();
  const leaks = accountant.leakCheck({ strict: true });
  check(leaks.ok, `memory not returned: ${leaks.summary}`);
}

export async function run(ctx: FuzzContext): Promise<string> {
  const budgetMs = ctx.budgetMs ?? (ctx.long ? 30 * 60_000 : 30_000);
  let runs = 0;
  const t0 = Date.now();
  const details = fc.check(
    fc.property(fc.array(attackArb, { minLength: 1, maxLength: 20 }), fc.nat({ max: 0xffff }), (attacks, seed) => {
      runs++;
      runAttacks(attacks, seed);
    }),
    {
      seed: ctx.seed,
      numRuns: ctx.long ? 1_000_000 : 200,
      interruptAfterTimeLimit: budgetMs,
      markInterruptAsFailure: false,
      ...(ctx.path !== undefined ? { path: ctx.path } : {}),
    },
  );
  if (details.failed) {
    throw new Error(
      `adversarial fuzz failed (seed ${details.seed}, path ${details.counterexamplePath})\n` +
        `replay: npm run fuzz -- --target adversarial --seed ${details.seed} --path ${details.counterexamplePath}\n` +
        `counterexample: ${JSON.stringify(details.counterexample, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}\n` +
        String(details.errorInstance),
    );
  }
  return `${runs} attack sequences in ${((Date.now() - t0) / 1000).toFixed(1)} s (seed ${ctx.seed})`;
}
