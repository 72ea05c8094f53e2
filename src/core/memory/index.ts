/**
 * `sluice/core` memory: the accounting contract, the {@link MemoryAccountant} (named accounts,
 * global budget, leak check), {@link BufferPool} / {@link PoolSet} (slab pools) and the
 * Prometheus text exposition.
 */
export * from './types.js';
export * from './buffer-pool.js';
export * from './accountant.js';
export * from './prometheus.js';
