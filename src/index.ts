/**
 * sluice: live media over UDP for Node.js, with Reed-Solomon sliding-window FEC, selective
 * retransmission, deadline-driven delivery and accounted, bounded memory.
 */
export * from './core/index.js';
