/**
 * Per-connection statistics: the split SRT users ask for between what was recovered (by FEC, by
 * retransmission) and what was lost for good, plus every reason a datagram was rejected.
 *
 * Counters are plain numeric fields on one object per connection (stable shape, no allocation
 * when incremented). `snapshot()` in the connection copies them into a plain object.
 */

/** Reasons a datagram addressed to a connection was dropped before use. */
export interface RejectCounters {
  /** Structural decode failures, by counter name (`rx_truncated`, ...). */
  decode: Record<string, number>;
  /** Tag did not verify: forged or mangled. */
  auth: number;
  /** Packet number already seen or too old: replayed. */
  replay: number;
  /** A packet type not valid in the connection's state (e.g. HELLO on an open connection). */
  unexpected: number;
}

export class ConnectionCounters {
  // ---- sending
  /** Datagrams sent (all types). */
  packetsSent = 0;
  /** Bytes sent (UDP payload). */
  bytesSent = 0;
  /** Original DATA packets sent. */
  dataSent = 0;
  /** DATA payload bytes sent (originals). */
  dataBytesSent = 0;
  /** REPAIR packets sent. */
  repairSent = 0;
  /** DATA retransmissions sent. */
  retransmitSent = 0;
  /** ACK/NACK/DROP/KEEPALIVE/CLOSE sent. */
  controlSent = 0;
  /** Frames accepted by sendFrame(). */
  framesQueued = 0;
  /** Frames refused by sendFrame() because the queue was full. */
  framesRefused = 0;
  /** Frames dropped at the sender because they waited in the queue past the latency budget. */
  framesDroppedLate = 0;
  /** NACKed sequences the send buffer no longer held (answered by DROP). */
  dropNoticesSent = 0;

  // ---- receiving
  /** Datagrams received and authenticated. */
  packetsReceived = 0;
  /** Bytes received (authenticated datagrams). */
  bytesReceived = 0;
  /** Distinct DATA sequences received from the network (originals and retransmissions). */
  dataReceived = 0;
  /** DATA packets that were duplicates of one held or delivered. */
  duplicate = 0;
  /** DATA packets that arrived after their sequence was given up. */
  late = 0;
  /** DATA packets rebuilt by FEC (and not received otherwise before delivery). */
  recoveredByFec = 0;
  /** DATA packets that arrived as retransmissions and filled a gap. */
  recoveredByArq = 0;
  /** Sequences lost for good (skipped at their deadline). */
  lost = 0;
  /** REPAIR packets received. */
  repairReceived = 0;
  /** NACK packets sent (receiver side). */
  nackSent = 0;
  /** Sequences requested in NACKs. */
  nackedSequences = 0;
  /** Frames delivered whole. */
  framesDelivered = 0;
  /** Frames reported lost. */
  framesLost = 0;
  /** DATA packets refused by the reorder buffer (beyond window with 'drop', oversize, no slot). */
  refused = 0;

  readonly rejected: RejectCounters = { decode: {}, auth: 0, replay: 0, unexpected: 0 };
}

/** A point-in-time statistics record, plain data (JSON-friendly). */
export interface ConnectionStats {
  readonly connId: number;
  readonly remoteConnId: number;
  readonly state: string;
  readonly elapsedMs: number;
  readonly sent: {
    readonly packets: number;
    readonly bytes: number;
    readonly data: number;
    readonly dataBytes: number;
    readonly repair: number;
    readonly retransmit: number;
    readonly control: number;
    readonly dropNotices: number;
    readonly framesQueued: number;
    readonly framesRefused: number;
    /** Frames dropped before sending: they waited longer than the latency budget. */
    readonly framesDroppedLate: number;
    /** Next DATA sequence this side will send. */
    readonly nextSeq: number;
    /** Send rate over the connection's life, bits/s. */
    readonly rateBps: number;
    /** Forward overhead: (repair + retransmit) / data. */
    readonly overhead: number;
    /**
     * Forward loss this side measures: sequences the peer NACKed for the first time per original
     * DATA sent, smoothed over about 2 s (0..1). Starts at `fecMinLoss`.
     */
    readonly lossEstimate: number;
    /** Repairs are going out now (FEC negotiated and the loss estimate calls for them: `fecMinLoss`). */
    readonly fecActive: boolean;
    /** Repairs not sent: withheld while the measured loss was under `fecMinLoss`, or overtaken by the next step. */
    readonly repairWithheld: number;
    /** Source packets each repair covers now (the default long FEC follows the send rate); 0 before the first send or without FEC. */
    readonly fecWindow: number;
  };
  readonly received: {
    readonly packets: number;
    readonly bytes: number;
    readonly data: number;
    readonly duplicate: number;
    readonly late: number;
    readonly repair: number;
    readonly refused: number;
    /**
     * Packets delivered before their release time to make room: the stream outran the receive
     * buffer (raise `expectedRateBps` or `receiveCapacity`). Frames still come whole and in order.
     */
    readonly expedited: number;
    readonly framesDelivered: number;
    readonly framesLost: number;
    /** Next sequence to deliver (everything before it was delivered or given up). */
    readonly nextExpectedSeq: number;
    /** One past the highest sequence known to exist (received, or announced by a KEEPALIVE). */
    readonly knownExtent: number;
  };
  readonly recovery: {
    readonly byFec: number;
    readonly byArq: number;
    readonly lost: number;
    readonly nacksSent: number;
    readonly nackedSequences: number;
  };
  readonly rejected: RejectCounters;
  readonly rtt: { readonly srttMs: number; readonly rttvarMs: number; readonly rtoMs: number; readonly samples: number };
  readonly receiveBuffer: { readonly packets: number; readonly bytes: number; readonly ms: number; readonly capacity: number };
  readonly sendBuffer: {
    readonly packets: number;
    readonly bytes: number;
    readonly capacityBytes: number;
    /**
     * Packets evicted by the byte or packet cap before their useful life ended: a NACK for them
     * gets a DROP instead of a retransmission. Non-zero means the stream outran the send buffer
     * (raise `expectedRateBps` or `sendBufferBytes`).
     */
    readonly evictedByCap: number;
    /** Queued retransmissions dropped unsent because they would have arrived after the deadline. */
    readonly retransmitTooLate: number;
    /** Retransmissions that had to wait for the retransmission budget (`retransmitShare`). */
    readonly retransmitRateLimited: number;
  };
  readonly sendQueue: { readonly frames: number; readonly bytes: number; readonly limitBytes: number };
  readonly clockOffsetMs: number;
}
