/**
 * The memory contract every component of sluice is written against.
 *
 * Two kinds of bytes exist:
 * - **reserved** bytes: memory a component allocated for itself (typed-array rings, index
 *   tables, FEC symbol storage, pool slabs). Reservations count against the global byte budget
 *   and are refused with `ERR_SLUICE_BUDGET_EXCEEDED` (thrown by {@link MemoryAccount.reserve})
 *   when the budget would be exceeded. The process holds exactly the sum of all reservations.
 * - **used** bytes/packets: the part of a component's capacity currently occupied (packets
 *   held in a reorder buffer, slots taken from a pool). Occupancy is what operators watch
 *   (SRT's `pktRcvBuf` / `byteRcvBuf` / `msRcvBuf`).
 *
 * A component that takes slots from a {@link SlotSource} reports them as *used* in its own
 * account; the slab bytes behind the slots are *reserved* by the pool's account. So the sum of
 * reservations is what is held, and the sum of slots reported used by components equals the
 * slots the pools have handed out (the leak check compares the two).
 *
 * All methods are cheap field updates (no allocation): they are called per packet.
 */
export interface MemoryAccount {
  /** Dotted name, e.g. `conn.7.reorder`. */
  readonly name: string;
  /**
   * Reserves `bytes` of held memory against the budget. Call before allocating.
   * @throws BudgetExceededError (`code === 'ERR_SLUICE_BUDGET_EXCEEDED'`) when refused; nothing
   *   is reserved then.
   */
  reserve(bytes: number): void;
  /** Returns `bytes` previously reserved (after the memory was dropped or given back). */
  unreserve(bytes: number): void;
  /**
   * Declares the capacity the component enforces, for reporting (bytes and packets).
   * Not a reservation: a reorder buffer whose payload lives in pool slots declares
   * `capacity x slotSize` here but reserves only its index tables.
   */
  setCapacity(bytes: number, packets: number): void;
  /** Adds a (possibly negative) delta to occupancy: bytes and packets currently held. */
  use(bytes: number, packets: number): void;
  /** For buffers with time semantics: span in ms between the oldest and newest item held. */
  setSpanMs(ms: number): void;
}

/** Read-only view of one account, as published in snapshots. */
export interface AccountSnapshot {
  readonly name: string;
  readonly reservedBytes: number;
  readonly capacityBytes: number;
  readonly capacityPackets: number;
  readonly usedBytes: number;
  readonly usedPackets: number;
  readonly highWaterBytes: number;
  readonly highWaterPackets: number;
  readonly spanMs: number;
}

/**
 * A source of fixed-size buffers (a {@link BufferPool} size class). `acquire()` hands out a
 * preallocated view of `slotSize` bytes (no allocation on a hit) or `null` when the pool is at
 * its cap (the caller drops by policy and counts). `release()` takes back a buffer that this
 * source handed out; double release and foreign buffers are detected and counted.
 */
export interface SlotSource {
  /** Bytes per slot. */
  readonly slotSize: number;
  acquire(): Uint8Array | null;
  release(buf: Uint8Array): void;
}

/**
 * An account that records nothing and refuses nothing: for components used standalone, outside
 * any accountant. Shared and stateless, so it allocates nothing.
 */
export const DETACHED_ACCOUNT: MemoryAccount = Object.freeze({
  name: 'detached',
  reserve(_bytes: number): void {},
  unreserve(_bytes: number): void {},
  setCapacity(_bytes: number, _packets: number): void {},
  use(_bytes: number, _packets: number): void {},
  setSpanMs(_ms: number): void {},
});
