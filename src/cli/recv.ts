/**
 * `sluice recv <sluice-url> <output>`: receives frames over sluice and writes them to UDP
 * (one datagram per frame), a file or stdout. A listener by default: it serves one sender at a
 * time (a new caller is accepted once the previous one has closed; one arriving while a sender
 * is active is closed at once) and keeps running until a signal, or until the first sender
 * leaves with `--once`. With `mode=caller` it dials the sender and stops when it closes.
 *
 * JSON lines on stderr: `listening`, `connected`, `rejected` (a wrong key shows up here),
 * `busy`, `disconnected`, `stats` every `--stats-interval` ms, and `final`, then exit code 0.
 */
import { parseArgs } from 'node:util';
import { MemoryAccountant } from '../core/memory/accountant.js';
import type { Frame, FrameLoss, SluiceConnection, SluiceServer, CloseInfo } from '../io/api.js';
import type { ConnectionStats } from '../core/connection/stats.js';
import {
  CONNECTION_FLAGS_HELP,
  EXIT_OK,
  StopSignal,
  UsageError,
  connectionFlagTable,
  intFlag,
  stringFlags,
  failureExit,
  parseOrExit,
  writers,
  type CommandIo,
} from './common.js';
import { openOutput, parseMediaSpec, type FrameOutput, type MediaSpec } from './media-io.js';
import { bindListener, dial } from './session.js';
import { formatAddress, resolveTarget, type ResolvedTarget } from './url.js';

/** The `--help` text of `sluice recv`. */
export const RECV_HELP = `Usage: sluice recv <sluice-url> <output> [options]

Receives a stream over sluice and writes each frame out. A listener by default: it binds the
URL's address (sluice://:9000 binds every interface) and serves one sender at a time, until
SIGINT/SIGTERM (or until the first sender leaves, with --once). mode=caller dials a sender
started with mode=listener and stops when it closes.

Output:
  udp://HOST:PORT       send each frame as one datagram (e.g. to ffplay udp://127.0.0.1:5004)
  file:PATH             write the frames back to back (created or truncated)
  -                     write to stdout

Options:
  --once                stop after the first sender closes
  --stats-interval MS   print statistics as JSON lines on stderr every MS ms
  -h, --help            this text

${CONNECTION_FLAGS_HELP}

Examples:
  sluice recv "sluice://:9000?key=$KEY" udp://127.0.0.1:5004
  SLUICE_KEY=0123456789abcdef sluice recv sluice://127.0.0.1:9000 file:out.ts --once
  sluice recv "sluice://127.0.0.1:9000?key=$KEY&latency=300" - | ffplay -
  sluice recv "sluice://203.0.113.7:9000?mode=caller&key=$KEY" udp://127.0.0.1:5004
`;

interface RecvArgs {
  readonly output: MediaSpec;
  readonly target: ResolvedTarget;
  readonly statsIntervalMs: number;
  readonly once: boolean;
}

/** Parses `sluice recv` arguments (exported for tests). @throws UsageError / SluiceRangeError. */
export function parseRecvArgs(argv: string[], env: Readonly<Record<string, string | undefined>>): { help: true } | ({ help: false } & RecvArgs) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      once: { type: 'boolean' },
      'stats-interval': { type: 'string' },
      ...connectionFlagTable(),
    },
  });
  if (values.help === true) return { help: true };
  if (positionals.length !== 2) {
    throw new UsageError(`expected <sluice-url> <output>, got ${positionals.length} argument(s)${positionals.length > 2 ? `: unexpected "${positionals[2]}"` : ''}`);
  }
  const s = stringFlags(values);
  const target = resolveTarget(positionals[0]!, s, env, 'listener');
  const output = parseMediaSpec('output', positionals[1]!);
  return {
    help: false,
    output,
    target,
    statsIntervalMs: intFlag('--stats-interval', s['stats-interval'], 0, 10, 86_400_000),
    once: values.once === true,
  };
}

/**
 * Runs `sluice recv` with `argv` (the arguments after `recv`). Resolves with the exit code.
 * @example process.exitCode = await recvCommand(['sluice://:9000?key=0123456789abcdef', 'file:out.ts', '--once']);
 */
export async function recvCommand(argv: string[], io: CommandIo = {}): Promise<number> {
  const { out, err } = writers(io);
  const log = (r: Record<string, unknown>): void => err(JSON.stringify({ ...r, time: new Date().toISOString() }));
  const parsed = parseOrExit<RecvArgs>('recv', RECV_HELP, () => parseRecvArgs(argv, io.env ?? process.env), out, err);
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.args;

  const accountant = new MemoryAccountant();
  const stop = new StopSignal(io.signal);
  let output: FrameOutput | null = null;
  let server: SluiceServer | null = null;
  let current: SluiceConnection | null = null;
  let statsTimer: NodeJS.Timeout | null = null;
  const totals = { connections: 0, framesLost: 0, lostSequences: 0 };
  let lastStats: ConnectionStats | null = null;
  try {
    output = await openOutput(args.output);
    const o = output;
    const onFrame = (f: Frame): void => o.write(f.data);
    const onLost = (l: FrameLoss): void => {
      totals.framesLost++;
      totals.lostSequences += l.count;
    };
    /** Serves one connection; resolves when it closes. */
    const serve = (c: SluiceConnection): Promise<CloseInfo> => {
      current = c;
      totals.connections++;
      log({ event: 'connected', peer: formatAddress(c.remoteAddress, c.remotePort) });
      c.on('frame', onFrame);
      c.on('frame-lost', onLost);
      return new Promise<CloseInfo>((resolve) => {
        const onClose = (info: CloseInfo): void => {
          lastStats = c.stats();
          c.off('frame', onFrame);
          c.off('frame-lost', onLost);
          if (current === c) current = null;
          log({ event: 'disconnected', peer: formatAddress(c.remoteAddress, c.remotePort), byPeer: info.byPeer, message: info.message, output: o.counters });
          resolve(info);
        };
        // A caller's connection can close in the handshake's own turn, before this runs.
        if (c.closed) onClose({ reason: 0, message: 'closed right after the handshake', byPeer: true });
        else c.once('close', onClose);
      });
    };
    if (args.statsIntervalMs > 0) {
      statsTimer = setInterval(() => {
        const c = current as SluiceConnection | null;
        log({ event: 'stats', output: o.counters, totals, stats: c === null ? null : c.stats() });
      }, args.statsIntervalMs);
    }

    let reason: string;
    if (args.target.mode === 'caller') {
      const c = await dial(args.target, accountant, stop);
      if (c === null) reason = stop.reason ?? 'stopped';
      else {
        const closed = serve(c);
        reason = await Promise.race([closed.then((i) => (i.byPeer ? 'closed by peer' : 'closed')), stop.stopped]);
      }
    } else {
      const srv = await bindListener(args.target, accountant, log);
      server = srv;
      reason = await new Promise<string>((resolve) => {
        srv.on('connection', (c: SluiceConnection) => {
          if (current !== null && !current.closed) {
            log({ event: 'busy', peer: formatAddress(c.remoteAddress, c.remotePort), serving: formatAddress(current.remoteAddress, current.remotePort) });
            void c.close(0);
            return;
          }
          void serve(c).then(() => {
            if (args.once) resolve('sender closed (--once)');
          });
        });
        void stop.stopped.then(resolve);
      });
    }
    const c = current as SluiceConnection | null;
    if (c !== null) {
      lastStats = c.stats();
      await c.close();
    }
    if (statsTimer !== null) clearInterval(statsTimer);
    statsTimer = null;
    if (server !== null) await server.close();
    server = null;
    await o.close();
    output = null;
    log({ event: 'final', reason, output: o.counters, totals, stats: lastStats });
    return EXIT_OK;
  } catch (e) {
    return failureExit('recv', e, err);
  } finally {
    if (statsTimer !== null) clearInterval(statsTimer);
    stop.dispose();
    const c = current as SluiceConnection | null;
    if (c !== null && !c.closed) c.destroy();
    if (server !== null) await server.close().catch(() => undefined);
    if (output !== null) await output.close().catch(() => undefined);
  }
}
