/**
 * Runs the `sluice` CLI as a child process (`node --import tsx src/cli/main.ts ...`) and reads
 * its JSON lines from stderr. Every child started is tracked; `killAll()` ends the ones still
 * running (by their own pid) so a failing test leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A running CLI child. */
export interface CliChild {
  readonly proc: ChildProcess;
  /** stderr lines so far. */
  readonly lines: string[];
  /** stdout bytes so far. */
  readonly stdout: Buffer[];
  /** Resolves with the exit code (signal exits give 128 + n style codes as null -> -1). */
  readonly exited: Promise<number>;
  /** Waits for a JSON line on stderr matching `pred` (rejects after `timeoutMs` with the log). */
  waitJson(pred: (o: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Parsed JSON lines of stderr. */
  json(): Array<Record<string, unknown>>;
  /** All of stderr. */
  text(): string;
}

const children = new Set<ChildProcess>();

function tryJson(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Starts `sluice <args>`. */
export function sluice(args: string[], env: Record<string, string> = {}): CliChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(proc);
  const lines: string[] = [];
  const stdout: Buffer[] = [];
  let partial = '';
  const waiters: Array<() => void> = [];
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  proc.stdout!.on('data', (d: Buffer) => stdout.push(d));
  const exited = new Promise<number>((resolve) => {
    proc.once('exit', (code) => {
      children.delete(proc);
      if (partial !== '') lines.push(partial);
      partial = '';
      for (const w of waiters.splice(0)) w();
      resolve(code ?? -1);
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const child: CliChild = {
    proc,
    lines,
    stdout,
    exited,
    json: () => lines.map(tryJson).filter((x): x is Record<string, unknown> => x !== null),
    text: () => lines.join('\n'),
    waitJson(pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for a JSON line from sluice ${args[0]}; stderr:\n${lines.join('\n')}`)), timeoutMs);
        const check = (): void => {
          for (const l of lines) {
            const o = tryJson(l);
            if (o !== null && pred(o)) {
              clearTimeout(timer);
              resolve(o);
              return;
            }
          }
          if (done) {
            clearTimeout(timer);
            reject(new Error(`sluice ${args[0]} exited before the expected line; stderr:\n${lines.join('\n')}`));
            return;
          }
          waiters.push(check);
        };
        check();
      });
    },
  };
  return child;
}

/** Port of a `udp://HOST:PORT` or `sluice://HOST:PORT` string. */
export function portOf(url: unknown): number {
  const m = /:(\d+)$/.exec(String(url));
  if (m === null) throw new Error(`no port in ${String(url)}`);
  return Number(m[1]);
}

/** Ends every child still running (SIGKILL, by pid) and waits for them. */
export async function killAll(): Promise<void> {
  const all = [...children];
  await Promise.all(
    all.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
}
