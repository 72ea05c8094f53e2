/**
 * Inputs and outputs of `sluice send` / `sluice recv`: `udp://HOST:PORT`, `file:PATH` and `-`
 * (stdin / stdout). A UDP input turns each datagram into one frame, a byte-stream input is cut
 * into frames of `chunk` bytes; a UDP output sends each frame as one datagram of the same bytes,
 * a byte-stream output writes the frames back to back.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { SluiceError } from '../core/errors.js';
import { parseUdpAddress, type UdpAddress } from '../io/impair-relay.js';
import { UsageError } from './common.js';

/** A parsed input or output spec. */
export type MediaSpec =
  | { readonly kind: 'udp'; readonly address: UdpAddress; readonly text: string }
  | { readonly kind: 'file'; readonly path: string; readonly text: string }
  | { readonly kind: 'stdio'; readonly text: string };

/**
 * Parses `udp://HOST:PORT`, `file:PATH` (also `file://PATH`) or `-`.
 * @throws UsageError naming `what` (input/output) and the accepted forms.
 * @example parseMediaSpec('input', 'udp://127.0.0.1:5000') // { kind: 'udp', address: { host: '127.0.0.1', port: 5000 }, ... }
 */
export function parseMediaSpec(what: 'input' | 'output', text: string): MediaSpec {
  const t = text.trim();
  if (t === '-') return { kind: 'stdio', text: t };
  if (/^udp:\/\//i.test(t)) {
    let address: UdpAddress;
    try {
      address = parseUdpAddress(what, t);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (what === 'output' && address.port === 0) throw new UsageError(`${what}: udp port must be in [1, 65535], got 0`);
    const host = address.host.toLowerCase() === 'localhost' ? '127.0.0.1' : address.host;
    return { kind: 'udp', address: { host, port: address.port }, text: t };
  }
  if (/^file:/i.test(t)) {
    const path = t.replace(/^file:(\/\/)?/i, '');
    if (path.length === 0) throw new UsageError(`${what}: file: needs a path (file:out.ts)`);
    return { kind: 'file', path, text: t };
  }
  if (/^sluice:\/\//i.test(t)) {
    throw new UsageError(`${what}: "${text}" is a sluice URL; expected udp://HOST:PORT, file:PATH or - (check the argument order)`);
  }
  throw new UsageError(`${what}: expected udp://HOST:PORT, file:PATH or - (stdin/stdout), got "${text}"`);
}

/**
 * Binds a UDP socket (4 MiB receive buffer requested), turning EADDRINUSE and friends into
 * `ERR_SLUICE_BIND` naming the address. The caller owns the socket and closes it.
 * @throws SluiceError `ERR_SLUICE_BIND`.
 * @example const s = await bindUdp('input', { host: '127.0.0.1', port: 5000 });
 */
export async function bindUdp(what: string, address: UdpAddress): Promise<dgram.Socket> {
  const type = address.host.includes(':') ? 'udp6' : 'udp4';
  const socket = dgram.createSocket({ type, recvBufferSize: 4 * 1024 * 1024 });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(address.port, address.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    socket.close();
    const code = (e as { code?: string }).code;
    const where = `udp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    const why =
      code === 'EADDRINUSE' ? 'the port is in use' : code === 'EADDRNOTAVAIL' ? 'not an address of this machine' : (e as Error).message;
    throw new SluiceError('ERR_SLUICE_BIND', `${what}: cannot bind ${where}: ${why}`);
  }
  return socket;
}

/**
 * Cuts a byte stream into chunks of exactly `size` bytes (the last one may be shorter). Each
 * yielded chunk is a fresh Uint8Array the consumer owns (it may be queued by reference).
 * @example for await (const frame of chunked(process.stdin, 1316)) conn.send(frame, { copy: false });
 */
export async function* chunked(source: AsyncIterable<Uint8Array | string>, size: number): AsyncGenerator<Uint8Array, void, undefined> {
  let buf = new Uint8Array(size);
  let fill = 0;
  for await (const piece of source) {
    const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(size - fill, bytes.length - off);
      buf.set(bytes.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === size) {
        yield buf;
        buf = new Uint8Array(size);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}

/** An opened byte-stream input (file or stdin). */
export interface StreamInput {
  readonly stream: Readable;
  close(): Promise<void>;
}

/**
 * Opens `file:PATH` or stdin for reading.
 * @throws SluiceError `ERR_SLUICE_INPUT` naming the file when it cannot be opened.
 */
export async function openStreamInput(spec: MediaSpec): Promise<StreamInput> {
  if (spec.kind === 'stdio') return { stream: process.stdin, close: async () => undefined };
  if (spec.kind !== 'file') throw new Error('openStreamInput: not a byte-stream input');
  let fh: FileHandle;
  try {
    fh = await open(spec.path, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new SluiceError('ERR_SLUICE_INPUT', `cannot read input ${spec.text}: ${why}`);
  }
  const stream = fh.createReadStream({ highWaterMark: 64 * 1024 });
  return {
    stream,
    close: async () => {
      stream.destroy();
      await fh.close().catch(() => undefined);
    },
  };
}

/** Where received frames go. */
export interface FrameOutput {
  /** Writes one frame (in order). Never throws: write errors are counted. */
  write(frame: Uint8Array): void;
  /** Frames written / bytes written / write errors so far. */
  readonly counters: { frames: number; bytes: number; errors: number };
  /** Flushes and closes. */
  close(): Promise<void>;
}

/**
 * Opens an output: a UDP socket sending to `udp://HOST:PORT` (one datagram per frame; frames
 * over 65507 bytes are counted as errors), a file (created or truncated) or stdout. `write`
 * keeps a reference to the frame until it is written: do not reuse it.
 * @example const out = await openOutput(parseMediaSpec('output', 'file:out.ts')); out.write(frame); await out.close();
 * @throws SluiceError `ERR_SLUICE_OUTPUT` naming the file when it cannot be created.
 */
export async function openOutput(spec: MediaSpec): Promise<FrameOutput> {
  const counters = { frames: 0, bytes: 0, errors: 0 };
  if (spec.kind === 'udp') {
    const { host, port } = spec.address;
    const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', sendBufferSize: 4 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host.includes(':') ? '::' : '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Connected to the one destination: a send carries no address (no dns.lookup and no
    // process.nextTick per datagram) and takes no callback (another nextTick each); a receiver
    // that is not listening shows up as ECONNREFUSED 'error' events, counted.
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      socket.close();
      throw new SluiceError('ERR_SLUICE_OUTPUT', `cannot send to output ${spec.text}: ${(e as Error).message}`);
    }
    socket.on('error', () => void counters.errors++);
    return {
      counters,
      write(frame) {
        if (frame.length > 65507) {
          counters.errors++;
          return;
        }
        counters.frames++;
        counters.bytes += frame.length;
        socket.send(frame);
      },
      async close() {
        // Sends the kernel could not take at once wait in libuv's queue (holding their frames).
        const until = Date.now() + 2000;
        while (socket.getSendQueueCount() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
        await new Promise<void>((r) => socket.close(() => r()));
      },
    };
  }
  let stream: Writable;
  if (spec.kind === 'stdio') {
    stream = process.stdout;
  } else if (spec.kind === 'file') {
    let fh: FileHandle;
    try {
      fh = await open(spec.path, 'w');
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      throw new SluiceError('ERR_SLUICE_OUTPUT', `cannot write output ${spec.text}: ${why}`);
    }
    stream = fh.createWriteStream();
  } else {
    throw new Error('openOutput: unknown spec');
  }
  stream.on('error', () => void counters.errors++);
  return {
    counters,
    write(frame) {
      counters.frames++;
      counters.bytes += frame.length;
      stream.write(frame);
    },
    async close() {
      if (stream === process.stdout) {
        if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
        return;
      }
      await new Promise<void>((r) => stream.end(() => r()));
    },
  };
}
