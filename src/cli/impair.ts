/**
 * `sluice impair`: the seeded link model as a two-way UDP relay, for anyone to test their own
 * setup (issue 6). Thin: parses flags into {@link ImpairRelayOptions}, runs an
 * {@link ImpairRelay}, prints JSON lines on stderr.
 *
 * Output (stderr, one JSON object per line): `{"event":"listening",...}` once bound,
 * `{"event":"stats",...}` every `--stats-interval` ms, and `{"event":"final",...}` when it stops
 * (SIGINT, SIGTERM or the end of `--duration`), then exit code 0. Usage errors print a message
 * naming the flag and return 2; a runtime error (port in use) returns 1.
 */
import { parseArgs } from 'node:util';
import { SluiceRangeError, SluiceTypeError } from '../core/errors.js';
import {
  formatImpairment,
  parseBurst,
  parseBytes,
  parseDurationMs,
  parseImpairment,
  parseOutages,
  parseProbability,
  parseRateBps,
  type ImpairmentOptions,
  type OutageOptions,
} from '../core/link-model.js';
import { ImpairRelay, parseUdpAddress, type ImpairRelayOptions } from '../io/impair-relay.js';

/** Where the command writes, and how it can be stopped (tests pass their own). */
export interface ImpairCommandIo {
  /** Receives each line of normal output (help). Default: process.stdout. */
  readonly stdout?: (line: string) => void;
  /** Receives each JSON line and error message. Default: process.stderr. */
  readonly stderr?: (line: string) => void;
  /** Stops the relay like SIGINT does. */
  readonly signal?: AbortSignal;
  /** Called with the bound listen port once the relay runs (tests use port 0). */
  readonly onListening?: (port: number) => void;
}

/** The `--help` text. */
export const IMPAIR_HELP = `Usage: sluice impair --listen udp://HOST:PORT --to udp://HOST:PORT [options]

Relays UDP datagrams from clients at --listen to --to, and replies back to the last client,
through a seeded impairment model (the same one sluice's tests use). Statistics are JSON lines
on stderr. Stops on SIGINT/SIGTERM or after --duration, printing a final statistics line.

Impairment (client -> target; replies get the same with an independent seed unless --reverse):
  --loss PCT            random (Bernoulli) loss in percent: 5 or 5%
  --burst P,R[,H]       Gilbert-Elliott bursts: P = P(good->bad), R = P(bad->good) per packet
                        (fractions or %), H = loss in the bad state (default 1). Mean burst 1/R.
  --delay MS            one-way delay (20, 20ms, 1.5s)
  --jitter MS           extra delay, uniform in [0, MS); reorders close packets unless --fifo
  --fifo                jitter never reorders
  --reorder PCT         percent of datagrams held back by --reorder-delay (default 20 ms)
  --reorder-delay MS
  --dup PCT             duplicated datagrams, percent
  --rate RATE           bottleneck rate: 20mbit, 500kbit, 1gbit (default unlimited)
  --queue BYTES         bottleneck drop-tail queue: 64k (default), 1m
  --outage AT:DUR       no delivery for DUR from AT after start (5s:1s); repeatable
  --seed N              PRNG seed (default 1): the same seed gives the same impairment
  --impair SPEC         all of the above as one string, e.g. loss=5%,delay=20,rate=20mbit
                        (flags given as well override it)
  --reverse SPEC        impairment of the reply direction: a SPEC, "same" (default) or "none"

Relay:
  --duration SECONDS    stop after this long (30, 30s, 500ms); default: until a signal
  --stats-interval MS   print statistics every MS milliseconds (default: only at the end)
  --max-datagram BYTES  longest datagram relayed (default 1500; longer ones are counted, dropped)
  --capacity N          datagrams held in flight per direction (default 2048)
  --allow-non-loopback  allow a --to address that is not on this machine
  -h, --help            this text

Examples:
  sluice impair --listen udp://127.0.0.1:6000 --to udp://127.0.0.1:5000 --loss 5 --delay 20
  sluice impair --listen udp://127.0.0.1:6000 --to udp://127.0.0.1:5000 \\
      --burst 0.01,0.1 --delay 20 --jitter 5 --rate 10mbit --seed 7 --duration 60 --stats-interval 1000
  sluice impair --listen udp://[::1]:6000 --to udp://[::1]:5000 --impair loss=10%,dup=1%,reorder=1%
`;

/** A usage error: message shown with the help hint, exit code 2. */
class _UsageError extends Error {}

function _parseDurationSeconds(name: string, text: string): number {
  // A bare number is seconds here (`--duration 30`); with a unit, the unit.
  if (/^\s*[0-9]*\.?[0-9]+\s*$/.test(text)) return parseDurationMs(name, `${text.trim()}s`);
  return parseDurationMs(name, text);
}

function _int(name: string, text: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text.trim())) throw new SluiceRangeError(`${name}: expected an integer in [${min}, ${max}], got "${text}"`);
  const v = Number(text);
  if (v < min || v > max) throw new SluiceRangeError(`${name}: expected an integer in [${min}, ${max}], got "${text}"`);
  return v;
}

/** Parses the flags into relay options (exported for tests). @throws on a bad flag. */
export function parseImpairArgs(argv: string[]): { help: true } | { help: false; options: ImpairRelayOptions; statsIntervalMs: number } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      listen: { type: 'string' },
      to: { type: 'string' },
      loss: { type: 'string' },
      burst: { type: 'string' },
      delay: { type: 'string' },
      jitter: { type: 'string' },
      fifo: { type: 'boolean' },
      reorder: { type: 'string' },
      'reorder-delay': { type: 'string' },
      dup: { type: 'string' },
      rate: { type: 'string' },
      queue: { type: 'string' },
      outage: { type: 'string', multiple: true },
      seed: { type: 'string' },
      impair: { type: 'string' },
      reverse: { type: 'string' },
      duration: { type: 'string' },
      'stats-interval': { type: 'string' },
      'max-datagram': { type: 'string' },
      capacity: { type: 'string' },
      'allow-non-loopback': { type: 'boolean' },
    },
  });
  if (values.help) return { help: true };
  if (positionals.length > 0) throw new _UsageError(`unexpected argument "${positionals[0]}"`);
  if (values.listen === undefined) throw new _UsageError('--listen udp://HOST:PORT is required');
  if (values.to === undefined) throw new _UsageError('--to udp://HOST:PORT is required');
  const listen = parseUdpAddress('--listen', values.listen);
  const target = parseUdpAddress('--to', values.to);

  const base: ImpairmentOptions = values.impair !== undefined ? parseImpairment(values.impair) : {};
  const o: { -readonly [K in keyof ImpairmentOptions]: ImpairmentOptions[K] } = { ...base };
  if (values.loss !== undefined) o.loss = parseProbability('--loss', values.loss, 'percent');
  if (values.burst !== undefined) o.burst = parseBurst('--burst', values.burst);
  if (values.delay !== undefined) o.delayMs = parseDurationMs('--delay', values.delay);
  if (values.jitter !== undefined) o.jitterMs = parseDurationMs('--jitter', values.jitter);
  if (values.fifo) o.preserveOrder = true;
  if (values.reorder !== undefined) o.reorder = parseProbability('--reorder', values.reorder, 'percent');
  if (values['reorder-delay'] !== undefined) o.reorderDelayMs = parseDurationMs('--reorder-delay', values['reorder-delay']);
  if (values.dup !== undefined) o.duplicate = parseProbability('--dup', values.dup, 'percent');
  if (values.rate !== undefined) o.rateBps = parseRateBps('--rate', values.rate);
  if (values.queue !== undefined) o.queueBytes = parseBytes('--queue', values.queue);
  if (values.outage !== undefined) {
    const all: OutageOptions[] = [];
    for (const x of values.outage) all.push(...parseOutages('--outage', x));
    o.outages = all;
  }
  if (values.seed !== undefined) o.seed = _int('--seed', values.seed, 0, 0xffff_ffff);

  let reverse: ImpairmentOptions | null | undefined;
  const rv = values.reverse?.trim().toLowerCase();
  if (rv === undefined || rv === 'same') reverse = undefined;
  else if (rv === 'none') reverse = null;
  else reverse = parseImpairment(values.reverse as string);

  const options: { -readonly [K in keyof ImpairRelayOptions]: ImpairRelayOptions[K] } = {
    listen,
    target,
    impairment: o,
    reverse,
    allowNonLoopback: values['allow-non-loopback'] === true,
  };
  if (values.duration !== undefined) {
    const ms = _parseDurationSeconds('--duration', values.duration);
    if (ms <= 0) throw new SluiceRangeError(`--duration: expected more than 0, got "${values.duration}"`);
    options.durationMs = ms;
  }
  if (values['max-datagram'] !== undefined) options.maxDatagram = _int('--max-datagram', values['max-datagram'], 1, 65507);
  if (values.capacity !== undefined) options.capacity = _int('--capacity', values.capacity, 1, 1 << 20);
  const statsIntervalMs =
    values['stats-interval'] !== undefined ? _int('--stats-interval', values['stats-interval'], 10, 86_400_000) : 0;
  return { help: false, options, statsIntervalMs };
}

function _url(a: { host: string; port: number }): string {
  return `udp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/**
 * Runs `sluice impair` with `argv` (the arguments after `impair`). Resolves with the exit code:
 * 0 after a normal stop (SIGINT, SIGTERM, `--duration`, `io.signal`) or `--help`; 2 on a usage
 * error; 1 on a runtime error (e.g. the listen port is in use).
 * @example process.exitCode = await impairCommand(process.argv.slice(3));
 */
export async function impairCommand(argv: string[], io: ImpairCommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((line: string) => void process.stdout.write(line + '\n'));
  const err = io.stderr ?? ((line: string) => void process.stderr.write(line + '\n'));
  let parsed: ReturnType<typeof parseImpairArgs>;
  let relay: ImpairRelay;
  try {
    parsed = parseImpairArgs(argv);
    if (parsed.help) {
      out(IMPAIR_HELP);
      return 0;
    }
    relay = new ImpairRelay(parsed.options);
  } catch (e) {
    if (e instanceof _UsageError || e instanceof SluiceRangeError || e instanceof SluiceTypeError || _isParseArgsError(e)) {
      err(`sluice impair: ${(e as Error).message}`);
      err('Try "sluice impair --help".');
      return 2;
    }
    throw e;
  }

  const { options, statsIntervalMs } = parsed;
  try {
    await relay.start();
  } catch (e) {
    const code = (e as { code?: string }).code;
    const where = _url(options.listen as { host: string; port: number });
    const msg = code === 'EADDRINUSE' ? `${where} is already in use` : code === 'EADDRNOTAVAIL' ? `${where} is not an address of this machine` : (e as Error).message;
    err(`sluice impair: cannot listen on ${where}: ${msg}`);
    return 1;
  }

  const bound = relay.address();
  const fwdSpec = formatImpairment(options.impairment ?? {});
  const revSpec = options.reverse === null ? 'none' : options.reverse === undefined ? 'same (independent seed)' : formatImpairment(options.reverse);
  err(
    JSON.stringify({
      event: 'listening',
      listen: _url(bound),
      to: _url(options.target as { host: string; port: number }),
      forward: fwdSpec,
      reverse: revSpec,
      durationMs: options.durationMs ?? null,
    }),
  );
  io.onListening?.(bound.port);

  const stop = (): void => void relay.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  io.signal?.addEventListener('abort', stop, { once: true });
  if (io.signal?.aborted) stop();
  const timer = statsIntervalMs > 0 ? setInterval(() => err(JSON.stringify({ event: 'stats', ...relay.stats() })), statsIntervalMs) : null;
  try {
    const reason = await relay.closed;
    err(JSON.stringify({ event: 'final', reason, ...relay.stats() }));
    return 0;
  } finally {
    if (timer !== null) clearInterval(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    io.signal?.removeEventListener('abort', stop);
  }
}

function _isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
