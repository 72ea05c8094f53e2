/**
 * A Prometheus scrape endpoint for sluice: `GET /metrics` on node:http (127.0.0.1) serves the
 * MemoryAccountant's families (`accountant.toPrometheus()`) and per-connection statistics as
 * `sluice_connection_*` metrics. A small stream runs in the background so there is something
 * to see.
 *
 * Run: node --import tsx examples/metrics.ts [seconds=60] [port=0]
 *      curl http://127.0.0.1:PORT/metrics
 */
import { createServer } from 'node:http';
import { connect, defaultAccountant, listen, type ConnectionStats, type SluiceConnection } from '../src/index.js';

const seconds = Number(process.argv[2] ?? 60);
const httpPort = Number(process.argv[3] ?? 0);
const key = 'metrics example key 1234';

// The stream: one listener and one caller on 127.0.0.1, 25 frames/s of 8 KB.
const server = await listen({ host: '127.0.0.1', port: 0, key });
const open = new Map<SluiceConnection, 'receiver' | 'sender'>();
server.on('connection', (c: SluiceConnection) => {
  open.set(c, 'receiver');
  c.on('frame', () => undefined);
  c.once('close', () => open.delete(c));
});
const caller = await connect({ host: '127.0.0.1', port: server.address().port, key });
open.set(caller, 'sender');
caller.once('close', () => open.delete(caller));
const frame = new Uint8Array(8000);
const feed = setInterval(() => caller.send(frame), 40);

/** Counter and gauge families from ConnectionStats: [name, type, help, value]. */
const FAMILIES: Array<[string, 'counter' | 'gauge', string, (s: ConnectionStats) => number]> = [
  ['sluice_connection_sent_packets_total', 'counter', 'Datagrams sent.', (s) => s.sent.packets],
  ['sluice_connection_sent_bytes_total', 'counter', 'Bytes sent (UDP payload).', (s) => s.sent.bytes],
  ['sluice_connection_repair_sent_total', 'counter', 'FEC repair packets sent.', (s) => s.sent.repair],
  ['sluice_connection_retransmit_sent_total', 'counter', 'DATA retransmissions sent.', (s) => s.sent.retransmit],
  ['sluice_connection_received_packets_total', 'counter', 'Authenticated datagrams received.', (s) => s.received.packets],
  ['sluice_connection_frames_delivered_total', 'counter', 'Frames delivered whole.', (s) => s.received.framesDelivered],
  ['sluice_connection_recovered_fec_total', 'counter', 'Packets rebuilt by FEC.', (s) => s.recovery.byFec],
  ['sluice_connection_recovered_arq_total', 'counter', 'Packets recovered by retransmission.', (s) => s.recovery.byArq],
  ['sluice_connection_lost_total', 'counter', 'Packets lost for good.', (s) => s.recovery.lost],
  ['sluice_connection_rtt_seconds', 'gauge', 'Smoothed round-trip time.', (s) => s.rtt.srttMs / 1000],
  ['sluice_connection_receive_buffer_packets', 'gauge', 'Packets held in the receive buffer.', (s) => s.receiveBuffer.packets],
  ['sluice_connection_send_buffer_bytes', 'gauge', 'Bytes held for retransmission.', (s) => s.sendBuffer.bytes],
];

function connectionMetrics(): string {
  const rows = [...open].map(([c, role]) => ({ role, s: c.stats() }));
  let text = '';
  for (const [name, type, help, value] of FAMILIES) {
    text += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    for (const { role, s } of rows) text += `${name}{conn="${s.connId}",role="${role}"} ${value(s)}\n`;
  }
  return text;
}

const http = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(defaultAccountant.toPrometheus() + connectionMetrics());
  } else {
    res.writeHead(404).end('not found: try /metrics\n');
  }
});
await new Promise<void>((resolve) => http.listen(httpPort, '127.0.0.1', resolve));
const address = http.address();
console.log(`metrics: http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : httpPort}/metrics`);

const stop = async (): Promise<void> => {
  clearInterval(feed);
  clearTimeout(timer);
  http.close();
  await caller.close();
  await server.close();
  console.log('stopped');
};
const timer = setTimeout(() => void stop(), seconds * 1000);
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
