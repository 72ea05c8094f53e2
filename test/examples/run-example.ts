/**
 * Runs `node --import tsx examples/<name>.ts args...` as written, collecting its output; kills
 * it (by its pid) after `timeoutMs` so a hung example fails the test instead of hanging it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ExampleRun {
  readonly proc: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (-1 when killed by a signal). */
  readonly exited: Promise<number>;
  /** Resolves with the first stdout line matching `re`. */
  waitLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

export function runExample(name: string, args: string[] = [], timeoutMs = 60_000): ExampleRun {
  const proc = spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const killer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  let done = false;
  const exited = new Promise<number>((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(killer);
      done = true;
      for (const w of waiters.splice(0)) w();
      resolve(code ?? -1);
    }),
  );
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitLine(re, wait = 30_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no line matching ${re} from examples/${name}.ts:\n${out}\n${err}`)), wait);
        const check = (): void => {
          const m = re.exec(out);
          if (m !== null) {
            clearTimeout(t);
            resolve(m);
          } else if (done) {
            clearTimeout(t);
            reject(new Error(`examples/${name}.ts exited without a line matching ${re}:\n${out}\n${err}`));
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Kills a run if it is still going and waits for it. */
export async function stopRun(r: ExampleRun | null): Promise<void> {
  if (r === null || r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  r.proc.kill('SIGKILL');
  await r.exited;
}
