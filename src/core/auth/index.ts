/**
 * Packet authentication for sluice: key schedule (HKDF-SHA256), per-packet protection behind
 * {@link PacketProtector}, the anti-replay window and stateless handshake cookies.
 * Everything here is pure (no node:*); src/io/node-protector.ts adds a node:crypto protector.
 *
 * `TAG_LENGTH`, `NONCE_LENGTH` and `COOKIE_LENGTH` are not re-exported here: src/core/wire
 * exports the same names with the same values (a test pins the equality), and two `export *`
 * of one name would cancel each other in src/core/index.ts.
 */
export {
  C2S_INFO,
  DIRECTION_C2S,
  DIRECTION_S2C,
  HANDSHAKE_INFO,
  HANDSHAKE_SALT,
  KEY_LENGTH,
  MAX_PSK_LENGTH,
  MIN_PSK_LENGTH,
  S2C_INFO,
  deriveHandshakeKey,
  deriveSessionKeys,
  pskBytes,
  type Direction,
  type PreSharedKey,
  type SessionKeys,
} from './keys.js';
export {
  MAX_PACKET_INDEX,
  PACKET_NONCE_LENGTH,
  constantTimeEqual,
  validRegion,
  writePacketNonce,
  type PacketProtector,
  type ProtectionMode,
  type ProtectorFactory,
} from './protector.js';
export { HMAC_SHA256_LENGTH, MIN_HMAC_KEY_LENGTH, PREKEYED_HMAC_BYTES, PrekeyedHmac, checkKey } from './prekeyed-hmac.js';
export {
  DEFAULT_DIRECTION,
  HMAC_PROTECTOR_BYTES,
  HmacProtector,
  createHmacProtector,
  type HmacProtectorOptions,
} from './hmac-protector.js';
export {
  DEFAULT_REPLAY_WINDOW,
  MAX_REPLAY_WINDOW,
  MIN_REPLAY_WINDOW,
  ReplayWindow,
  type ReplayWindowStats,
} from './replay-window.js';
export {
  COOKIE_ISSUER_BYTES,
  CookieIssuer,
  DEFAULT_COOKIE_BUCKET_MS,
  MAX_COOKIE_ADDRESS_LENGTH,
  MAX_COOKIE_BUCKET_MS,
  MIN_COOKIE_BUCKET_MS,
  type CookieIssuerOptions,
  type CookieStats,
  type RandomFill,
} from './cookie.js';
