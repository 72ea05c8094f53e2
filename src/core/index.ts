/**
 * `sluice/core`: the pure, deterministic building blocks (no sockets, no clock, no timers).
 * Everything here runs under a fake clock; time is always an argument in milliseconds.
 */
export * from './seq.js';
export * from './errors.js';
export * from './bytes.js';
export * from './random.js';
export * from './memory/index.js';
export * from './wire/index.js';
export * from './auth/index.js';
export * from './fec/index.js';
export * from './reorder-buffer.js';
export * from './send-buffer.js';
export * from './rtt.js';
// DEFAULT_MAX_NACK_RANGES is the wire's (same value, 227): exported once, from wire.
export {
  DEFAULT_REORDER_TOLERANCE_MS,
  DEFAULT_FEC_HOLD_MS,
  DEFAULT_NACK_RETRY_FACTOR,
  DEFAULT_MIN_RETRY_MS,
  DEFAULT_NACK_CAPACITY,
  NackScheduler,
  NackSchedulerStats,
  type LossListSource,
  type NackSchedulerOptions,
} from './nack-scheduler.js';
export * from './link-model.js';
export * from './connection/index.js';
