/**
 * Real ffmpeg over sluice across an impaired link:
 *
 *   ffmpeg (testsrc2, x264, MPEG-TS over UDP) -> capture socket -> sluice caller
 *     -> ImpairRelay (10% loss, 20 ms delay, both directions) -> sluice listener -> received.ts
 *
 * Every datagram ffmpeg sends is captured (sent.ts) and carried as one frame; the listener writes
 * the frames to received.ts. At the end the two files must be byte-identical and ffprobe must
 * read every packet of received.ts without an error (no continuity-counter complaint).
 *
 * Run: node --import tsx examples/ffmpeg-relay.ts [outDir] [seconds=8]
 * Needs ffmpeg and ffprobe on PATH (Debian: apt-get install ffmpeg).
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImpairRelay, connect, listen, parseImpairment, type Frame, type SluiceConnection } from '../src/index.js';

const outDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'sluice-ffmpeg-'));
const seconds = Number(process.argv[3] ?? 8);
mkdirSync(outDir, { recursive: true });
for (const tool of ['ffmpeg', 'ffprobe']) {
  if (spawnSync(tool, ['-version'], { stdio: 'ignore' }).status !== 0) {
    console.error(`ffmpeg-relay: "${tool}" was not found on PATH; install ffmpeg (Debian/Ubuntu: apt-get install -y ffmpeg)`);
    process.exit(2);
  }
}
const key = 'ffmpeg relay example key';
// 500 ms: SRT-like slack for a loaded CI machine (ffmpeg, x264 and both ends share 2 cores);
// a frame that misses its deadline is dropped, and this example demands every byte.
const options = { key, latencyMs: 500, expectedRateBps: 5_000_000 };

// Receiver: a listener whose frames are written out in order.
const received: Uint8Array[] = [];
const server = await listen({ ...options, host: '127.0.0.1', port: 0 });
const receiverReady = new Promise<SluiceConnection>((resolve) => server.once('connection', resolve));
server.on('connection', (c: SluiceConnection) => c.on('frame', (f: Frame) => received.push(f.data)));

// The impaired link between them.
const relay = new ImpairRelay({
  listen: 'udp://127.0.0.1:0',
  target: { host: '127.0.0.1', port: server.address().port },
  impairment: parseImpairment('loss=10%,delay=20,seed=1'),
});
const relayPort = (await relay.start()).port;

// Sender: a caller fed by the datagrams ffmpeg sends to the capture socket.
const caller = await connect({ ...options, host: '127.0.0.1', port: relayPort });
const receiver = await receiverReady;
const sent: Buffer[] = [];
const capture = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
await new Promise<void>((resolve) => capture.bind(0, '127.0.0.1', resolve));
capture.on('message', (datagram: Buffer) => {
  sent.push(datagram);
  caller.send(datagram, { copy: false }); // one datagram = one frame; dgram gives a fresh Buffer
});

const url = `udp://127.0.0.1:${capture.address().port}?pkt_size=1316`;
const args = ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', String(seconds), '-c:v', 'libx264', '-g', '50', '-f', 'mpegts', url];
console.log(`ffmpeg ${args.join(' ')}`);
const ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'inherit', 'inherit'] });
const ffmpegCode = await new Promise<number>((resolve) => ffmpeg.once('exit', (code) => resolve(code ?? 1)));

// Let the tail through: everything acknowledged, then one latency for delivery.
const until = Date.now() + 5000;
while (Date.now() < until && (caller.stats().sendBuffer.packets > 0 || caller.stats().sendQueue.bytes > 0)) {
  await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, options.latencyMs + 100));
const rs = receiver.stats();
const ss = caller.stats();
const link = relay.stats().forward;
capture.close();
await caller.close();
await server.close();
await relay.close();

const sentTs = Buffer.concat(sent);
const receivedTs = Buffer.concat(received);
const sentPath = join(outDir, 'sent.ts');
const receivedPath = join(outDir, 'received.ts');
writeFileSync(sentPath, sentTs);
writeFileSync(receivedPath, receivedTs);

function probe(path: string): { packets: number; errors: string } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_packets', '-of', 'csv=p=0', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { packets: r.stdout.split('\n').filter((l) => l.trim() !== '').length, errors: (r.stderr ?? '').trim() };
}
const ps = probe(sentPath);
const pr = probe(receivedPath);
const identical = Buffer.compare(sentTs, receivedTs) === 0;
console.log(`ffmpeg exit ${ffmpegCode}: ${sent.length} datagrams, ${sentTs.length} bytes of MPEG-TS`);
console.log(`link: ${link.droppedLoss} of ${link.sent} datagrams dropped sender->receiver (${((100 * link.droppedLoss) / Math.max(1, link.sent)).toFixed(1)}%)`);
console.log(`sluice: ${ss.sent.repair} FEC repairs, ${ss.sent.retransmit} retransmissions; recovered by FEC ${rs.recovery.byFec}, by ARQ ${rs.recovery.byArq}, lost ${rs.recovery.lost}`);
console.log(`received: ${received.length} frames, ${receivedTs.length} bytes, ${identical ? 'byte-identical to what ffmpeg sent' : 'DIFFERENT from what ffmpeg sent'}`);
console.log(`ffprobe: sent.ts ${ps.packets} packets, received.ts ${pr.packets} packets, errors: ${pr.errors === '' ? 'none' : pr.errors}`);
console.log(`files: ${sentPath} ${receivedPath}`);
process.exitCode = ffmpegCode === 0 && identical && pr.errors === '' && pr.packets === ps.packets && pr.packets > 0 ? 0 : 1;
