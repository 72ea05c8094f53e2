/**
 * Child processes for the side-by-side benchmarks (bench/compare-srt.ts, bench/memory-100.ts):
 * spawning with a kill-on-exit registry, waiting for a line of output, CPU seconds and memory
 * of a process from /proc, free UDP ports, and an esbuild bundle of the sluice CLI (so the
 * children start in ~50 ms and spend no CPU on transpiling, unlike `--import tsx`).
 *
 * Linux only (/proc). Every child is killed when the bench process exits, whatever the path.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`; 100 on Linux x86-64). */
const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const v = Number(r.stdout?.trim());
  return Number.isFinite(v) && v > 0 ? v : 100;
})();

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function _killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function _installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', _killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      _killAll();
      process.exit(130);
    });
  }
}

/** A spawned child with its output collected line by line. */
export class Child {
  readonly proc: ChildProcess;
  readonly name: string;
  /** Every line seen on stdout and stderr (bounded: the first 2000 and the last 2000). */
  readonly lines: string[] = [];
  private _dropped = 0;
  private readonly _watchers: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  readonly exited: Promise<number | null>;

  /**
   * @param ipc open an IPC channel (`proc.send` / `'message'`), for node children.
   */
  constructor(name: string, command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; ipc?: boolean } = {}) {
    _installExitHook();
    this.name = name;
    this.proc = spawn(command, args, {
      stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    children.add(this.proc);
    this.exited = new Promise((resolveExit) => {
      this.proc.once('exit', (code) => {
        children.delete(this.proc);
        resolveExit(code);
      });
      this.proc.once('error', () => {
        children.delete(this.proc);
        resolveExit(null);
      });
    });
    for (const s of [this.proc.stdout, this.proc.stderr]) {
      let buf = '';
      s?.setEncoding('utf8');
      s?.on('data', (d: string) => {
        buf += d;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          this._line(buf.slice(0, nl).replace(/\r$/, ''));
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
        }
      });
    }
  }

  private _line(line: string): void {
    if (this.lines.length < 4000) this.lines.push(line);
    else {
      this.lines.splice(2000, 1);
      this.lines.push(line);
      this._dropped++;
    }
    for (let i = this._watchers.length - 1; i >= 0; i--) {
      const w = this._watchers[i]!;
      if (w.re.test(line)) {
        this._watchers.splice(i, 1);
        w.resolve(line);
      }
    }
  }

  /** The process id (throws when the spawn failed). */
  get pid(): number {
    const p = this.proc.pid;
    if (p === undefined) throw new Error(`${this.name}: not running (spawn failed)`);
    return p;
  }

  /** Resolves with the first line (already seen or future) matching `re`; rejects after `timeoutMs` or on exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; output:\n${this.tail(20)}`)), timeoutMs);
      this._watchers.push({
        re,
        resolve: (l) => {
          clearTimeout(t);
          resolveLine(l);
        },
      });
      void this.exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`${this.name}: exited (${code}) before a line matching ${re}; output:\n${this.tail(20)}`));
      });
    });
  }

  /** The last `n` lines, joined. */
  tail(n: number): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Lines that parse as JSON objects (the sluice CLI's stderr records). */
  jsonLines(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const l of this.lines) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // not JSON
      }
    }
    return out;
  }

  /** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILL. Resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    try {
      this.proc.kill(signal);
    } catch {
      // gone
    }
    const t = setTimeout(() => {
      try {
        this.proc.kill('SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  /**
   * Sends `msg` over IPC and resolves with the first reply whose `re` field equals `msg.id`.
   * @throws (rejects) after `timeoutMs`, or when the child has no IPC channel.
   */
  request<T>(msg: { id: string } & Record<string, unknown>, timeoutMs: number): Promise<T> {
    const p = this.proc;
    if (p.send === undefined) return Promise.reject(new Error(`${this.name}: no IPC channel`));
    return new Promise((resolveReply, reject) => {
      const onMsg = (m: unknown): void => {
        if (m !== null && typeof m === 'object' && (m as { re?: unknown }).re === msg.id) {
          clearTimeout(t);
          p.off('message', onMsg);
          resolveReply(m as T);
        }
      };
      const t = setTimeout(() => {
        p.off('message', onMsg);
        reject(new Error(`${this.name}: no reply to ${msg.id} within ${timeoutMs} ms; output:\n${this.tail(20)}`));
      }, timeoutMs);
      p.on('message', onMsg);
      p.send!(msg);
    });
  }

  /** Lines dropped from the middle of {@link lines} (output beyond 4000 lines). */
  get droppedLines(): number {
    return this._dropped;
  }
}

/** utime + stime of a process, in CPU seconds (from /proc/PID/stat); NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: fields are counted after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // After ')': state(3) ppid(4) ... utime is field 14, stime 15 -> indices 11 and 12 here.
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Memory of a process from /proc/PID/smaps_rollup and /proc/PID/status, in bytes (NaN when gone). */
export interface ProcMemory {
  readonly rss: number;
  /** Proportional set size: private pages plus shared pages divided among their sharers. */
  readonly pss: number;
  readonly privateBytes: number;
}

/** Reads {@link ProcMemory} of `pid`. */
export function procMemory(pid: number): ProcMemory {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (name: string): number => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(t);
      return m === null ? NaN : Number(m[1]) * 1024;
    };
    return {
      rss: kb('Rss'),
      pss: kb('Pss'),
      privateBytes: kb('Private_Clean') + kb('Private_Dirty'),
    };
  } catch {
    return { rss: NaN, pss: NaN, privateBytes: NaN };
  }
}

/**
 * A UDP port on 127.0.0.1 that was free a moment ago (bound to port 0, read, closed). A small
 * race remains when other programs bind ports at the same time; callers retry on EADDRINUSE.
 */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.bind(0, '127.0.0.1', () => r());
  });
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `n` distinct free UDP ports. */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freeUdpPort());
  return [...out];
}

/** Where the repository is (the parent of bench/). */
export const REPO = resolve(new URL('../..', import.meta.url).pathname);

/** A built bundle and the directory to remove afterwards. */
export interface Bundle {
  readonly file: string;
  /** Git commit of the sources, with `+dirty` when `src/` had uncommitted changes (worktree builds). */
  readonly source: string;
  dispose(): void;
}

/**
 * Bundles `entries` (paths relative to the repository) with esbuild into a temporary
 * directory, self-contained (dependencies inlined), ESM, Node 20.
 * @param ref when given, the library (`src/`) is taken from this git revision (`git archive`)
 *   instead of the working tree, so that other people's uncommitted edits do not enter the
 *   measurement; `bench/` (the harness) still comes from the working tree.
 * @returns one {@link Bundle} per entry (same order), sharing one temp dir.
 */
export function bundle(entries: readonly string[], ref?: string): Bundle[] {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  try {
    return _bundleInto(dir, entries, ref);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function _bundleInto(dir: string, entries: readonly string[], ref: string | undefined): Bundle[] {
  let root = REPO;
  let source: string;
  const head = spawnSync('git', ['-C', REPO, 'rev-parse', '--short=12', ref ?? 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) throw new Error(`git rev-parse ${ref ?? 'HEAD'}: ${head.stderr}`);
  source = head.stdout.trim();
  if (ref !== undefined) {
    root = join(dir, 'src-tree');
    // The library from the revision, the benchmark harness (bench/) from the working tree.
    const ar = spawnSync('sh', ['-c', `mkdir -p "${root}" && git -C "${REPO}" archive "${ref}" src | tar -x -C "${root}"`], { encoding: 'utf8' });
    if (ar.status !== 0) throw new Error(`git archive ${ref}: ${ar.stderr}`);
    cpSync(join(REPO, 'bench'), join(root, 'bench'), { recursive: true, filter: (f) => !f.includes(`${join(REPO, 'bench', 'results')}`) });
    symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  } else {
    const st = spawnSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' });
    if (st.stdout.trim().length > 0) {
      // Name the uncommitted state too: a hash of the diff (untracked files listed by name).
      const diff = spawnSync('git', ['-C', REPO, 'diff', 'HEAD', '--', 'src'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const h = createHash('sha256').update(diff.stdout).update(st.stdout).digest('hex').slice(0, 12);
      source += `+dirty:${h} (${st.stdout.trim().split('\n').length} files)`;
    }
  }
  const esbuild = join(REPO, 'node_modules', '.bin', 'esbuild');
  if (!existsSync(esbuild)) throw new Error(`esbuild not found at ${esbuild} (npm ci first)`);
  const out: Bundle[] = [];
  for (const [i, entry] of entries.entries()) {
    const file = join(dir, `entry${i}.mjs`);
    const r = spawnSync(
      esbuild,
      [join(root, entry), '--bundle', '--platform=node', '--format=esm', '--target=node20', `--outfile=${file}`, '--log-level=warning'],
      { encoding: 'utf8', cwd: root },
    );
    if (r.status !== 0) throw new Error(`esbuild ${entry}: ${r.stderr}`);
    out.push({ file, source, dispose: () => rmSync(dir, { recursive: true, force: true }) });
  }
  return out;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The kernel's UDP counters (/proc/net/snmp, this network namespace, all sockets): a rise of
 * `RcvbufErrors` means datagrams were dropped because some socket's receive buffer was full.
 */
export function udpCounters(): Record<string, number> {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = (lines[0] ?? '').split(/\s+/).slice(1);
    const vals = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
    const out: Record<string, number> = {};
    names.forEach((n, i) => (out[n] = vals[i] ?? NaN));
    return out;
  } catch {
    return {};
  }
}

/**
 * Datagrams the kernel dropped per local UDP port (the `drops` column of /proc/net/udp and
 * /proc/net/udp6: receive buffer full, checksum, ...), summed over the sockets bound to the port.
 */
export function udpDropsByPort(): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      const port = parseInt(cols[1]!.split(':')[1] ?? '', 16);
      const drops = Number(cols[cols.length - 1]);
      if (Number.isFinite(port) && Number.isFinite(drops)) out.set(port, (out.get(port) ?? 0) + drops);
    }
  }
  return out;
}
