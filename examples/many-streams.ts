/**
 * One listener (one UDP socket) serving N concurrent connections, each streaming about
 * 1 Mbit/s for a few seconds; prints the memory each connection holds, from the accountant.
 *
 * Run: node --import tsx examples/many-streams.ts [connections=50] [seconds=3]
 */
import { MemoryAccountant, connect, listen, type SluiceConnection } from '../src/index.js';

const n = Number(process.argv[2] ?? 50);
const seconds = Number(process.argv[3] ?? 3);
const key = 'many-streams example key';
// Buffers are sized from latency x expected rate: tell sluice these are 1 Mbit/s streams. The
// 400 ms latency covers this one process hosting both ends of 50 connections (100 sessions on
// one thread): frames that arrive after their deadline are dropped, not delivered late.
const options = { key, latencyMs: 400, expectedRateBps: 1_000_000 };
const serverAccountant = new MemoryAccountant(); // what the listener holds
const callerAccountant = new MemoryAccountant(); // the N callers (each with its own socket)

const server = await listen({ ...options, host: '127.0.0.1', port: 0, accountant: serverAccountant });
const bytesIn = new Map<SluiceConnection, number>();
server.on('connection', (c: SluiceConnection) => {
  bytesIn.set(c, 0);
  c.on('frame', (f: { data: Uint8Array }) => bytesIn.set(c, (bytesIn.get(c) ?? 0) + f.data.length));
});
const port = server.address().port;
const callers = await Promise.all(Array.from({ length: n }, () => connect({ ...options, host: '127.0.0.1', port, accountant: callerAccountant })));
console.log(`${n} connections open on one listening socket (127.0.0.1:${port})`);

// 25 frames/s of 5000 bytes = 1 Mbit/s per connection, from one timer for all of them.
const fps = 25;
const frame = new Uint8Array(5000).fill(7);
let ticks = 0;
let peak = serverAccountant.snapshot();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    for (const c of callers) c.send(frame);
    if (++ticks % fps === 0) {
      const s = serverAccountant.snapshot();
      if (s.reservedBytes + s.usedBytes >= peak.reservedBytes + peak.usedBytes) peak = s;
    }
    if (ticks >= seconds * fps) {
      clearInterval(timer);
      resolve();
    }
  }, 1000 / fps);
});
await new Promise((r) => setTimeout(r, 700)); // the last frames' latency
const snap = serverAccountant.snapshot();

const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
console.log('\nmemory per connection on the listener (accountant.snapshot().connections):');
for (const c of snap.connections) {
  console.log(`  conn.${c.id}: ${kib(c.reservedBytes)} reserved, ${kib(c.usedBytes)} in use (${c.usedPackets} packets), ${c.accounts} accounts`);
}
const perConn = snap.connections.map((c) => c.reservedBytes).sort((a, b) => a - b);
const connTotal = perConn.reduce((a, b) => a + b, 0);
console.log(`\nconnections: ${snap.connections.length}, per connection ${kib(perConn[0] ?? 0)} .. ${kib(perConn[perConn.length - 1] ?? 0)}, sum ${kib(connTotal)}`);
console.log(`listener total (connections + socket ring + pools): ${kib(snap.reservedBytes)} reserved, ${kib(snap.usedBytes)} in use; peak in use ${kib(peak.usedBytes)}`);
const expected = seconds * fps * frame.length;
const got = [...bytesIn.values()];
const complete = got.filter((b) => b === expected).length;
const share = got.reduce((a, b) => a + b, 0) / (expected * n);
console.log(`frames: ${complete}/${n} connections received all ${seconds * fps} frames; ${(100 * share).toFixed(1)}% of all frame bytes delivered`);

await Promise.all(callers.map((c) => c.close()));
await server.close();
const leaks = serverAccountant.leakCheck({ strict: true });
console.log(`after close: ${leaks.ok ? 'every account back to zero' : leaks.summary}`);
// Exit 0 when every connection streamed and everything was given back. Delivery is reported
// above, not judged: on a loaded machine this one thread hosting 100 sessions can fall behind,
// and frames that miss their deadline are dropped (counted as late), by design.
process.exitCode = got.length === n && got.every((b) => b > 0) && snap.connections.length === n && leaks.ok ? 0 : 1;
