/**
 * Decode statuses: what {@link decodePacket} and {@link peekHeader} return instead of throwing.
 *
 * Codes are small consecutive integers so a connection can count them in a preallocated
 * `Uint32Array(DECODE_STATUS_COUNT)` indexed by status; {@link DECODE_STATUS_COUNTERS} gives the
 * stable counter names (`rx_truncated`, ...) that statistics and Prometheus output use.
 */

/**
 * Result of decoding one datagram. `OK` is 0; every other code is a reason to drop the datagram.
 * @example
 * const st = decodePacket(view, buf, 0, n);
 * if (st !== DecodeStatus.OK) { counters[st]++; return; }
 */
export const DecodeStatus = {
  /** Well-formed; the view holds every field. */
  OK: 0,
  /** Shorter than header + tag, or than the fixed part of its type; or outside `buf`. */
  TRUNCATED: 1,
  /** Longer than the view's `maxDatagram` limit. */
  OVERSIZED: 2,
  /** Header version is not 1, or a HELLO/ACCEPT version field is invalid. */
  BAD_VERSION: 3,
  /** Type byte is not an assigned packet type. */
  UNKNOWN_TYPE: 4,
  /** A length field disagrees with the datagram length (REPAIR symbol, NACK ranges, CLOSE message, fixed-size types). */
  BAD_LENGTH: 5,
  /** A NACK/DROP with zero ranges, too many ranges, or an empty range; a REPAIR window of 0 or > 255. */
  BAD_RANGE: 6,
  /** A reserved byte or field that must be zero is not. */
  BAD_RESERVED: 7,
  /** Connection id 0 on a type other than HELLO, non-zero on a HELLO, or a source connection id of 0. */
  BAD_CONN_ID: 8,
  /** A HELLO shorter than 1200 bytes (anti-amplification padding missing). */
  HELLO_TOO_SHORT: 9,
  /** A session parameter block outside the structural limits. */
  BAD_PARAMS: 10,
  /** DATA whose frameLength exceeds the limit, is smaller than the payload, or disagrees with FIRST|LAST. */
  BAD_FRAME: 11,
} as const;
/** One of the {@link DecodeStatus} codes. */
export type DecodeStatus = (typeof DecodeStatus)[keyof typeof DecodeStatus];

/** Number of status codes: size a counter array with this. */
export const DECODE_STATUS_COUNT = 12;

/** Stable counter names indexed by status code. */
export const DECODE_STATUS_COUNTERS: readonly string[] = Object.freeze([
  'rx_ok',
  'rx_truncated',
  'rx_oversized',
  'rx_bad_version',
  'rx_unknown_type',
  'rx_bad_length',
  'rx_bad_range',
  'rx_bad_reserved',
  'rx_bad_conn_id',
  'rx_hello_too_short',
  'rx_bad_params',
  'rx_bad_frame',
]);

/**
 * Stable counter name of a status, e.g. `decodeStatusName(DecodeStatus.TRUNCATED) === 'rx_truncated'`.
 * Returns `'rx_unknown_status'` for a number that is not a status.
 */
export function decodeStatusName(status: number): string {
  return DECODE_STATUS_COUNTERS[status] ?? 'rx_unknown_status';
}
