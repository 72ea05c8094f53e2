/**
 * `sluice send <input> <sluice-url>`: reads frames from UDP datagrams, a file or stdin and sends
 * them over a sluice connection (a caller by default; `mode=listener` waits for the receiver).
 *
 * Output is JSON lines on stderr: `connected`, `stats` every `--stats-interval` ms, `final` when
 * it stops (end of input, SIGINT, SIGTERM), then exit code 0. A failure prints
 * `sluice send: CODE: message` and exits 1 (also `ERR_SLUICE_PEER_CLOSED` after `final` when the
 * receiver closes first, e.g. a listener busy with another sender); a usage error exits 2.
 */
import { parseArgs } from 'node:util';
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { MemoryAccountant } from '../core/memory/accountant.js';
import { DEFAULT_EXPECTED_RATE_BPS, DEFAULT_LATENCY_MS, DEFAULT_MAX_RATE_BPS } from '../core/connection/options.js';
import { parseRateBps } from '../core/link-model.js';
import type { CloseInfo, SluiceConnection, SluiceServer } from '../io/api.js';
import {
  CONNECTION_FLAGS_HELP,
  EXIT_FAILURE,
  EXIT_OK,
  StopSignal,
  UsageError,
  connectionFlagTable,
  describeError,
  intFlag,
  sleep,
  stringFlags,
  failureExit,
  parseOrExit,
  writers,
  type CommandIo,
} from './common.js';
import { bindUdp, chunked, openStreamInput, parseMediaSpec, type MediaSpec } from './media-io.js';
import { bindListener, dial, linger, nextConnection } from './session.js';
import { formatAddress, resolveTarget, type ResolvedTarget } from './url.js';

/** Frames are queued by reference (dgram hands out a fresh Buffer per datagram; chunks are fresh too). */
const NO_COPY = Object.freeze({ copy: false });

/** Default chunk for byte-stream inputs: 7 MPEG-TS packets (1316 bytes), what UDP TS carries. */
export const DEFAULT_CHUNK_BYTES = 1316;

/** The `--help` text of `sluice send`. */
export const SEND_HELP = `Usage: sluice send <input> <sluice-url> [options]

Sends a stream over sluice. Each UDP datagram of the input becomes one frame and comes out of
"sluice recv" as one datagram of the same bytes; a file or stdin is cut into frames of --chunk
bytes. A caller by default; mode=listener binds the URL's address, waits for a receiver and
streams to it (the command ends when that receiver leaves).

Input:
  udp://HOST:PORT       bind HOST:PORT and read datagrams (e.g. ffmpeg ... -f mpegts udp://HOST:PORT)
  file:PATH             read a file, then close the connection and exit
  -                     read stdin until it ends

Options:
  --chunk BYTES         frame size for file/stdin input (default ${DEFAULT_CHUNK_BYTES} = 7 TS packets)
  --stats-interval MS   print statistics as JSON lines on stderr every MS ms
  --pace RATE|off       read file/stdin input no faster than RATE (default: the smaller of
                        --rate and 2/3 of --maxrate, so 20mbit): frames are stamped when read,
                        and a frame that waits in the send queue eats into the latency budget
  --linger MS           at the end of input, wait at most MS for the receiver to confirm
                        everything before closing (default 5000)
  -h, --help            this text

${CONNECTION_FLAGS_HELP}

Examples:
  sluice send udp://127.0.0.1:5000 "sluice://203.0.113.7:9000?latency=200" --key "$KEY"
  SLUICE_KEY=0123456789abcdef sluice send file:movie.ts sluice://127.0.0.1:9000 --maxrate 20mbit
  ffmpeg -re -i in.mp4 -c copy -f mpegts - | sluice send - sluice://127.0.0.1:9000 --key "$KEY"
  sluice send udp://127.0.0.1:5000 "sluice://0.0.0.0:9000?mode=listener&key=$KEY&fec=32,16,2"
`;

interface SendArgs {
  readonly input: MediaSpec;
  readonly target: ResolvedTarget;
  readonly chunk: number;
  readonly statsIntervalMs: number;
  readonly lingerMs: number;
  /** Read pace for byte-stream inputs, bits/s; 0 = unpaced. */
  readonly paceBps: number;
}

/** Parses `sluice send` arguments (exported for tests). @throws UsageError / SluiceRangeError. */
export function parseSendArgs(argv: string[], env: Readonly<Record<string, string | undefined>>): { help: true } | ({ help: false } & SendArgs) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      chunk: { type: 'string' },
      'stats-interval': { type: 'string' },
      linger: { type: 'string' },
      pace: { type: 'string' },
      ...connectionFlagTable(),
    },
  });
  if (values.help === true) return { help: true };
  if (positionals.length !== 2) {
    throw new UsageError(`expected <input> <sluice-url>, got ${positionals.length} argument(s)${positionals.length > 2 ? `: unexpected "${positionals[2]}"` : ''}`);
  }
  const input = parseMediaSpec('input', positionals[0]!);
  const target = resolveTarget(positionals[1]!, stringFlags(values), env, 'caller');
  const s = stringFlags(values);
  // Leave the pacer a third of --maxrate for headers, FEC repairs and retransmissions: a
  // stream paced at the ceiling itself queues up behind them and arrives past its deadline.
  let paceBps = Math.min(target.options.expectedRateBps ?? DEFAULT_EXPECTED_RATE_BPS, (target.options.maxRateBps ?? DEFAULT_MAX_RATE_BPS) / 1.5);
  if (s.pace !== undefined) {
    paceBps = parseRateBps('--pace', s.pace);
    if (paceBps !== 0 && paceBps < 8_000) throw new UsageError(`--pace: expected a rate of at least 8kbit or off, got "${s.pace}"`);
  }
  return {
    paceBps,
    help: false,
    input,
    target,
    chunk: intFlag('--chunk', s.chunk, DEFAULT_CHUNK_BYTES, 1, 64 * 1024 * 1024),
    statsIntervalMs: intFlag('--stats-interval', s['stats-interval'], 0, 10, 86_400_000),
    lingerMs: intFlag('--linger', s.linger, 5000, 0, 600_000),
  };
}

/**
 * Runs `sluice send` with `argv` (the arguments after `send`). Resolves with the exit code.
 * @example process.exitCode = await sendCommand(['file:a.ts', 'sluice://127.0.0.1:9000?key=0123456789abcdef']);
 */
export async function sendCommand(argv: string[], io: CommandIo = {}): Promise<number> {
  const { out, err } = writers(io);
  const log = (r: Record<string, unknown>): void => err(JSON.stringify({ ...r, time: new Date().toISOString() }));
  const parsed = parseOrExit<SendArgs>('send', SEND_HELP, () => parseSendArgs(argv, io.env ?? process.env), out, err);
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.args;

  const accountant = new MemoryAccountant();
  const stop = new StopSignal(io.signal);
  let udp: dgram.Socket | null = null;
  let server: SluiceServer | null = null;
  let conn: SluiceConnection | null = null;
  let statsTimer: NodeJS.Timeout | null = null;
  const input = { frames: 0, bytes: 0, dropped: 0, beforeConnect: 0 };
  let closeStream: (() => Promise<void>) | null = null;
  try {
    // Open the input first: a bad input fails before anyone is dialled.
    let stream: AsyncIterable<Uint8Array> | null = null;
    if (args.input.kind === 'udp') {
      udp = await bindUdp('input', args.input.address);
      udp.on('message', (msg: Buffer) => {
        if (conn === null || conn.closed) {
          input.beforeConnect++;
          return;
        }
        input.frames++;
        input.bytes += msg.length;
        try {
          // dgram hands out a fresh Buffer per datagram: no copy needed.
          conn.send(msg, NO_COPY);
        } catch {
          input.dropped++;
        }
      });
      const a = udp.address();
      log({ event: 'input', input: `udp://${formatAddress(a.address, a.port)}` });
    } else {
      const si = await openStreamInput(args.input);
      closeStream = si.close;
      stream = chunked(si.stream, args.chunk);
    }

    if (args.target.mode === 'caller') {
      conn = await dial(args.target, accountant, stop);
    } else {
      server = await bindListener(args.target, accountant, log);
      conn = await nextConnection(server, stop);
    }
    if (conn === null) {
      log({ event: 'final', reason: stop.reason, input });
      return EXIT_OK;
    }
    const c = conn;
    log({ event: 'connected', mode: args.target.mode, peer: formatAddress(c.remoteAddress, c.remotePort) });
    if (args.statsIntervalMs > 0) {
      statsTimer = setInterval(() => log({ event: 'stats', input, stats: c.stats() }), args.statsIntervalMs);
    }
    let byPeer = false;
    let closeInfo: CloseInfo | null = null;
    const peerClosed = new Promise<string>((r) => {
      if (c.closed) {
        // Closed in the same turn as the handshake (a busy listener accepts and closes at
        // once), before this listener could be attached: nobody here closed it.
        byPeer = true;
        r('closed by the receiver right after the handshake');
        return;
      }
      c.once('close', (info: CloseInfo) => {
        closeInfo = info;
        byPeer = info.byPeer;
        r(info.byPeer ? `closed by the receiver (${info.message})` : 'closed');
      });
    });

    let reason: string;
    if (stream !== null) {
      const pump = (async (): Promise<string> => {
        // Token-bucket pacing of the reads: frame k may go once its bytes fit the pace.
        const t0 = performance.now();
        let paced = 0;
        for await (const frame of stream) {
          if (stop.reason !== null) return stop.reason;
          if (c.closed) return 'closed';
          if (args.paceBps > 0) {
            const due = t0 + (paced * 8 * 1000) / args.paceBps;
            const ahead = due - performance.now();
            if (ahead > 2) await sleep(ahead);
            paced += frame.length;
          }
          input.frames++;
          input.bytes += frame.length;
          await c.write(frame, NO_COPY);
        }
        return 'end of input';
      })().catch((e: unknown) => (c.closed ? 'closed' : `input error: ${describeError(e)}`));
      reason = await Promise.race([pump, stop.stopped, peerClosed]);
    } else {
      reason = await Promise.race([stop.stopped, peerClosed]);
    }
    if (!c.closed) {
      await linger(c, args.target.options.latencyMs ?? DEFAULT_LATENCY_MS, stop.reason === null || reason === 'end of input' ? args.lingerMs : Math.min(args.lingerMs, 1000));
    }
    const finalStats = c.stats();
    if (!c.closed) await c.close();
    if (statsTimer !== null) clearInterval(statsTimer);
    statsTimer = null;
    if (server !== null) await server.close();
    server = null;
    log({ event: 'final', reason, input, close: closeInfo, stats: finalStats });
    if (byPeer && stop.reason === null) {
      // The receiver went away before we closed (or refused us: a listener serving another
      // sender closes at once), so what it received cannot be confirmed.
      err(`sluice send: ERR_SLUICE_PEER_CLOSED: the receiver closed the connection${reason === 'end of input' ? ' before confirming the end of the input' : ''}`);
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  } catch (e) {
    return failureExit('send', e, err);
  } finally {
    if (statsTimer !== null) clearInterval(statsTimer);
    stop.dispose();
    if (udp !== null) udp.close();
    if (closeStream !== null) await closeStream();
    if (conn !== null && !conn.closed) conn.destroy();
    if (server !== null) await server.close().catch(() => undefined);
  }
}
