/**
 * Pieces shared by the `sluice` commands: output sinks, usage errors, the connection flags,
 * opening a connection in caller or listener mode, stop signals, JSON statistics lines.
 */
import { SluiceRangeError, SluiceTypeError } from '../core/errors.js';
import type { ConnectionStats } from '../core/connection/stats.js';
import { PARAM_FLAGS, URL_PARAMS } from './url.js';

/** Where a command writes its messages, and how a test stops it (defaults: the process's). */
export interface CommandIo {
  /** Normal output (help text). Default: process.stdout. */
  readonly stdout?: (line: string) => void;
  /** JSON lines and error messages. Default: process.stderr. */
  readonly stderr?: (line: string) => void;
  /** Aborting it stops the command like SIGINT does. */
  readonly signal?: AbortSignal;
  /** Environment (for SLUICE_KEY). Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Exit codes: 0 done, 1 runtime failure, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A usage error (bad flag, bad URL): printed with a help hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** True for the errors that mean "the command line is wrong". */
export function isUsageError(e: unknown): boolean {
  if (e instanceof UsageError || e instanceof SluiceRangeError || e instanceof SluiceTypeError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** The resolved writers of a {@link CommandIo}. */
export function writers(io: CommandIo): { out: (line: string) => void; err: (line: string) => void } {
  return {
    out: io.stdout ?? ((line: string) => void process.stdout.write(line + '\n')),
    err: io.stderr ?? ((line: string) => void process.stderr.write(line + '\n')),
  };
}

/** parseArgs option table of the connection flags (`--key`, `--latency`, ...). */
export function connectionFlagTable(): Record<string, { type: 'string' }> {
  const t: Record<string, { type: 'string' }> = {};
  for (const p of URL_PARAMS) t[PARAM_FLAGS[p]] = { type: 'string' };
  return t;
}

/** The help block describing the connection flags (shared by send and recv). */
export const CONNECTION_FLAGS_HELP = `Connection (each is also a sluice URL parameter: sluice://HOST:PORT?latency=200&fec=off):
  --key KEY             pre-shared key, 16+ bytes (or key=... in the URL, or SLUICE_KEY in the env)
  --mode MODE           caller (dial HOST:PORT) or listener (bind HOST:PORT and wait)
  --latency MS          receiver latency budget, 20..60000 (default 120): frames come out this
                        long after they were sent, and loss must be repaired within it
  --fec W,S,R|off       FEC: window W, R repairs every S packets (default by rate and
                        latency: 128,64,2 at 20 Mbit/s and 120 ms, 64,32,1 at 10 Mbit/s)
  --fec-min-loss P      send repairs only while the measured forward loss is at least P
                        (off again under 0.6 x P; 0: always; default 5%, or 0 with --fec)
  --arq 1|0             selective retransmission (default 1)
  --auth hmac|aead      authenticate (hmac, default) or also encrypt payloads (aead)
  --maxrate RATE        pacing ceiling, e.g. 20mbit (default 1gbit)
  --rate RATE           expected stream rate; sizes the buffers (default 20mbit)
  --maxframe BYTES      largest frame, e.g. 1m (default 8m)
  --max-datagram BYTES  largest datagram, 1200..65507 (default 1400)`;

/** The key-free subset of a flag table parse result. */
export function stringFlags(values: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * Parses an integer flag. @throws UsageError naming the flag and the range.
 */
export function intFlag(name: string, text: string | undefined, def: number, min: number, max: number): number {
  if (text === undefined) return def;
  const t = text.trim();
  if (!/^[0-9]+$/.test(t) || Number(t) < min || Number(t) > max) {
    throw new UsageError(`${name}: expected an integer in [${min}, ${max}], got "${text}"`);
  }
  return Number(t);
}

/**
 * A one-shot stop signal: SIGINT, SIGTERM and `io.signal` all resolve `stopped`. `dispose()`
 * removes the process listeners.
 */
export class StopSignal {
  /** Resolves with the reason once a stop was requested. */
  readonly stopped: Promise<string>;
  private _reason: string | null = null;
  private _resolve: (r: string) => void = () => {};
  private readonly _onSigint: () => void;
  private readonly _onSigterm: () => void;
  private readonly _onAbort: () => void;
  private readonly _signal: AbortSignal | undefined;

  constructor(signal?: AbortSignal) {
    this.stopped = new Promise<string>((r) => (this._resolve = r));
    this._onSigint = () => this.stop('SIGINT');
    this._onSigterm = () => this.stop('SIGTERM');
    this._onAbort = () => this.stop('aborted');
    this._signal = signal;
    process.on('SIGINT', this._onSigint);
    process.on('SIGTERM', this._onSigterm);
    signal?.addEventListener('abort', this._onAbort, { once: true });
    if (signal?.aborted) this.stop('aborted');
  }

  /** The reason, or null while running. */
  get reason(): string | null {
    return this._reason;
  }

  /** Requests a stop (idempotent). */
  stop(reason: string): void {
    if (this._reason !== null) return;
    this._reason = reason;
    this._resolve(reason);
  }

  dispose(): void {
    process.off('SIGINT', this._onSigint);
    process.off('SIGTERM', this._onSigterm);
    this._signal?.removeEventListener('abort', this._onAbort);
  }
}

/** A compact statistics record for JSON lines (the full ConnectionStats, timestamps added). */
export function statsLine(event: string, extra: Record<string, unknown>, stats: ConnectionStats | null): string {
  return JSON.stringify({ event, time: new Date().toISOString(), ...extra, ...(stats === null ? {} : { stats }) });
}

/** Waits `ms` (unref'd: never keeps the process alive by itself). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** `code: message` of an error, for the one-line failure message. */
export function describeError(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' ? `${code}: ${msg}` : msg;
}

/**
 * Parses a command's arguments the same way for every command: `--help` prints `help` and exits
 * 0, a usage error prints the message and a hint and exits 2, anything else is a bug and throws.
 * Returns the parsed arguments, or the exit code to return.
 */
export function parseOrExit<T>(
  command: string,
  help: string,
  parse: () => T | { help: true },
  out: (line: string) => void,
  err: (line: string) => void,
): { args: T } | { exit: number } {
  try {
    const p = parse();
    if ((p as { help?: unknown }).help === true) {
      out(help);
      return { exit: EXIT_OK };
    }
    return { args: p as T };
  } catch (e) {
    if (!isUsageError(e)) throw e;
    err(`sluice ${command}: ${(e as Error).message}`);
    err(`Try "sluice ${command} --help".`);
    return { exit: EXIT_USAGE };
  }
}

/**
 * The exit of a command that failed: a usage error (found late, e.g. a bad input spec) exits 2
 * with its message, anything else exits 1 with a described error.
 */
export function failureExit(command: string, e: unknown, err: (line: string) => void): number {
  if (isUsageError(e)) {
    err(`sluice ${command}: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  err(`sluice ${command}: ${describeError(e)}`);
  return EXIT_FAILURE;
}

