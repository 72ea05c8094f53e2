/**
 * The sluice API in about 40 lines: listen, connect, send frames, receive frames, print stats.
 * Run: node --import tsx examples/frames.ts
 */
import { connect, listen, type Frame, type SluiceConnection } from '../src/index.js';

const key = 'an example pre-shared key'; // 16+ bytes, the same on both sides
const server = await listen({ host: '127.0.0.1', port: 0, key, latencyMs: 120 });
const accepted = new Promise<SluiceConnection>((resolve) => server.once('connection', resolve));
const caller = await connect({ host: '127.0.0.1', port: server.address().port, key, latencyMs: 120 });
const receiver = await accepted;

const frames = 50;
const received: Frame[] = [];
const allIn = new Promise<void>((resolve) => {
  receiver.on('frame', (f: Frame) => {
    received.push(f);
    if (received.length === frames) resolve();
  });
});

for (let i = 0; i < frames; i++) {
  const frame = new Uint8Array(i % 25 === 0 ? 60_000 : 8_000).fill(i); // a keyframe every 25
  await caller.write(frame, { keyframe: i % 25 === 0 }); // waits when the send queue is full
  await new Promise((r) => setTimeout(r, 10));
}
await allIn;

const intact = received.every((f, i) => f.data.length === (i % 25 === 0 ? 60_000 : 8_000) && f.data.every((b) => b === i));
const rs = receiver.stats();
const ss = caller.stats();
console.log(`received ${received.length}/${frames} frames, ${intact ? 'all intact' : 'CORRUPTED'}, keyframes ${received.filter((f) => f.keyframe).length}`);
console.log(`sender: ${ss.sent.data} DATA packets, ${ss.sent.repair} FEC repairs, RTT ${ss.rtt.srttMs.toFixed(2)} ms`);
console.log(`receiver: ${rs.received.framesDelivered} frames delivered, recovered by FEC ${rs.recovery.byFec}, by ARQ ${rs.recovery.byArq}, lost ${rs.recovery.lost}`);

await caller.close(); // flushes, tells the peer
await server.close();
process.exitCode = intact && received.length === frames ? 0 : 1;
