/**
 * Wire format v1 codec (spec/protocol.md is the contract): constants, decode statuses, the
 * reusable {@link PacketView}, `peekHeader` / `decodePacket`, and the `encodeXxxInto` family.
 */
export * from './constants.js';
export * from './status.js';
export * from './view.js';
export * from './decode.js';
export * from './encode.js';
export * from './encode-view.js';
