/**
 * The `sluice` command: `send`, `recv`, `impair`, `demo`, `--help`, `--version`.
 *
 * Importing this module has no side effects; it runs {@link main} only when it is the program
 * node started (`node --import tsx src/cli/main.ts`, or the built `dist/cli/main.js` bin,
 * symlinks resolved).
 *
 * @example
 * ```sh
 * npm run demo
 * npm run sluice -- send udp://127.0.0.1:5000 "sluice://127.0.0.1:9000?key=$KEY"
 * ```
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT_OK, EXIT_USAGE, writers, type CommandIo } from './common.js';
import { impairCommand } from './impair.js';
import { sendCommand } from './send.js';
import { recvCommand } from './recv.js';
import { demoCommand } from './demo.js';

/** The top-level `--help` text. */
export const MAIN_HELP = `Usage: sluice <command> [options]

Live media over UDP with Reed-Solomon FEC, retransmission, bounded latency and bounded memory.

Commands:
  send <input> <sluice-url>    send UDP datagrams / a file / stdin over sluice (caller by default)
  recv <sluice-url> <output>   receive over sluice into UDP / a file / stdout (listener by default)
  impair --listen udp://.. --to udp://..   a lossy, delayed UDP relay for testing (seeded)
  demo                         sender + receiver through a lossy relay, live view, HTML report

  sluice <command> --help      help for one command
  sluice --version             print the version

Examples:
  sluice demo --duration 10 --loss 10
  sluice recv "sluice://:9000?key=$KEY" udp://127.0.0.1:5004
  sluice send udp://127.0.0.1:5000 "sluice://127.0.0.1:9000?key=$KEY&latency=200"
  sluice impair --listen udp://127.0.0.1:9001 --to udp://127.0.0.1:9000 --loss 10 --delay 20
`;

/** The package version, read from package.json next to src/ or dist/. */
export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs the command line `argv` (without node and the script). Resolves with the exit code:
 * 0 success, 1 runtime failure, 2 usage error (unknown command: usage on stderr).
 * @example process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: string[], io: CommandIo = {}): Promise<number> {
  const { out, err } = writers(io);
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'send':
      return sendCommand(rest, io);
    case 'recv':
      return recvCommand(rest, io);
    case 'impair':
      return impairCommand(rest, {
        ...(io.stdout !== undefined ? { stdout: io.stdout } : {}),
        ...(io.stderr !== undefined ? { stderr: io.stderr } : {}),
        ...(io.signal !== undefined ? { signal: io.signal } : {}),
      });
    case 'demo':
      return demoCommand(rest, io);
    case '-h':
    case '--help':
    case 'help':
      out(MAIN_HELP);
      return EXIT_OK;
    case '-v':
    case '--version':
    case 'version':
      out(version());
      return EXIT_OK;
    case undefined:
      err(MAIN_HELP);
      return EXIT_USAGE;
    default:
      err(`sluice: unknown command "${cmd}"`);
      err(MAIN_HELP);
      return EXIT_USAGE;
  }
}

function _isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (_isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Every handle should be closed by now; do not let a straggler (stdin, a timer) hold the exit.
      setTimeout(() => process.exit(code), 1500).unref();
    },
    (e: unknown) => {
      process.stderr.write(`sluice: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
