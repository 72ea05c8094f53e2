/**
 * spec/protocol.md quotes the vectors: every "Example `name`" hex block in the spec must equal
 * the vector of that name (spaces removed), so spec and vectors cannot drift apart. The tagged
 * KEEPALIVE example and the HKDF example of section 8 are checked against the auth layer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveHandshakeKey, deriveSessionKeys } from '../../../src/core/auth/keys.js';
import { createHmacProtector } from '../../../src/core/auth/hmac-protector.js';
import { fromHex, loadVectors, toHex } from './fields.js';

const spec = readFileSync(join(import.meta.dirname, '..', '..', '..', 'spec', 'protocol.md'), 'utf8');
const vectors = new Map(loadVectors().valid.map((v) => [v.name, v.hex]));

/** `Example \`name\` ...:\n\`\`\`\n<hex lines>\n\`\`\`` blocks whose content is pure hex. */
function examples(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const re = /Example `([a-z0-9-]+)`[^\n]*\n```\n([\s\S]*?)```/g;
  for (let m = re.exec(spec); m !== null; m = re.exec(spec)) {
    const body = m[2]!.replace(/\([^)]*\)/g, '').replace(/\s+/g, '');
    if (/^[0-9a-f]+$/.test(body)) out.push([m[1]!, body]);
  }
  return out;
}

describe('spec/protocol.md examples', () => {
  const ex = examples();
  it('quotes at least one example per packet type', () => {
    expect(ex.length).toBeGreaterThanOrEqual(10);
  });
  it.each(ex)('example %s equals its vector', (name, hex) => {
    expect(vectors.has(name), `no vector named ${name}`).toBe(true);
    expect(hex).toBe(vectors.get(name));
  });
  it('the HKDF and tag examples of section 8 hold', () => {
    const psk = new TextEncoder().encode('sluice example pre-shared key 01');
    const cn = fromHex('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
    const sn = fromHex('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf');
    const keys = deriveSessionKeys(psk, cn, sn);
    const hs = toHex(deriveHandshakeKey(psk));
    expect(spec).toContain(`handshakeKey = ${hs}`);
    expect(spec).toContain(`c2sKey       = ${toHex(keys.c2s)}`);
    expect(spec).toContain(`s2cKey       = ${toHex(keys.s2c)}`);
    const pkt = fromHex(vectors.get('keepalive')!);
    createHmacProtector(keys.c2s, 'hmac', 0).protect(pkt, 0, pkt.length, pkt.length - 16, 4);
    expect(spec).toContain(`01 09 00 00 00000003 00000004  fffffff0 00000005 000003e9  ${toHex(pkt, 24, 16)}`);
  });
});
