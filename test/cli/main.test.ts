import { describe, expect, it } from 'vitest';
import { main, MAIN_HELP, version } from '../../src/cli/main.js';
import { SEND_HELP } from '../../src/cli/send.js';
import { RECV_HELP } from '../../src/cli/recv.js';
import { DEMO_HELP } from '../../src/cli/demo.js';
import { IMPAIR_HELP } from '../../src/cli/impair.js';

async function run(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('sluice main', () => {
  it('--help, --version', async () => {
    expect(await run(['--help'])).toEqual({ code: 0, out: MAIN_HELP, err: '' });
    const v = await run(['--version']);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^\d+\.\d+\.\d+/);
    expect(v.out).toBe(version());
  });

  it('an unknown command or none: usage on stderr, exit 2', async () => {
    const r = await run(['sned']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "sned"');
    expect(r.err).toContain('Usage: sluice <command>');
    expect(r.out).toBe('');
    expect((await run([])).code).toBe(2);
  });

  it('--help for every command, each with examples', async () => {
    const cases: Array<[string, string]> = [
      ['send', SEND_HELP],
      ['recv', RECV_HELP],
      ['demo', DEMO_HELP],
      ['impair', IMPAIR_HELP],
    ];
    for (const [cmd, text] of cases) {
      const r = await run([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.out, cmd).toBe(text);
      expect(text, cmd).toMatch(/Examples:\n\s+(sluice|npm) /);
    }
  });

  it('usage errors exit 2 with the reason and a hint', async () => {
    const a = await run(['send', 'udp://127.0.0.1:5000'], { SLUICE_KEY: '0123456789abcdef' });
    expect(a.code).toBe(2);
    expect(a.err).toContain('expected <input> <sluice-url>, got 1 argument(s)');
    expect(a.err).toContain('Try "sluice send --help".');
    const b = await run(['recv', 'sluice://:9000', 'file:x', '--bogus'], { SLUICE_KEY: '0123456789abcdef' });
    expect(b.code).toBe(2);
    expect(b.err).toContain("Unknown option '--bogus'");
    const c = await run(['send', '-', 'sluice://127.0.0.1:9000', '--chunk', '0'], { SLUICE_KEY: '0123456789abcdef' });
    expect(c.code).toBe(2);
    expect(c.err).toContain('--chunk: expected an integer in [1, 67108864], got "0"');
    const d = await run(['demo', '--loss', 'lots']);
    expect(d.code).toBe(2);
    expect(d.err).toContain('--loss');
    const e = await run(['recv', 'sluice://:9000?key=0123456789abcdef', 'udp://127.0.0.1']);
    expect(e.code).toBe(2);
    expect(e.err).toContain('output: expected udp://HOST:PORT');
  });
});
