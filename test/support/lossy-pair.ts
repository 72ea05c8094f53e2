/**
 * A connected SimPair (virtual time) whose two directions share one impairment with their own
 * seeds, counting the frames the listener delivers. Shared by the connection tests that stream
 * through loss.
 */
import { expect } from 'vitest';
import { SimPair } from '../../src/core/connection/sim-pair.js';
import type { ConnectionOptions } from '../../src/core/connection/options.js';
import type { ImpairmentOptions } from '../../src/core/link-model.js';

export interface LossyPair {
  readonly pair: SimPair;
  /** Frames the listener has delivered so far. */
  delivered(): number;
}

/**
 * Opens the pair and completes the handshake. `onFrame` sees every delivered frame's bytes.
 * The reverse direction uses `seed + reverseSeedOffset`.
 */
export function lossyPair(
  connection: ConnectionOptions,
  impairment: ImpairmentOptions,
  seed: number,
  reverseSeedOffset = 1000,
  onFrame?: (data: Uint8Array) => void,
): LossyPair {
  const pair = new SimPair({
    connection,
    forward: { ...impairment, seed, capacity: 65536 },
    backward: { ...impairment, seed: seed + reverseSeedOffset, capacity: 65536 },
    seed,
  });
  pair.keepLog = false;
  let delivered = 0;
  pair.onEvent = (side, e) => {
    if (side !== 'server' || e.type !== 'frame') return;
    delivered++;
    onFrame?.(e.data);
  };
  expect(pair.handshake()).toBe(true);
  return { pair, delivered: () => delivered };
}
