/**
 * sluice: live media over UDP for Node.js, with Reed-Solomon sliding-window FEC, selective
 * retransmission, deadline-driven delivery and accounted, bounded memory.
 *
 * The root exports the Node API (`listen`, `connect`) and everything of `sluice/core`.
 */
export * from './core/index.js';
export * from './io/api.js';
export * from './io/memory-publisher.js';
export {
  NodeProtector,
  createNodeProtector,
  DEFAULT_AEAD_ALGORITHM,
  type AeadAlgorithm,
  type NodeProtectorOptions,
} from './io/node-protector.js';
export { ImpairRelay, type ImpairRelayOptions, type ImpairRelayStats } from './io/impair-relay.js';
