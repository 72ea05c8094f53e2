/**
 * Opening the sluice side of `send` / `recv`: dial as a caller, or bind as a listener and wait,
 * logging what happens as JSON lines (listening, rejected handshakes, connections).
 */
import { connect, listen, type SluiceConnection, type SluiceServer } from '../io/api.js';
import type { MemoryAccountant } from '../core/memory/accountant.js';
import type { StopSignal } from './common.js';
import { formatAddress, type ResolvedTarget } from './url.js';

/** Logs a JSON line. */
export type JsonLog = (record: Record<string, unknown>) => void;

/**
 * Dials `target` (caller mode). Resolves null when stopped before the handshake completed.
 * @throws the connect error (ERR_SLUICE_CONNECT_TIMEOUT naming the address, ERR_SLUICE_AUTH_FAILED, ...).
 * @example const conn = await dial(resolveTarget(url, {}, process.env, 'caller'), new MemoryAccountant(), new StopSignal());
 */
export async function dial(target: ResolvedTarget, accountant: MemoryAccountant, stop: StopSignal): Promise<SluiceConnection | null> {
  // The signal only cancels the handshake: connect() also destroys an open connection when its
  // signal aborts later, and a stop must close gracefully (flush, CLOSE) instead.
  const ac = new AbortController();
  let connecting = true;
  void stop.stopped.then(() => {
    if (connecting) ac.abort();
  });
  try {
    const c = await connect({ ...target.options, host: target.host, port: target.port, accountant, signal: ac.signal });
    connecting = false;
    return c;
  } catch (e) {
    connecting = false;
    if ((e as { code?: string }).code === 'ERR_SLUICE_ABORTED' && stop.reason !== null) return null;
    throw e;
  }
}

/**
 * Binds a listener on `target` and logs `listening` and every rejected handshake (a wrong key
 * shows up here as `{"event":"rejected","reason":"authentication failed (wrong key?)"}`).
 * @throws SluiceError ERR_SLUICE_BIND naming the address.
 */
export async function bindListener(target: ResolvedTarget, accountant: MemoryAccountant, log: JsonLog): Promise<SluiceServer> {
  const server = await listen({ ...target.options, host: target.host, port: target.port, accountant });
  const a = server.address();
  log({ event: 'listening', address: `sluice://${formatAddress(a.address, a.port)}` });
  server.on('rejected', (address: string, port: number, reason: string) => {
    log({ event: 'rejected', peer: formatAddress(address, port), reason });
  });
  server.on('error', (err: Error) => log({ event: 'error', message: err.message }));
  return server;
}

/** Waits for the next connection on `server`, or null when stopped first. */
export function nextConnection(server: SluiceServer, stop: StopSignal): Promise<SluiceConnection | null> {
  return new Promise((resolve) => {
    const onConn = (c: SluiceConnection): void => {
      server.off('connection', onConn);
      resolve(c);
    };
    server.on('connection', onConn);
    void stop.stopped.then(() => {
      server.off('connection', onConn);
      resolve(null);
    });
  });
}

/**
 * Waits until the peer has acknowledged everything sent (the send buffer is empty and nothing
 * is queued), then one more latency so the receiver has delivered what it holds: a CLOSE
 * discards the receiver's held packets, so closing right after the last write would lose the
 * stream's tail. Bounded by `maxMs` (plus at most one latency).
 * @example await linger(conn, 120, 5000); await conn.close();
 */
export async function linger(conn: SluiceConnection, latencyMs: number, maxMs: number): Promise<void> {
  const until = performance.now() + maxMs;
  while (!conn.closed && performance.now() < until) {
    const s = conn.stats();
    if (s.sendQueue.bytes === 0 && s.sendBuffer.packets === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const rest = Math.min(latencyMs + 100, Math.max(0, until - performance.now()));
  if (!conn.closed && rest > 0) await new Promise((r) => setTimeout(r, rest));
}
