/**
 * A bare UDP forwarder: every datagram received on 127.0.0.1:<in> is sent on to 127.0.0.1:<to>,
 * with nothing in between (no header, no authentication, no buffering, no recovery).
 * compare-srt.ts runs two of them in a row as the `udp` transport: the least CPU any transport
 * built on node:dgram can spend per delivered MB (one receive and one send per datagram on each
 * side, as sluice and SRT do), to tell Node's own per-datagram cost from sluice's.
 *
 *   node bench/lib/udp-forward.mjs <in-port> <to-port>
 *
 * Prints {"event":"listening"} once bound; on SIGINT or SIGTERM prints
 * {"event":"final","forwarded":N,"sendErrors":M} and exits. Plain JavaScript so that it runs
 * without a TypeScript loader (whose hooks thread would add CPU to the measurement).
 */
import dgram from 'node:dgram';

const [inPort, toPort] = process.argv.slice(2).map(Number);
if (!(inPort > 0 && inPort < 65536 && toPort > 0 && toPort < 65536)) {
  process.stderr.write('usage: node udp-forward.mjs <in-port> <to-port>\n');
  process.exit(2);
}
const BUF = 4 << 20;
const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: BUF });
const tx = dgram.createSocket({ type: 'udp4', sendBufferSize: BUF });
let forwarded = 0;
let sendErrors = 0;
const onSent = (err) => {
  if (err) sendErrors++;
};
rx.on('message', (msg) => {
  forwarded++;
  tx.send(msg, onSent);
});
tx.on('error', () => sendErrors++);
tx.connect(toPort, '127.0.0.1', () => {
  rx.bind(inPort, '127.0.0.1', () => process.stdout.write('{"event":"listening"}\n'));
});
const stop = () => {
  process.stdout.write(`${JSON.stringify({ event: 'final', forwarded, sendErrors })}\n`);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
