/**
 * Enforces STYLE.md habit 1: nothing under src/core imports node:* (or a bare Node builtin),
 * or touches Date, performance, timers or Math.random. Comments are stripped first so prose
 * can mention them.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CORE = join(import.meta.dirname, '..', '..', 'src', 'core');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Removes comments and string/template contents so only code is checked. */
function codeOnly(src: string): string {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|[^:\\])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''")
    .replace(/`(?:[^`\\]|\\.)*`/g, '``');
}

const BUILTINS = ['fs', 'net', 'dgram', 'crypto', 'os', 'path', 'timers', 'perf_hooks', 'worker_threads', 'child_process', 'http', 'events', 'stream', 'diagnostics_channel', 'process', 'buffer', 'util'];

export const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bfrom\s+["']node:/, 'imports node:*'],
  [new RegExp(`\\bfrom\\s+["'](${BUILTINS.join('|')})["']`), 'imports a Node builtin'],
  [/\bimport\s*\(\s*["']node:/, 'dynamic import of node:*'],
  [/\brequire\s*\(/, 'uses require()'],
  [/\bDate\b/, 'touches Date'],
  [/\bperformance\b/, 'touches performance'],
  [/\b(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate|queueMicrotask)\b/, 'uses timers'],
  [/\bMath\.random\b/, 'uses Math.random'],
  [/\bprocess\./, 'touches process'],
  [/\bBuffer\./, 'uses Node Buffer'],
];

export function violations(src: string): string[] {
  const code = codeOnly(src);
  // Import specifiers were blanked by codeOnly; check them on the raw import lines.
  const importLines = src.split('\n').filter((l) => /^\s*(import|export)\b.*\bfrom\b/.test(l) || /import\s*\(/.test(l));
  const out: string[] = [];
  for (const [re, what] of FORBIDDEN) {
    if (re.source.includes('from') || re.source.includes('import')) {
      if (importLines.some((l) => re.test(l))) out.push(what);
    } else if (re.test(code)) {
      out.push(what);
    }
  }
  return out;
}

describe('src/core purity', () => {
  const files = walk(CORE);
  it('finds the core sources', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  it.each(files.map((f) => [f.slice(CORE.length + 1), f]))('%s is pure', (_rel, file) => {
    expect(violations(readFileSync(file, 'utf8'))).toEqual([]);
  });
  it('the check catches each forbidden construct', () => {
    expect(violations("import dgram from 'node:dgram';")).toContain('imports node:*');
    expect(violations("import { randomBytes } from 'crypto';")).toContain('imports a Node builtin');
    expect(violations('const t = Date.now();')).toContain('touches Date');
    expect(violations('const t = performance.now();')).toContain('touches performance');
    expect(violations('setTimeout(f, 1);')).toContain('uses timers');
    expect(violations('const r = Math.random();')).toContain('uses Math.random');
    expect(violations('// Date.now() in a comment\nconst x = 1;')).toEqual([]);
  });
});
