/**
 * `sluice://HOST:PORT?key=...&latency=120&...` URLs and their flag equivalents, for
 * `sluice send` / `sluice recv` (issue 6).
 *
 * Every URL parameter is also a flag (`latency=120` <-> `--latency 120`); a flag given on the
 * command line overrides the URL, and the key may also come from the `SLUICE_KEY` environment
 * variable (so it need not appear in `ps` output). Parsing is strict: an unknown parameter, a
 * duplicate, a bad value or a missing key is an error whose message names the parameter, the
 * value and what is allowed.
 *
 * | parameter  | flag             | value                                          | default |
 * |------------|------------------|------------------------------------------------|---------|
 * | key        | --key            | pre-shared key, >= 16 bytes (UTF-8)            | SLUICE_KEY |
 * | mode       | --mode           | caller \| listener                             | send: caller, recv: listener |
 * | latency    | --latency        | ms, 20..60000                                  | 120 |
 * | fec        | --fec            | W,S,R (window, step, repairs) \| off           | by rate: 128,64,2 at 20mbit |
 * | fecminloss | --fec-min-loss   | repairs only while measured loss >= P percent  | 5 (0 with fec=) |
 * | arq        | --arq            | 1 \| 0 (also on/off, true/false)               | 1 |
 * | auth       | --auth           | hmac \| aead                                   | hmac |
 * | maxrate    | --maxrate        | pacing ceiling: 20mbit, 500kbit, 1gbit, bits/s | 1gbit |
 * | rate       | --rate           | expected bitrate (sizes the buffers)           | 20mbit |
 * | maxframe   | --maxframe       | largest frame: 1m, 65536                       | 8m |
 * | maxdatagram| --max-datagram   | largest datagram, 1200..65507                  | 1400 |
 *
 * @example
 * const t = resolveTarget('sluice://127.0.0.1:9000?latency=200&fec=32,16,2', {}, { SLUICE_KEY: 'k'.repeat(16) }, 'caller');
 * // t.host === '127.0.0.1', t.port === 9000, t.mode === 'caller', t.options.latencyMs === 200
 */
import { SluiceRangeError } from '../core/errors.js';
import type { ConnectionOptions, FecOptions } from '../core/connection/options.js';
import { parseBytes, parseProbability, parseRateBps } from '../core/link-model.js';

/** Whether this side dials (`caller`) or waits for the peer (`listener`). */
export type Mode = 'caller' | 'listener';

/** The URL parameters (and flags) sluice understands, in their URL spelling. */
export const URL_PARAMS = ['key', 'mode', 'latency', 'fec', 'fecminloss', 'arq', 'auth', 'maxrate', 'rate', 'maxframe', 'maxdatagram'] as const;
/** One URL parameter name. */
export type UrlParam = (typeof URL_PARAMS)[number];

/** The flag spelling of each URL parameter. */
export const PARAM_FLAGS: Readonly<Record<UrlParam, string>> = Object.freeze({
  key: 'key',
  mode: 'mode',
  latency: 'latency',
  fec: 'fec',
  fecminloss: 'fec-min-loss',
  arq: 'arq',
  auth: 'auth',
  maxrate: 'maxrate',
  rate: 'rate',
  maxframe: 'maxframe',
  maxdatagram: 'max-datagram',
});

/** The environment variable read for the key when neither the URL nor `--key` gives one. */
export const KEY_ENV = 'SLUICE_KEY';

/** A syntactically valid `sluice://` URL, parameters still as text. */
export interface ParsedSluiceUrl {
  /** IPv4/IPv6 literal or name as written ('' when omitted: `sluice://:9000`). */
  readonly host: string;
  /** Port, 0..65535 (0 only makes sense for a listener). */
  readonly port: number;
  /** Parameters as given, by name. */
  readonly params: Readonly<Partial<Record<UrlParam, string>>>;
}

/** Where to connect or listen, and the connection options, after URL + flags + env. */
export interface ResolvedTarget {
  /** Host to dial (caller) or bind (listener; '0.0.0.0' when the URL has none). */
  readonly host: string;
  readonly port: number;
  readonly mode: Mode;
  /** Options for `listen()` / `connect()` (key included). */
  readonly options: ConnectionOptions;
}

/** The error every parse failure throws: a {@link SluiceRangeError} whose message names the part. */
function _bad(what: string): never {
  throw new SluiceRangeError(what);
}

/**
 * Parses the syntax of `sluice://HOST:PORT[?name=value&...]` (IPv6 as `[::1]`). Values are
 * percent-decoded; nothing is interpreted yet (see {@link resolveTarget}).
 * @throws SluiceRangeError naming what is wrong: the scheme, a missing port, a port out of
 *   range, an unknown or repeated parameter.
 * @example parseSluiceUrl('sluice://[::1]:9000?latency=80').params.latency === '80'
 */
export function parseSluiceUrl(text: string): ParsedSluiceUrl {
  if (typeof text !== 'string' || text.length === 0) _bad('sluice URL: expected sluice://HOST:PORT?key=..., got nothing');
  const t = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(t);
  if (scheme === null) _bad(`sluice URL "${text}": expected it to start with sluice://`);
  if (scheme[1]!.toLowerCase() !== 'sluice') _bad(`sluice URL "${text}": unknown scheme "${scheme[1]}://", expected sluice://`);
  const rest = t.slice(scheme[0].length);
  const q = rest.indexOf('?');
  const authority = (q < 0 ? rest : rest.slice(0, q)).replace(/\/$/, '');
  const query = q < 0 ? '' : rest.slice(q + 1);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]@?#]*)):([0-9]+)$/.exec(authority);
  if (m === null) {
    if (/^(?:\[[^\]]*\]|[^:]*)$/.test(authority)) _bad(`sluice URL "${text}": missing port, expected sluice://HOST:PORT`);
    _bad(`sluice URL "${text}": expected HOST:PORT after sluice:// (IPv6 as [::1]:PORT), got "${authority}"`);
  }
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port > 65535 || m[3]!.length > 5) _bad(`sluice URL "${text}": port must be in [0, 65535], got ${m[3]}`);
  const params: Partial<Record<UrlParam, string>> = {};
  if (query.length > 0) {
    for (const part of query.split('&')) {
      if (part.length === 0) continue;
      const eq = part.indexOf('=');
      const rawName = eq < 0 ? part : part.slice(0, eq);
      const rawValue = eq < 0 ? '' : part.slice(eq + 1);
      let name: string;
      let value: string;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' ')).toLowerCase();
        value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
      } catch {
        _bad(`sluice URL: bad percent-encoding in "${part}"`);
      }
      if (!(URL_PARAMS as readonly string[]).includes(name)) {
        _bad(`sluice URL: unknown parameter "${name}" (known: ${URL_PARAMS.join(', ')})`);
      }
      if (params[name as UrlParam] !== undefined) _bad(`sluice URL: parameter "${name}" given twice`);
      if (eq < 0) _bad(`sluice URL: parameter "${name}" has no value (expected ${name}=...)`);
      params[name as UrlParam] = value;
    }
  }
  return { host, port, params };
}

function _intIn(name: string, text: string, min: number, max: number): number {
  const t = text.trim();
  if (!/^[0-9]+$/.test(t)) _bad(`${name}: expected an integer in [${min}, ${max}], got "${text}"`);
  const v = Number(t);
  if (v < min || v > max) _bad(`${name}: expected an integer in [${min}, ${max}], got "${text}"`);
  return v;
}

/**
 * Parses an FEC spec: `W,S,R` (window, step, repairs), `W,S` (one repair), `W` (block mode:
 * step = window, one repair), or `off` / `0` / `none` for no FEC. Ranges are checked again by
 * the connection options (window <= 128, step <= window, repairs x ceil(W/S) <= 128).
 * @throws SluiceRangeError naming `name` and the expected form.
 * @example parseFec('--fec', '64,32,1') // { window: 64, step: 32, repairs: 1 }
 */
export function parseFec(name: string, text: string): FecOptions | false {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === 'none' || t === '0' || t === 'false' || t === 'no') return false;
  const bits = t.split(/[,:/x]/);
  if (bits.length < 1 || bits.length > 3 || bits.some((b) => !/^[0-9]+$/.test(b))) {
    _bad(`${name}: expected W,S,R (window, step, repairs; e.g. 64,32,1) or off, got "${text}"`);
  }
  const window = _intIn(`${name} window`, bits[0]!, 1, 128);
  const step = bits.length >= 2 ? _intIn(`${name} step`, bits[1]!, 1, window) : window;
  const repairs = bits.length === 3 ? _intIn(`${name} repairs`, bits[2]!, 1, 128) : 1;
  return { window, step, repairs };
}

/**
 * Parses a boolean flag value: 1/0, on/off, true/false, yes/no.
 * @throws SluiceRangeError naming `name`.
 */
export function parseSwitch(name: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === '1' || t === 'on' || t === 'true' || t === 'yes') return true;
  if (t === '0' || t === 'off' || t === 'false' || t === 'no') return false;
  return _bad(`${name}: expected 1 or 0 (on/off), got "${text}"`);
}

/**
 * Parses `caller` / `listener` (also `call`, `listen`).
 * @throws SluiceRangeError naming `name`.
 */
export function parseMode(name: string, text: string): Mode {
  const t = text.trim().toLowerCase();
  if (t === 'caller' || t === 'call' || t === 'client') return 'caller';
  if (t === 'listener' || t === 'listen' || t === 'server') return 'listener';
  return _bad(`${name}: expected caller or listener, got "${text}"`);
}

/**
 * Resolves a `sluice://` URL plus flags plus environment into where to go and the connection
 * options. `flags` uses the flag spelling (`{ latency: '200', 'max-datagram': '1316' }`) and
 * wins over the URL; the key comes from the URL, then `--key`, then `env.SLUICE_KEY`.
 * Option values are validated here where the text can be wrong (units, forms); numeric ranges
 * are validated again by `listen()` / `connect()`.
 * @param defaultMode `caller` for send, `listener` for recv.
 * @throws SluiceRangeError naming the parameter (URL spelling for URL values, `--flag` for flags).
 * @example resolveTarget('sluice://:9000', { key: 'a key of sixteen+' }, {}, 'listener').host === '0.0.0.0'
 */
export function resolveTarget(
  urlText: string,
  flags: Readonly<Partial<Record<string, string | undefined>>>,
  env: Readonly<Record<string, string | undefined>>,
  defaultMode: Mode,
): ResolvedTarget {
  const url = parseSluiceUrl(urlText);
  const get = (p: UrlParam): { value: string; name: string } | undefined => {
    const f = flags[PARAM_FLAGS[p]];
    if (f !== undefined) return { value: f, name: `--${PARAM_FLAGS[p]}` };
    const u = url.params[p];
    if (u !== undefined) return { value: u, name: `${p} (in the sluice URL)` };
    return undefined;
  };
  const mode = ((): Mode => {
    const m = get('mode');
    return m === undefined ? defaultMode : parseMode(m.name, m.value);
  })();
  const keyV = get('key');
  const key = keyV?.value ?? env[KEY_ENV];
  if (key === undefined || key.length === 0) {
    _bad(`key: missing; give the pre-shared key (16+ bytes) as key=... in the URL, --key or the ${KEY_ENV} environment variable`);
  }
  if (Buffer.byteLength(key, 'utf8') < 16) {
    _bad(`${keyV?.name ?? KEY_ENV}: the key must be at least 16 bytes, got ${Buffer.byteLength(key, 'utf8')}`);
  }
  const options: { -readonly [K in keyof ConnectionOptions]: ConnectionOptions[K] } = { key };
  const lat = get('latency');
  if (lat !== undefined) options.latencyMs = _intIn(lat.name, lat.value.replace(/ms$/i, ''), 20, 60_000);
  const fec = get('fec');
  if (fec !== undefined) options.fec = parseFec(fec.name, fec.value);
  const fml = get('fecminloss');
  if (fml !== undefined) options.fecMinLoss = parseProbability(fml.name, fml.value, 'percent');
  const arq = get('arq');
  if (arq !== undefined) options.arq = parseSwitch(arq.name, arq.value);
  const auth = get('auth');
  if (auth !== undefined) {
    const a = auth.value.trim().toLowerCase();
    if (a !== 'hmac' && a !== 'aead') _bad(`${auth.name}: expected hmac or aead, got "${auth.value}"`);
    options.auth = a;
  }
  const rateOpt = (p: UrlParam): number | undefined => {
    const v = get(p);
    if (v === undefined) return undefined;
    const bps = parseRateBps(v.name, v.value);
    if (bps < 64_000 || bps > 10e9) _bad(`${v.name}: expected a rate in [64kbit, 10gbit], got "${v.value}"`);
    return bps;
  };
  const maxRate = rateOpt('maxrate');
  if (maxRate !== undefined) options.maxRateBps = maxRate;
  const rate = rateOpt('rate');
  if (rate !== undefined) options.expectedRateBps = rate;
  const mf = get('maxframe');
  if (mf !== undefined) {
    const b = parseBytes(mf.name, mf.value);
    if (!Number.isInteger(b) || b < 1 || b > 256 * 1024 * 1024) _bad(`${mf.name}: expected a size in [1, 256m], got "${mf.value}"`);
    options.maxFrameBytes = b;
  }
  const md = get('maxdatagram');
  if (md !== undefined) options.maxDatagram = _intIn(md.name, md.value, 1200, 65507);

  let host = url.host;
  if (mode === 'caller') {
    if (host === '') _bad(`sluice URL "${urlText}": a caller needs a host to dial (sluice://HOST:PORT)`);
    if (url.port === 0) _bad(`sluice URL "${urlText}": a caller needs a port in [1, 65535], got 0`);
    if (host.toLowerCase() === 'localhost') host = '127.0.0.1';
  } else {
    if (host === '') host = '0.0.0.0';
    else if (host.toLowerCase() === 'localhost') host = '127.0.0.1';
  }
  return { host, port: url.port, mode, options };
}

/** `sluice://HOST:PORT` for messages (no parameters, so never the key). */
export function formatAddress(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
