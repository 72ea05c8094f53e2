/**
 * Packet protection throughput on 1200-byte packets (the yardstick: pre-keyed noble
 * HMAC ~141k tags/s, node:crypto HMAC ~384k/s on this machine), plus the anti-replay window
 * and cookie costs. Grid names: `<Op>_<impl>_<bytes>`.
 *
 * Open-side AEAD tasks copy the sealed packet into the work buffer first (open decrypts in
 * place); the `Copy_1200` figure is that copy alone, for reference.
 *
 * Checks (ratios from this run): pre-keying must not lose to per-packet keying, node:crypto
 * HMAC must stay clearly ahead of pure HMAC (else the io protector is pointless), and the pure
 * protector's verify must cost about what its tag costs.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CookieIssuer } from '../src/core/auth/cookie.js';
import { HmacProtector } from '../src/core/auth/hmac-protector.js';
import { ReplayWindow } from '../src/core/auth/replay-window.js';
import { NodeProtector } from '../src/io/node-protector.js';
import { measureHeap, runTasks, type BenchContext, type Check, type Figure, type SuiteResult } from './harness.js';

const SIZE = 1200;
const HEADER = 24;

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
  const pkt = Uint8Array.from({ length: SIZE }, (_, i) => (i * 31) & 0xff);
  const work = pkt.slice();

  const noble = new HmacProtector(key);
  const node = new NodeProtector(key);
  const chacha = new NodeProtector(key, { mode: 'aead', aead: 'chacha20-poly1305' });
  const gcm = new NodeProtector(key, { mode: 'aead', aead: 'aes-128-gcm' });

  // Sealed copies for the open-side tasks.
  const sealedNoble = pkt.slice();
  noble.protect(sealedNoble, 0, SIZE, HEADER, 1);
  const sealedNode = sealedNoble.slice();
  const sealedChacha = pkt.slice();
  chacha.protect(sealedChacha, 0, SIZE, HEADER, 1);
  const sealedGcm = pkt.slice();
  gcm.protect(sealedGcm, 0, SIZE, HEADER, 1);
  const forgedChacha = sealedChacha.slice();
  forgedChacha[SIZE - 1]! ^= 1;

  const naiveMsg = new Uint8Array(SIZE - 16 + 12);
  let pn = 0;
  let sink = 0;

  const win = new ReplayWindow(1024);
  const jar = new CookieIssuer({ random: (b) => b.fill(7) });
  const addr = new Uint8Array([10, 0, 0, 1]);
  const nonce = new Uint8Array(16);
  const cookie = new Uint8Array(32);
  jar.mint(cookie, 0, addr, 5000, 1, nonce, 0, 0);

  // Heap first, while noble's call sites have seen only the pre-keyed path: after the
  // per-packet-key task below shares them, V8 stops scalar-replacing noble's state tuples and
  // the per-tag garbage grows several-fold (measured here: ~170 -> ~780 bytes/op).
  const heapNoble = await measureHeap((i) => noble.protect(work, 0, SIZE, HEADER, i), ctx.quick ? 50_000 : 200_000, 20_000);
  const heapWin = await measureHeap((i) => {
    if (win.check(i >>> 0)) win.commit(i >>> 0);
  }, ctx.quick ? 200_000 : 1_000_000, 50_000);
  win.close();
  const win2 = new ReplayWindow(1024);

  const hz = await runTasks(ctx, {
    HmacTag_noble_prekeyed_1200: () => noble.protect(work, 0, SIZE, HEADER, pn++),
    HmacTag_noble_perpacketkey_1200: () => {
      // What a naive protector does: key schedule + concat per packet.
      naiveMsg.set(work.subarray(0, SIZE - 16));
      sink ^= hmac(sha256, key, naiveMsg)[0]!;
    },
    HmacTag_node_1200: () => node.protect(work, 0, SIZE, HEADER, pn++),
    AeadSeal_chacha20poly1305_1200: () => chacha.protect(work, 0, SIZE, HEADER, pn++),
    AeadSeal_aes128gcm_1200: () => gcm.protect(work, 0, SIZE, HEADER, pn++),
    HmacVerify_noble_1200: () => {
      sink ^= noble.open(sealedNoble, 0, SIZE, HEADER, 1) ? 1 : 0;
    },
    HmacVerify_node_1200: () => {
      sink ^= node.open(sealedNode, 0, SIZE, HEADER, 1) ? 1 : 0;
    },
    AeadOpen_chacha20poly1305_1200: () => {
      work.set(sealedChacha);
      sink ^= chacha.open(work, 0, SIZE, HEADER, 1) ? 1 : 0;
    },
    AeadOpen_aes128gcm_1200: () => {
      work.set(sealedGcm);
      sink ^= gcm.open(work, 0, SIZE, HEADER, 1) ? 1 : 0;
    },
    AeadReject_chacha20poly1305_1200: () => {
      sink ^= chacha.open(forgedChacha, 0, SIZE, HEADER, 1) ? 1 : 0;
    },
    Copy_1200: () => work.set(sealedChacha),
    ReplayCheckCommit_1024: () => {
      const p = pn++ >>> 0;
      if (win2.check(p)) win2.commit(p);
    },
    CookieVerify_ipv4: () => {
      sink ^= jar.verify(cookie, 0, addr, 5000, 1, nonce, 0, 1) ? 1 : 0;
    },
  });

  if (sink === 0x1234_5678) console.log(sink);

  const figures: Figure[] = [];
  for (const [name, v] of Object.entries(hz)) {
    const perPacket = name.endsWith('_1200');
    figures.push({ name, value: v, unit: 'ops/s', note: perPacket && name !== 'Copy_1200' ? `${((v * SIZE) / 1e6).toFixed(0)} MB/s` : undefined } as Figure);
  }
  figures.push({ name: 'HmacTag_noble_alloc', value: heapNoble.allocatedBytesPerOp, unit: 'bytes/op', note: `${heapNoble.gcCount} GCs over ${heapNoble.iterations} tags` });
  figures.push({ name: 'ReplayCheckCommit_alloc', value: heapWin.allocatedBytesPerOp, unit: 'bytes/op', note: `${heapWin.gcCount} GCs` });

  const g = (n: string): number => hz[n] ?? 0;
  const checks: Check[] = [
    {
      name: 'prekeyed_vs_perpacketkey',
      value: g('HmacTag_noble_prekeyed_1200') / g('HmacTag_noble_perpacketkey_1200'),
      min: 1.0,
      detail: 'pre-keyed noble HMAC tag rate / noble hmac() with key schedule per packet',
    },
    {
      name: 'node_vs_noble_hmac',
      value: g('HmacTag_node_1200') / g('HmacTag_noble_prekeyed_1200'),
      min: 1.3,
      detail: 'node:crypto HMAC tag rate / pure noble tag rate (issue measured ~2.7x)',
    },
    {
      name: 'noble_verify_vs_tag',
      value: g('HmacVerify_noble_1200') / g('HmacTag_noble_prekeyed_1200'),
      // Read 1.00-1.24 across runs on the loaded 2-core machine: the band leaves room for that noise
      // while still catching a verify that does twice the work (or skips it).
      min: 0.7,
      max: 1.5,
      detail: 'verify = recompute + 16-byte constant-time compare; must cost about one tag',
    },
    {
      name: 'replay_window_alloc_free',
      value: heapWin.allocatedBytesPerOp,
      max: 1,
      detail: 'bytes allocated per check+commit (must be ~0)',
    },
  ];
  noble.close();
  node.close();
  chacha.close();
  gcm.close();
  win2.close();
  jar.close();
  return { suite: 'auth', figures, checks };
}
