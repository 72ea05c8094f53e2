/**
 * `sluice/core` FEC: Reed-Solomon (Cauchy, GF(2^8), bit-plane layout) over a sliding window.
 * See spec/fec.md for the code, the guarantee and the wire fields.
 */
export { GF_POLY, GF_EXP, GF_LOG, GF_MUL, GF_INV, gfMul, gfDiv, gfInv, gfPow } from './gf256.js';
export { GF_BITMATRIX, bitMatrixWeight } from './bitmatrix.js';
export { cauchyCoefficient, FEC_MAX_WINDOW, FEC_REPAIR_INDEXES } from './cauchy.js';
export { FEC_BLOCK_BYTES, FAST_KERNELS, mulAdd, mulAddRef, mulAddElementwise, warmUpKernels, type Kernel } from './kernels.js';
export {
  FEC_SYMBOL_PREFIX,
  FEC_SYMBOL_ALIGN,
  FEC_PROTECTED_FLAGS,
  FEC_MAX_PAYLOAD,
  fecSymbolLength,
  writeSourceSymbol,
} from './symbol.js';
export {
  StreamingFecEncoder,
  RepairInfo,
  DEFAULT_FEC_WINDOW,
  DEFAULT_FEC_STEP,
  DEFAULT_FEC_REPAIRS,
  DEFAULT_FEC_MAX_PAYLOAD,
  type FecEncoderOptions,
  type FecEncoderStats,
} from './encoder.js';
export {
  StreamingFecDecoder,
  RecoveredPacket,
  FecRepairStatus,
  FecSourceStatus,
  FEC_REPAIR_STATUS_COUNTERS,
  FEC_SOURCE_STATUS_COUNTERS,
  FEC_RECOVERED_FLAG,
  DEFAULT_FEC_MAX_REPAIRS,
  FEC_MAX_REPAIRS_LIMIT,
  FEC_MAX_SPAN,
  type FecDecoderOptions,
  type FecDecoderStats,
} from './decoder.js';
