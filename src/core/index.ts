/**
 * `sluice/core`: the pure, deterministic building blocks (no sockets, no clock, no timers).
 * Everything here runs under a fake clock; time is always an argument in milliseconds.
 */
export * from './seq.js';
export * from './errors.js';
export * from './memory/types.js';
