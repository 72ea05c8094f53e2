/**
 * Wire format v1 constants: packet types, flag bits, fixed offsets and sizes, and the limits
 * the codec enforces. spec/protocol.md is the contract; every number here is quoted there.
 *
 * All multi-byte integers on the wire are big-endian (network byte order).
 */

/** The only wire version this codec speaks. */
export const WIRE_VERSION = 1;
/** Lowest and highest wire versions this implementation supports (sent in HELLO / REJECT). */
export const MIN_SUPPORTED_VERSION = 1;
/** @see MIN_SUPPORTED_VERSION */
export const MAX_SUPPORTED_VERSION = 1;

/**
 * Packet type codes (header byte 1).
 * @example if (view.type === PacketType.DATA) { ... }
 */
export const PacketType = {
  HELLO: 0x01,
  COOKIE: 0x02,
  ACCEPT: 0x03,
  DATA: 0x04,
  REPAIR: 0x05,
  ACK: 0x06,
  NACK: 0x07,
  DROP: 0x08,
  KEEPALIVE: 0x09,
  CLOSE: 0x0a,
  REJECT: 0x0b,
} as const;
/** One of the {@link PacketType} codes. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];
/** Lowest and highest assigned type codes (types are contiguous in v1). */
export const PACKET_TYPE_MIN = 0x01;
/** @see PACKET_TYPE_MIN */
export const PACKET_TYPE_MAX = 0x0b;
/** Lower-case names indexed by type code (index 0 and unknown codes are `'unknown'`). */
export const PACKET_TYPE_NAMES: readonly string[] = [
  'unknown',
  'hello',
  'cookie',
  'accept',
  'data',
  'repair',
  'ack',
  'nack',
  'drop',
  'keepalive',
  'close',
  'reject',
];

/**
 * DATA flag bits (header byte 2 of a DATA packet). Unknown bits are sent as 0 and ignored
 * (masked off) on receive.
 */
export const DataFlags = {
  /** First fragment of a frame. */
  FIRST: 0x01,
  /** Last fragment of a frame. */
  LAST: 0x02,
  /** This packet is a retransmission (same seq, new packet number). */
  RETRANSMIT: 0x04,
  /** The frame is a keyframe (random access point). */
  KEYFRAME: 0x08,
  /** Local only: the packet was rebuilt by FEC. Never sent; masked off on receive. */
  FEC_RECOVERED: 0x10,
} as const;
/** DATA flag bits that may appear on the wire. */
export const DATA_FLAGS_WIRE_MASK = 0x0f;
/** DATA flag bits carried inside the FEC source symbol (RETRANSMIT is not: a copy is identical). */
export const DATA_FLAGS_FEC_MASK = 0x0b;

/** HELLO flag bits. */
export const HelloFlags = {
  /** The HELLO carries a cookie copied from a COOKIE (the second HELLO of the handshake). */
  COOKIE: 0x01,
} as const;
/** HELLO flag bits that may appear on the wire. */
export const HELLO_FLAGS_WIRE_MASK = 0x01;

/** Session flag bits inside the session parameter block (HELLO, ACCEPT). */
export const SessionFlags = {
  /** Selective retransmission (NACK/DROP) is enabled. */
  ARQ: 0x01,
  /** Packets after the handshake are AEAD-protected instead of HMAC-tagged. */
  AEAD: 0x02,
} as const;
/** Session flag bits defined in v1. */
export const SESSION_FLAGS_WIRE_MASK = 0x03;

/** REJECT reason codes. */
export const RejectReason = {
  /** The listener supports none of the versions in [minVersion, maxVersion] of the HELLO. */
  VERSION: 1,
  /** The HELLO's tag did not verify under the listener's handshake key (unauthenticated hint). */
  AUTH_FAILED: 2,
  /** The listener is at its connection limit or memory budget. */
  BUSY: 3,
  /** The session parameters are outside what the listener accepts. */
  BAD_PARAMS: 4,
  /** The cookie did not verify or has expired: start over with a fresh HELLO. */
  BAD_COOKIE: 5,
} as const;

/** CLOSE reason codes (the message is free UTF-8 text for humans). */
export const CloseReason = {
  /** Normal end of stream. */
  NORMAL: 0,
  /** Idle timeout: nothing heard from the peer for the idle period. */
  IDLE_TIMEOUT: 1,
  /** The peer violated the protocol. */
  PROTOCOL_ERROR: 2,
  /** The application aborted the connection. */
  APPLICATION: 3,
  /** The endpoint is shutting down. */
  SHUTDOWN: 4,
  /** The packet number space is exhausted (2^32 packets sent with one key). */
  KEY_EXHAUSTED: 5,
} as const;

// ---------------------------------------------------------------------------------------------
// Sizes and offsets (bytes, relative to the first byte of the packet).

/** Common header length. */
export const HEADER_LENGTH = 12;
/** Authentication tag length; the tag is always the last 16 bytes of the datagram. */
export const TAG_LENGTH = 16;
/** Smallest well-formed datagram: header + tag (no type has an empty body, so none is this short). */
export const MIN_PACKET_LENGTH = HEADER_LENGTH + TAG_LENGTH;

/** Header field offsets. */
export const OFF_VERSION = 0;
/** @see OFF_VERSION */
export const OFF_TYPE = 1;
/** @see OFF_VERSION */
export const OFF_FLAGS = 2;
/** @see OFF_VERSION */
export const OFF_RESERVED = 3;
/** @see OFF_VERSION */
export const OFF_CONN_ID = 4;
/** @see OFF_VERSION */
export const OFF_PACKET_NUMBER = 8;

/** DATA: seq u32 | timestamp u32 | frameLength u32, then the payload. */
export const DATA_HEADER_LENGTH = 24;
/** Offset of the DATA payload: write payload bytes here to fragment without a copy. */
export const DATA_PAYLOAD_OFFSET = DATA_HEADER_LENGTH;
/** DATA overhead: header + body fields + tag. */
export const DATA_OVERHEAD = DATA_HEADER_LENGTH + TAG_LENGTH;

/** REPAIR: windowStart u32 | windowLength u16 | repairIndex u16 | symbolLength u16 | reserved u16. */
export const REPAIR_HEADER_LENGTH = 24;
/** Offset of the REPAIR symbol. */
export const REPAIR_SYMBOL_OFFSET = REPAIR_HEADER_LENGTH;
/** REPAIR overhead: header + body fields + tag. */
export const REPAIR_OVERHEAD = REPAIR_HEADER_LENGTH + TAG_LENGTH;
/** FEC source-symbol prefix: flags u8 | reserved u8 | payloadLength u16 | timestamp u32 | frameLength u32. */
export const FEC_SYMBOL_PREFIX_LENGTH = 12;

/** ACK: ackSeq | echoTimestamp | ackDelayUs | recvRatePps | bufferFreePackets, all u32. */
export const ACK_LENGTH = HEADER_LENGTH + 20 + TAG_LENGTH;
/** NACK/DROP: largestPn u32, rangeCount u16, then (start u32, count u16) per range. */
export const RANGES_BASE_LENGTH = HEADER_LENGTH + 4 + 2 + TAG_LENGTH;
/** Bytes per NACK/DROP range. */
export const RANGE_ENTRY_LENGTH = 6;
/** KEEPALIVE: timestamp u32 | echoTimestamp u32 | nextSeq u32 (40 bytes with header and tag). */
export const KEEPALIVE_LENGTH = HEADER_LENGTH + 12 + TAG_LENGTH;
/** CLOSE: reason u16 | msgLength u16, then the UTF-8 message. */
export const CLOSE_BASE_LENGTH = HEADER_LENGTH + 4 + TAG_LENGTH;

/** Nonce length in HELLO/COOKIE/ACCEPT/REJECT. */
export const NONCE_LENGTH = 16;
/** Cookie length in COOKIE and the second HELLO. */
export const COOKIE_LENGTH = 32;
/** Session parameter block length (HELLO, ACCEPT). */
export const PARAMS_LENGTH = 16;

/** HELLO body offsets (from the start of the packet). */
export const HELLO_OFF_MIN_VERSION = 12;
/** @see HELLO_OFF_MIN_VERSION */
export const HELLO_OFF_MAX_VERSION = 13;
/** @see HELLO_OFF_MIN_VERSION */
export const HELLO_OFF_SOURCE_CONN_ID = 16;
/** @see HELLO_OFF_MIN_VERSION */
export const HELLO_OFF_TIMESTAMP = 20;
/** @see HELLO_OFF_MIN_VERSION */
export const HELLO_OFF_NONCE = 28;
/** @see HELLO_OFF_MIN_VERSION */
export const HELLO_OFF_PARAMS = 44;
/** @see HELLO_OFF_MIN_VERSION */
export const HELLO_OFF_COOKIE = 60;
/** End of the HELLO's fixed fields; padding runs from here to the tag. */
export const HELLO_OFF_PADDING = 92;
/**
 * Minimum HELLO datagram length (anti-amplification): every listener reply (COOKIE, ACCEPT,
 * REJECT) is smaller than this, so a spoofed HELLO cannot make the listener send more bytes
 * than it received.
 */
export const HELLO_MIN_LENGTH = 1200;

/** COOKIE: echoTimestamp | reserved u32 | clientNonce 16 | cookie 32. */
export const COOKIE_OFF_ECHO_TIMESTAMP = 12;
/** @see COOKIE_OFF_ECHO_TIMESTAMP */
export const COOKIE_OFF_NONCE = 20;
/** @see COOKIE_OFF_ECHO_TIMESTAMP */
export const COOKIE_OFF_COOKIE = 36;
/** COOKIE datagram length. */
export const COOKIE_PACKET_LENGTH = 68 + TAG_LENGTH;

/** ACCEPT: version u8 | reserved u8 | reserved u16 | sourceConnId | timestamp | echoTimestamp | nonces | params. */
export const ACCEPT_OFF_VERSION = 12;
/** @see ACCEPT_OFF_VERSION */
export const ACCEPT_OFF_SOURCE_CONN_ID = 16;
/** @see ACCEPT_OFF_VERSION */
export const ACCEPT_OFF_TIMESTAMP = 20;
/** @see ACCEPT_OFF_VERSION */
export const ACCEPT_OFF_ECHO_TIMESTAMP = 24;
/** @see ACCEPT_OFF_VERSION */
export const ACCEPT_OFF_CLIENT_NONCE = 28;
/** @see ACCEPT_OFF_VERSION */
export const ACCEPT_OFF_SERVER_NONCE = 44;
/** @see ACCEPT_OFF_VERSION */
export const ACCEPT_OFF_PARAMS = 60;
/** ACCEPT datagram length. */
export const ACCEPT_PACKET_LENGTH = 76 + TAG_LENGTH;

/** REJECT: reason u16 | minVersion u8 | maxVersion u8 | echoTimestamp u32 | clientNonce 16. */
export const REJECT_OFF_REASON = 12;
/** @see REJECT_OFF_REASON */
export const REJECT_OFF_MIN_VERSION = 14;
/** @see REJECT_OFF_REASON */
export const REJECT_OFF_MAX_VERSION = 15;
/** @see REJECT_OFF_REASON */
export const REJECT_OFF_ECHO_TIMESTAMP = 16;
/** @see REJECT_OFF_REASON */
export const REJECT_OFF_NONCE = 20;
/** REJECT datagram length. */
export const REJECT_PACKET_LENGTH = 36 + TAG_LENGTH;

// ---------------------------------------------------------------------------------------------
// Limits.

/** Default maximum datagram (UDP payload) size: fits a 1500-byte Ethernet MTU with headroom. */
export const DEFAULT_MAX_DATAGRAM = 1400;
/** Smallest allowed `maxDatagram`: a padded HELLO must fit. */
export const MIN_MAX_DATAGRAM = HELLO_MIN_LENGTH;
/** Largest allowed `maxDatagram`: the largest IPv4 UDP payload. */
export const MAX_MAX_DATAGRAM = 65507;
/** Default maximum DATA payload: 1400 - 24 - 16. */
export const DEFAULT_MAX_PAYLOAD = DEFAULT_MAX_DATAGRAM - DATA_OVERHEAD;
/** Default maximum frame size (8 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** Largest `maxFrameBytes` the wire can express (frameLength is a u32). */
export const MAX_MAX_FRAME_BYTES = 0xffff_ffff;
/** Largest FEC window (source packets per REPAIR): Cauchy over GF(2^8) needs window + repairs <= 256. */
export const MAX_FEC_WINDOW = 255;
/**
 * Largest number of ranges one NACK/DROP can carry at a given datagram size (bytes).
 * @example maxRangesFor(1400) === 227
 */
export function maxRangesFor(maxDatagram: number): number {
  return Math.floor((maxDatagram - RANGES_BASE_LENGTH) / RANGE_ENTRY_LENGTH);
}
/** Default maximum NACK/DROP ranges per packet: (1400 - 34) / 6 = 227. */
export const DEFAULT_MAX_NACK_RANGES = 227;
