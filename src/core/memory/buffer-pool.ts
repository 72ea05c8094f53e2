/**
 * BufferPool: fixed-size slots carved out of slabs, handed out and taken back without
 * allocating, charged to a {@link MemoryAccount}.
 *
 * Layout. A slab is one `ArrayBuffer` of `slotSize x slotsPerSlab` bytes (the last slab of a
 * pool whose `maxSlots` is not a multiple of `slotsPerSlab` is shorter). Slot `id` lives in slab
 * `id / slotsPerSlab` (integer division) at byte offset `(id % slotsPerSlab) x slotSize`. The
 * `Uint8Array` view of every slot is created once, when its slab is created, so an `acquire()`
 * served from the free list allocates nothing: it pops an id from an `Int32Array` stack and
 * returns the cached view.
 *
 * Release. The slot id of a buffer is found by arithmetic: its `buffer` (the slab's
 * `ArrayBuffer`, looked up in a map filled once per slab, never per call) gives the slab, its
 * `byteOffset` the slot. A buffer that is not the exact view this pool handed out (another
 * pool's slot, a `subarray`, a copy) is *foreign*; a slot released twice is a *double release*.
 * Both are counted always and throw {@link PoolReleaseError} when `devChecks` is on (the I/O layer
 * decides the default, typically `NODE_ENV !== 'production'`); with `devChecks` off the call is
 * ignored, so the pool's state stays consistent.
 *
 * Accounting. Slab bytes and the bookkeeping typed arrays are *reserved* on the pool's account
 * (so the global budget applies to growth); the account's capacity is `maxSlots x slotSize`.
 * Occupancy is NOT reported as `use()` on the pool's account: the component holding a slot
 * reports it in its own account (see `types.ts`), and counting it twice would break the sum of
 * used bytes. Pool occupancy is in {@link PoolStats} (`inUse`, `highWater`).
 *
 * Buffer ownership: a slot returned by `acquire()` belongs to the caller until it passes the
 * same object to `release()`. Contents are NOT cleared between uses unless `scrub` is set.
 */
import { SluiceError, SluiceRangeError, SluiceStateError, SluiceTypeError, checkInt } from '../errors.js';
import { DETACHED_ACCOUNT, type MemoryAccount, type SlotSource } from './types.js';

/** Default slot size in bytes: 1,472 = 1,500-byte Ethernet MTU - 20 (IPv4) - 8 (UDP), the
 * largest datagram that is not fragmented on a standard path. It holds a default 1,400-byte
 * sluice datagram and a default FEC source symbol (12-byte prefix + 1,360-byte payload). */
export const DEFAULT_SLOT_SIZE = 1472;
/** Default slots per slab: 64 x 1,472 = 94,208 bytes, small enough that a pool grows in
 * steps of well under 100 KiB and large enough that growth is rare (one miss per 64 slots). */
export const DEFAULT_SLOTS_PER_SLAB = 64;
/** Default cap of slots per pool: 8,192 x 1,472 B = 11.5 MiB, enough for a 100 Mbps stream
 * with ~1 s of buffering, or ~80 streams at 10 Mbps and 120 ms. */
export const DEFAULT_MAX_SLOTS = 8192;
/** Largest slot size accepted (16 MiB): slots are packet/symbol buffers, not whole frames. */
export const MAX_SLOT_SIZE = 1 << 24;
/** Largest `maxSlots` accepted (2^22): keeps the bookkeeping arrays under 24 MiB. */
export const MAX_POOL_SLOTS = 1 << 22;

/** Error code of a slot released twice. */
export const ERR_POOL_DOUBLE_RELEASE = 'ERR_SLUICE_POOL_DOUBLE_RELEASE';
/** Error code of a buffer this pool did not hand out. */
export const ERR_POOL_FOREIGN_BUFFER = 'ERR_SLUICE_POOL_FOREIGN_BUFFER';

/**
 * Thrown by {@link BufferPool.release} with `devChecks` on, for a double release
 * (`code === 'ERR_SLUICE_POOL_DOUBLE_RELEASE'`) or a foreign buffer
 * (`code === 'ERR_SLUICE_POOL_FOREIGN_BUFFER'`). Counted in {@link PoolStats} either way.
 */
export class PoolReleaseError extends SluiceError {
  /** Name of the pool that refused the buffer. */
  readonly pool: string;
  constructor(code: typeof ERR_POOL_DOUBLE_RELEASE | typeof ERR_POOL_FOREIGN_BUFFER, pool: string, message: string) {
    super(code, message);
    this.pool = pool;
  }
}

/** Options of {@link BufferPool}. */
export interface BufferPoolOptions {
  /** Bytes per slot, 1..2^24. Default {@link DEFAULT_SLOT_SIZE} (1,472). */
  readonly slotSize?: number;
  /** Slots per slab (growth step), 1..maxSlots. Default {@link DEFAULT_SLOTS_PER_SLAB} (64),
   * clamped to `maxSlots` when that is smaller and `slotsPerSlab` was not given. */
  readonly slotsPerSlab?: number;
  /** Cap on slots this pool ever holds, 1..2^22. `acquire()` returns `null` beyond it.
   * Default {@link DEFAULT_MAX_SLOTS} (8,192). */
  readonly maxSlots?: number;
  /** Account charged for slabs and bookkeeping. Default {@link DETACHED_ACCOUNT}. */
  readonly account?: MemoryAccount;
  /** Name in stats and errors. Default: the account's name, or `pool.<slotSize>` when detached. */
  readonly name?: string;
  /** Throw {@link PoolReleaseError} on double/foreign release (always counted). Default true
   * here; the I/O layer passes `NODE_ENV !== 'production'`. */
  readonly devChecks?: boolean;
  /** Zero a slot when it is released (no stale payload leaks to the next user). Default false. */
  readonly scrub?: boolean;
  /** Preallocate this many slabs in the constructor (reserved at once). Default 0. */
  readonly initialSlabs?: number;
  /** Called once after {@link BufferPool.close} released everything (used by the accountant). */
  readonly onClose?: (pool: BufferPool) => void;
}

/** Counters and gauges of one pool; a plain object, safe to serialise. */
export interface PoolStats {
  readonly name: string;
  /** Bytes per slot. */
  readonly slotSize: number;
  readonly slotsPerSlab: number;
  /** Cap on slots. */
  readonly maxSlots: number;
  /** Slabs currently allocated. */
  readonly slabs: number;
  /** Slots in allocated slabs (in use + free). */
  readonly slotsAllocated: number;
  /** Slots handed out and not yet released. */
  readonly inUse: number;
  /** Largest `inUse` seen. */
  readonly highWater: number;
  /** Acquires served from already-allocated memory (no allocation). */
  readonly hits: number;
  /** Acquires that had to grow a slab or were refused: `grows + refusedCap + refusedBudget`. */
  readonly misses: number;
  /** Slab allocations caused by an acquire. */
  readonly grows: number;
  /** Acquires that returned null because the pool was at `maxSlots`. */
  readonly refusedCap: number;
  /** Acquires that returned null because the budget refused a new slab. */
  readonly refusedBudget: number;
  /** `hits / (hits + misses)`, 1 when nothing was acquired yet. */
  readonly reuseRate: number;
  /** Successful releases. */
  readonly releases: number;
  /** Release of a slot that was already free (counted, ignored). */
  readonly doubleReleases: number;
  /** Release of a buffer this pool did not hand out (counted, ignored). */
  readonly foreignReleases: number;
  /** Bytes reserved on the pool's account (slabs + bookkeeping). */
  readonly reservedBytes: number;
  /** True after close(). */
  readonly closed: boolean;
}

// Indices into BufferPool._c.
const _C_HITS = 0;
const _C_GROWS = 1;
const _C_REFUSED_CAP = 2;
const _C_REFUSED_BUDGET = 3;
const _C_RELEASES = 4;
const _C_DOUBLE = 5;
const _C_FOREIGN = 6;

interface _TryReserve {
  tryReserve?: (bytes: number) => boolean;
}

/**
 * A pool of fixed-size `Uint8Array` slots (a {@link SlotSource}): no allocation on a hit, a cap
 * on slots, growth charged to the budget, double/foreign release detection.
 *
 * @throws SluiceRangeError / SluiceTypeError from the constructor for bad options;
 *   BudgetExceededError when `initialSlabs` cannot be reserved.
 * @example
 * ```ts
 * const pool = new BufferPool({ slotSize: 1472, maxSlots: 1024, account: acct.account('pool.1472') });
 * const buf = pool.acquire();          // Uint8Array(1472) or null at the cap
 * if (buf) { buf[0] = 1; pool.release(buf); }
 * pool.close();                        // every slot must be back
 * ```
 */
export class BufferPool implements SlotSource {
  /** Bytes per slot. */
  readonly slotSize: number;
  /** Slots per slab (growth step). */
  readonly slotsPerSlab: number;
  /** Cap on slots. */
  readonly maxSlots: number;
  /** Name in stats and errors. */
  readonly name: string;
  /** The account charged. */
  readonly account: MemoryAccount;
  /** Whether misuse on release throws. */
  readonly devChecks: boolean;
  /** Whether slots are zeroed on release. */
  readonly scrub: boolean;

  private readonly _maxSlabs: number;
  /** Stack of free slot ids; `_freeTop` entries valid. */
  private readonly _free: Int32Array;
  private _freeTop: number;
  /** 1 when the slot is handed out. */
  private readonly _taken: Uint8Array;
  /** Slots in use per slab (for trim). */
  private readonly _slabInUse: Int32Array;
  private readonly _slabBuf: Array<ArrayBuffer | null>;
  private readonly _slabViews: Array<Uint8Array[] | null>;
  private readonly _slabIndex: Map<ArrayBuffer, number>;
  private readonly _bookkeepingBytes: number;
  /** The account, when it offers `tryReserve` (refusal without an exception). */
  private readonly _tryAccount: Required<_TryReserve> | null;
  private readonly _onClose: ((pool: BufferPool) => void) | undefined;
  private _slabs: number;
  private _slotsAllocated: number;
  private _reservedBytes: number;
  private _inUse: number;
  private _highWater: number;
  /**
   * Monotonic counters, indexed by the `_C_*` constants. Doubles in a typed array because a
   * counter field that passes 2^31 (hours at 100k packets/s) stops being a Smi and then
   * allocates a HeapNumber on every increment in V8; a Float64Array element never does.
   */
  private readonly _c: Float64Array;
  private _closed: boolean;

  constructor(options: BufferPoolOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new SluiceTypeError(`BufferPool options: expected an object, got ${options === null ? 'null' : typeof options}`);
    }
    this.slotSize = checkInt('BufferPool slotSize', options.slotSize ?? DEFAULT_SLOT_SIZE, 1, MAX_SLOT_SIZE);
    this.maxSlots = checkInt('BufferPool maxSlots', options.maxSlots ?? DEFAULT_MAX_SLOTS, 1, MAX_POOL_SLOTS);
    this.slotsPerSlab = checkInt(
      'BufferPool slotsPerSlab',
      options.slotsPerSlab ?? Math.min(DEFAULT_SLOTS_PER_SLAB, this.maxSlots),
      1,
      this.maxSlots,
    );
    // A slab is one ArrayBuffer; keep it well under the engine's limit and the budget's scale.
    if (this.slotSize * this.slotsPerSlab > 1 << 30) {
      throw new SluiceRangeError(
        `BufferPool slotSize x slotsPerSlab: expected at most 2^30 bytes per slab, got ${this.slotSize * this.slotsPerSlab}`,
      );
    }
    this.account = options.account ?? DETACHED_ACCOUNT;
    if (typeof this.account !== 'object' || this.account === null || typeof this.account.reserve !== 'function') {
      throw new SluiceTypeError('BufferPool account: expected a MemoryAccount');
    }
    this.name = options.name ?? (this.account === DETACHED_ACCOUNT ? `pool.${this.slotSize}` : this.account.name);
    if (typeof this.name !== 'string') throw new SluiceTypeError('BufferPool name: expected a string');
    this.devChecks = options.devChecks ?? true;
    this.scrub = options.scrub ?? false;
    if (typeof this.devChecks !== 'boolean') throw new SluiceTypeError('BufferPool devChecks: expected a boolean');
    if (typeof this.scrub !== 'boolean') throw new SluiceTypeError('BufferPool scrub: expected a boolean');
    this._onClose = options.onClose;
    if (this._onClose !== undefined && typeof this._onClose !== 'function') {
      throw new SluiceTypeError('BufferPool onClose: expected a function');
    }
    this._maxSlabs = Math.ceil(this.maxSlots / this.slotsPerSlab);
    const initialSlabs = checkInt('BufferPool initialSlabs', options.initialSlabs ?? 0, 0, this._maxSlabs);

    // Bookkeeping: free stack (4 B/slot), taken flags (1 B/slot), per-slab counts (4 B/slab).
    this._bookkeepingBytes = this.maxSlots * 4 + this.maxSlots + this._maxSlabs * 4;
    this._reservedBytes = 0;
    this.account.reserve(this._bookkeepingBytes);
    this._reservedBytes = this._bookkeepingBytes;
    this._free = new Int32Array(this.maxSlots);
    this._taken = new Uint8Array(this.maxSlots);
    this._slabInUse = new Int32Array(this._maxSlabs);
    this._freeTop = 0;
    this._slabBuf = new Array<ArrayBuffer | null>(this._maxSlabs).fill(null);
    this._slabViews = new Array<Uint8Array[] | null>(this._maxSlabs).fill(null);
    this._slabIndex = new Map();
    this._tryAccount =
      typeof (this.account as _TryReserve).tryReserve === 'function' ? (this.account as unknown as Required<_TryReserve>) : null;
    this._slabs = 0;
    this._slotsAllocated = 0;
    this._inUse = 0;
    this._highWater = 0;
    this._c = new Float64Array(7);
    this._closed = false;
    this.account.setCapacity(this.maxSlots * this.slotSize, this.maxSlots);
    try {
      for (let i = 0; i < initialSlabs; i++) this._grow(true);
    } catch (err) {
      this._releaseAll();
      throw err;
    }
  }

  /**
   * Takes a free slot. On a hit (a free slot exists) this allocates nothing. Otherwise grows
   * by one slab when under `maxSlots` and the budget allows, else returns `null` (counted in
   * `refusedCap` / `refusedBudget`; the caller drops by policy).
   *
   * The returned view has exactly `slotSize` bytes; its contents are whatever the previous
   * user left unless `scrub` is set. The caller owns it until `release()`.
   * @throws SluiceStateError after close().
   */
  acquire(): Uint8Array | null {
    if (this._closed) throw new SluiceStateError(`BufferPool ${this.name}: acquire() after close()`);
    if (this._freeTop === 0) {
      if (this._slotsAllocated >= this.maxSlots) {
        this._c[_C_REFUSED_CAP]!++;
        return null;
      }
      if (!this._grow(false)) {
        this._c[_C_REFUSED_BUDGET]!++;
        return null;
      }
      this._c[_C_GROWS]!++;
    } else {
      this._c[_C_HITS]!++;
    }
    const id = this._free[--this._freeTop]!;
    this._taken[id] = 1;
    const slab = (id / this.slotsPerSlab) | 0;
    this._slabInUse[slab]!++;
    if (++this._inUse > this._highWater) this._highWater = this._inUse;
    return this._slabViews[slab]![id - slab * this.slotsPerSlab]!;
  }

  /**
   * Gives a slot back. `buf` must be the exact object `acquire()` returned (not a subarray).
   * Double release and foreign buffers are counted and ignored; with `devChecks` they throw.
   * @throws PoolReleaseError (devChecks only); SluiceStateError after close().
   */
  release(buf: Uint8Array): void {
    if (this._closed) throw new SluiceStateError(`BufferPool ${this.name}: release() after close()`);
    const id = this.slotIdOf(buf);
    if (id < 0) {
      this._c[_C_FOREIGN]!++;
      if (this.devChecks) {
        throw new PoolReleaseError(
          ERR_POOL_FOREIGN_BUFFER,
          this.name,
          `BufferPool ${this.name}: release() of a buffer this pool did not hand out ` +
            `(byteLength ${buf instanceof Uint8Array ? buf.byteLength : 'n/a'}, slotSize ${this.slotSize}); pass the exact view acquire() returned`,
        );
      }
      return;
    }
    if (this._taken[id] === 0) {
      this._c[_C_DOUBLE]!++;
      if (this.devChecks) {
        throw new PoolReleaseError(
          ERR_POOL_DOUBLE_RELEASE,
          this.name,
          `BufferPool ${this.name}: slot ${id} released twice`,
        );
      }
      return;
    }
    this._taken[id] = 0;
    if (this.scrub) buf.fill(0);
    this._slabInUse[(id / this.slotsPerSlab) | 0]!--;
    this._free[this._freeTop++] = id;
    this._inUse--;
    this._c[_C_RELEASES]!++;
  }

  /**
   * Slot id (0..maxSlots-1) of a view this pool handed out (in use or free), or -1 when `buf`
   * is not one of this pool's slot views. Allocation-free: one map lookup by slab identity.
   */
  slotIdOf(buf: Uint8Array): number {
    if (!(buf instanceof Uint8Array) || buf.byteLength !== this.slotSize) return -1;
    const slab = this._slabIndex.get(buf.buffer as ArrayBuffer);
    if (slab === undefined) return -1;
    const off = buf.byteOffset;
    const local = (off / this.slotSize) | 0;
    if (local * this.slotSize !== off) return -1;
    const views = this._slabViews[slab]!;
    if (local >= views.length || views[local] !== buf) return -1;
    return slab * this.slotsPerSlab + local;
  }

  /** True when `buf` is a slot of this pool currently handed out. */
  owns(buf: Uint8Array): boolean {
    const id = this.slotIdOf(buf);
    return id >= 0 && this._taken[id] === 1;
  }

  /** Slots handed out and not yet released. */
  get inUse(): number {
    return this._inUse;
  }

  /** Free slots in allocated slabs (more may be allocated up to `maxSlots`). */
  get available(): number {
    return this._freeTop;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this._closed;
  }

  /**
   * Frees every slab whose slots are all free, unreserving its bytes. Slot views of a trimmed
   * slab become foreign. Cost O(maxSlots); call it off the packet path (e.g. on idle).
   * @returns the number of bytes unreserved.
   */
  trim(): number {
    if (this._closed) return 0;
    let freedBytes = 0;
    let freedAny = false;
    for (let s = 0; s < this._maxSlabs; s++) {
      if (this._slabBuf[s] !== null && this._slabInUse[s] === 0) {
        freedBytes += this._dropSlab(s);
        freedAny = true;
      }
    }
    if (freedAny) {
      // Rebuild the free stack without the dropped slabs' ids.
      let w = 0;
      for (let r = 0; r < this._freeTop; r++) {
        const id = this._free[r]!;
        if (this._slabBuf[(id / this.slotsPerSlab) | 0] !== null) this._free[w++] = id;
      }
      this._freeTop = w;
    }
    return freedBytes;
  }

  /** A consistent copy of the counters. Allocates one object; not for the packet path. */
  stats(): PoolStats {
    const c = this._c;
    const misses = c[_C_GROWS]! + c[_C_REFUSED_CAP]! + c[_C_REFUSED_BUDGET]!;
    const total = c[_C_HITS]! + misses;
    return {
      name: this.name,
      slotSize: this.slotSize,
      slotsPerSlab: this.slotsPerSlab,
      maxSlots: this.maxSlots,
      slabs: this._slabs,
      slotsAllocated: this._slotsAllocated,
      inUse: this._inUse,
      highWater: this._highWater,
      hits: c[_C_HITS]!,
      misses,
      grows: c[_C_GROWS]!,
      refusedCap: c[_C_REFUSED_CAP]!,
      refusedBudget: c[_C_REFUSED_BUDGET]!,
      reuseRate: total === 0 ? 1 : c[_C_HITS]! / total,
      releases: c[_C_RELEASES]!,
      doubleReleases: c[_C_DOUBLE]!,
      foreignReleases: c[_C_FOREIGN]!,
      reservedBytes: this._reservedBytes,
      closed: this._closed,
    };
  }

  /**
   * Frees every slab and unreserves everything. Every slot must be back: closing with slots
   * in use is a leak (the holder would keep memory the account no longer shows).
   * Idempotent.
   * @throws SluiceStateError when slots are still in use (nothing is freed then).
   */
  close(): void {
    if (this._closed) return;
    if (this._inUse !== 0) {
      throw new SluiceStateError(
        `BufferPool ${this.name}: close() with ${this._inUse} slot(s) still in use; release them first`,
      );
    }
    this._releaseAll();
    this._closed = true;
    if (this._onClose !== undefined) this._onClose(this);
  }

  /** Alias of {@link close}. */
  dispose(): void {
    this.close();
  }

  private _releaseAll(): void {
    for (let s = 0; s < this._maxSlabs; s++) if (this._slabBuf[s] !== null) this._dropSlab(s);
    this._freeTop = 0;
    if (this._reservedBytes > 0) {
      this.account.unreserve(this._reservedBytes);
      this._reservedBytes = 0;
    }
    this.account.setCapacity(0, 0);
  }

  private _slotsInSlab(s: number): number {
    return Math.min(this.slotsPerSlab, this.maxSlots - s * this.slotsPerSlab);
  }

  /** Allocates the lowest free slab index. Returns false when the budget refused it. */
  private _grow(mustSucceed: boolean): boolean {
    let s = 0;
    while (this._slabBuf[s] !== null) s++;
    const n = this._slotsInSlab(s);
    const bytes = n * this.slotSize;
    if (mustSucceed) {
      this.account.reserve(bytes);
    } else if (this._tryAccount !== null) {
      if (!this._tryAccount.tryReserve(bytes)) return false;
    } else {
      // A plain MemoryAccount signals refusal by throwing; for a pool refusal is not misuse,
      // so it becomes a null acquire (counted), like the cap.
      try {
        this.account.reserve(bytes);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ERR_SLUICE_BUDGET_EXCEEDED') return false;
        throw err;
      }
    }
    this._reservedBytes += bytes;
    const ab = new ArrayBuffer(bytes);
    const views = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) views[i] = new Uint8Array(ab, i * this.slotSize, this.slotSize);
    this._slabBuf[s] = ab;
    this._slabViews[s] = views;
    this._slabIndex.set(ab, s);
    this._slabInUse[s] = 0;
    // Push ids in reverse so the lowest id of the slab is handed out first.
    const base = s * this.slotsPerSlab;
    for (let i = n - 1; i >= 0; i--) this._free[this._freeTop++] = base + i;
    this._slabs++;
    this._slotsAllocated += n;
    return true;
  }

  private _dropSlab(s: number): number {
    const ab = this._slabBuf[s]!;
    const n = this._slotsInSlab(s);
    const bytes = n * this.slotSize;
    this._slabIndex.delete(ab);
    this._slabBuf[s] = null;
    this._slabViews[s] = null;
    this._slabs--;
    this._slotsAllocated -= n;
    this.account.unreserve(bytes);
    this._reservedBytes -= bytes;
    return bytes;
  }
}

/** One size class of a {@link PoolSet}. */
export interface SizeClass {
  /** Bytes per slot of the class. */
  readonly slotSize: number;
  /** Cap on slots of the class. Default {@link DEFAULT_MAX_SLOTS}. */
  readonly maxSlots?: number;
  /** Growth step. Default {@link DEFAULT_SLOTS_PER_SLAB}. */
  readonly slotsPerSlab?: number;
}

/**
 * Default size classes: 1,472 B (MTU-sized datagrams: a 1,400-byte sluice datagram and a FEC
 * source symbol of 12 + 1,360 bytes both fit) and 2,048 B (datagrams up to 2,048 bytes, e.g.
 * a larger `maxDatagram` on a path with a bigger MTU, and their FEC symbols).
 */
export const DEFAULT_SIZE_CLASSES: readonly SizeClass[] = Object.freeze([
  Object.freeze({ slotSize: 1472 }),
  Object.freeze({ slotSize: 2048 }),
]);

/** Options of {@link PoolSet}. */
export interface PoolSetOptions {
  /** Size classes (distinct slot sizes). Default {@link DEFAULT_SIZE_CLASSES}. */
  readonly classes?: readonly SizeClass[];
  /** Makes the account of one class (e.g. `(size) => accountant.account('pool.' + size)`).
   * Default: every class uses {@link DETACHED_ACCOUNT}. */
  readonly accountFor?: (slotSize: number) => MemoryAccount;
  /** Passed to every pool. Default true. */
  readonly devChecks?: boolean;
  /** Passed to every pool. Default false. */
  readonly scrub?: boolean;
  /** Passed to every pool (see {@link BufferPoolOptions.onClose}). */
  readonly onClose?: (pool: BufferPool) => void;
}

/**
 * A set of {@link BufferPool}s by size class: `poolFor(size)` gives the smallest class that
 * fits, `acquire(size)` takes from it, `release(buf)` routes a slot back by its length.
 *
 * @throws SluiceRangeError / SluiceTypeError for bad classes.
 * @example
 * ```ts
 * const pools = new PoolSet({ accountFor: (n) => accountant.account(`pool.${n}`) });
 * const buf = pools.acquire(1400);     // a 1,472-byte slot
 * if (buf) pools.release(buf);
 * pools.close();
 * ```
 */
export class PoolSet {
  /** Pools, ascending by slot size. */
  readonly pools: readonly BufferPool[];
  /** Releases of a buffer whose length matches no class (counted, ignored unless devChecks). */
  private readonly _foreign: Float64Array;
  private readonly _devChecks: boolean;

  constructor(options: PoolSetOptions = {}) {
    const classes = options.classes ?? DEFAULT_SIZE_CLASSES;
    if (!Array.isArray(classes) || classes.length === 0 || classes.length > 64) {
      throw new SluiceTypeError('PoolSet classes: expected an array of 1..64 size classes');
    }
    const sorted = [...classes].sort((a, b) => a.slotSize - b.slotSize);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.slotSize === sorted[i - 1]!.slotSize) {
        throw new SluiceTypeError(`PoolSet classes: duplicate slotSize ${sorted[i]!.slotSize}`);
      }
    }
    this._devChecks = options.devChecks ?? true;
    const pools: BufferPool[] = [];
    try {
      for (const c of sorted) {
        const slotSize = checkInt('PoolSet classes[].slotSize', c.slotSize, 1, MAX_SLOT_SIZE);
        const opts: BufferPoolOptions = {
          slotSize,
          maxSlots: c.maxSlots ?? DEFAULT_MAX_SLOTS,
          devChecks: this._devChecks,
          scrub: options.scrub ?? false,
          ...(c.slotsPerSlab !== undefined ? { slotsPerSlab: c.slotsPerSlab } : {}),
          ...(options.accountFor !== undefined ? { account: options.accountFor(slotSize) } : {}),
          ...(options.onClose !== undefined ? { onClose: options.onClose } : {}),
        };
        pools.push(new BufferPool(opts));
      }
    } catch (err) {
      for (const p of pools) p.close();
      throw err;
    }
    this.pools = pools;
    this._foreign = new Float64Array(1);
  }

  /** Smallest pool whose slots hold `size` bytes, or null when `size` exceeds every class. */
  poolFor(size: number): BufferPool | null {
    const pools = this.pools;
    for (let i = 0; i < pools.length; i++) if (pools[i]!.slotSize >= size) return pools[i]!;
    return null;
  }

  /**
   * A slot of at least `size` bytes (its length is the class size; use `subarray(0, size)` for
   * the exact length, but release the original view), or null at the class cap / budget.
   * @throws SluiceRangeError when `size` exceeds the largest class (a configuration error).
   */
  acquire(size: number): Uint8Array | null {
    const pool = this.poolFor(size);
    if (pool === null) {
      const max = this.pools[this.pools.length - 1]!.slotSize;
      checkInt('PoolSet acquire size', size, 0, max);
      return null;
    }
    return pool.acquire();
  }

  /**
   * Returns a slot to the pool of its class (found by `buf.byteLength`).
   * @throws PoolReleaseError (devChecks) for double/foreign release.
   */
  release(buf: Uint8Array): void {
    const n = buf instanceof Uint8Array ? buf.byteLength : -1;
    const pools = this.pools;
    for (let i = 0; i < pools.length; i++) {
      if (pools[i]!.slotSize === n) {
        pools[i]!.release(buf);
        return;
      }
    }
    this._foreign[0]!++;
    if (this._devChecks) {
      throw new PoolReleaseError(
        ERR_POOL_FOREIGN_BUFFER,
        'PoolSet',
        `PoolSet: release() of a buffer of ${n} bytes, which matches no size class (${pools.map((p) => p.slotSize).join(', ')})`,
      );
    }
  }

  /** Releases whose length matched no class. */
  get foreignReleases(): number {
    return this._foreign[0]!;
  }

  /** Stats of every pool, ascending by slot size. */
  stats(): PoolStats[] {
    return this.pools.map((p) => p.stats());
  }

  /** Trims every pool; returns the bytes unreserved. */
  trim(): number {
    let n = 0;
    for (const p of this.pools) n += p.trim();
    return n;
  }

  /**
   * Closes every pool.
   * @throws SluiceStateError when a pool still has slots in use (the others are still closed).
   */
  close(): void {
    let first: unknown = null;
    for (const p of this.pools) {
      try {
        p.close();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== null) throw first;
  }
}
