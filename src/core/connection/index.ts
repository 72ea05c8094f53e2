/** The connection layer: options, the sans-IO Connection and Endpoint, and the SimPair driver. */
export * from './options.js';
export * from './stats.js';
export * from './connection.js';
export * from './endpoint.js';
export * from './sim-pair.js';
export * from './frame-queue.js';
export * from './frame-assembler.js';
export * from './pacer.js';
export * from './clock-map.js';
