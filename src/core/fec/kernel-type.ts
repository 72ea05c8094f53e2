/**
 * Signature of a multiply-accumulate kernel: `dst += c * src` over `blocks` 32-byte blocks, where
 * the constant c is baked into the function. `s` and `d` are offsets in 32-bit words into the
 * two arrays (multiples of 8); both advance by 8 words per block. `dst` is overwritten in place
 * (XOR-accumulated); `src` is only read. The ranges must not overlap.
 */
export type Kernel = (src: Uint32Array, s: number, dst: Uint32Array, d: number, blocks: number) => void;
