/**
 * MemoryAccountant: named accounts, a global byte budget, exact reconciliation and a leak check.
 *
 * Every buffer sluice holds is charged to one named {@link Account} (dotted names:
 * `conn.<id>.reorder`, `conn.<id>.send`, `conn.<id>.fec-enc`, `conn.<id>.fec-dec`,
 * `pool.<slotSize>`). The accountant keeps a running total of reserved bytes, which is what the
 * budget is checked against; {@link MemoryAccountant.snapshot} recomputes the sum over accounts
 * and reports whether the two agree (`reconciled`), so accounting bugs show up as a flag rather
 * than as silent drift.
 *
 * Budget. `reserve()` that would take the total above `budgetBytes` throws
 * {@link BudgetExceededError} (`ERR_SLUICE_BUDGET_EXCEEDED`) naming how much was asked, how much
 * is left and the top holders; nothing is reserved then. Nothing is over-committed.
 *
 * Closing. `account.close()` (or `closeAccount(name)`) ends an account. A closed account that
 * still holds anything stays visible (`closed: true`) in snapshots and in {@link LeakReport}
 * until its holder gives the bytes back, so reconciliation stays exact and a leak is never
 * hidden by closing.
 *
 * Pure: no clock, no timers; snapshots carry the caller's `nowMs`.
 */
import { SluiceError, SluiceRangeError, SluiceStateError, SluiceTypeError, checkInt } from '../errors.js';
import { BufferPool, PoolSet, type BufferPoolOptions, type PoolSetOptions, type PoolStats } from './buffer-pool.js';
import { formatPrometheus } from './prometheus.js';
import type { AccountSnapshot, MemoryAccount } from './types.js';

/**
 * Default global budget: 256 MiB. A 10 Mbps stream at 120 ms latency needs about 150 kB of
 * receive buffer, as much send history and a FEC window on top (well under 1 MiB per
 * connection with slack), so 256 MiB hosts a few hundred such streams, or ~25 streams at
 * 100 Mbps with 1 s of latency. Typed-array memory lives outside V8's heap limit, so this
 * budget is the only bound on it; 256 MiB stays below common container limits (512 MiB-2 GiB)
 * so sluice refuses a connection before the OOM killer ends the process.
 */
export const DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024;
/** Default number of top holders named in a {@link BudgetExceededError}. */
export const DEFAULT_TOP_HOLDERS = 5;
/** Longest account name accepted. */
export const MAX_ACCOUNT_NAME_LENGTH = 256;
/** Error code of {@link BudgetExceededError}. */
export const ERR_BUDGET_EXCEEDED = 'ERR_SLUICE_BUDGET_EXCEEDED';
/** Error code of {@link MemoryLeakError}. */
export const ERR_MEMORY_LEAK = 'ERR_SLUICE_MEMORY_LEAK';

/** One holder named in a {@link BudgetExceededError}. */
export interface BudgetHolder {
  readonly name: string;
  readonly reservedBytes: number;
}

/**
 * A reservation was refused because it would take the total above the budget.
 * `code === 'ERR_SLUICE_BUDGET_EXCEEDED'`; nothing was reserved.
 */
export class BudgetExceededError extends SluiceError {
  /** Account that asked. */
  readonly account: string;
  /** Bytes asked for. */
  readonly requested: number;
  /** Bytes left under the budget at the time (>= 0). */
  readonly remaining: number;
  /** The budget, bytes. */
  readonly budget: number;
  /** Largest holders by reserved bytes, descending. */
  readonly holders: readonly BudgetHolder[];
  constructor(account: string, requested: number, remaining: number, budget: number, holders: readonly BudgetHolder[]) {
    const who = holders.length === 0 ? 'nobody' : holders.map((h) => `${h.name} (${h.reservedBytes} B)`).join(', ');
    super(
      ERR_BUDGET_EXCEEDED,
      `memory budget exceeded: account "${account}" requested ${requested} bytes, ${remaining} of ${budget} bytes remaining; top holders: ${who}`,
    );
    this.account = account;
    this.requested = requested;
    this.remaining = remaining;
    this.budget = budget;
    this.holders = holders;
  }
}

/** Thrown by {@link MemoryAccountant.assertNoLeaks}; carries the report. */
export class MemoryLeakError extends SluiceError {
  readonly report: LeakReport;
  constructor(report: LeakReport) {
    super(ERR_MEMORY_LEAK, `memory leak check failed: ${report.summary}`);
    this.report = report;
  }
}

/** An account as published: {@link AccountSnapshot} plus whether it was closed while holding. */
export interface MemoryAccountSnapshot extends AccountSnapshot {
  /** True for an account closed while still holding bytes or packets (a leak until returned). */
  readonly closed: boolean;
}

/** Per-connection totals over accounts named `conn.<id>.*`. */
export interface ConnectionMemory {
  /** The `<id>` segment of the account names. */
  readonly id: string;
  readonly reservedBytes: number;
  readonly usedBytes: number;
  readonly usedPackets: number;
  readonly capacityBytes: number;
  /** Number of accounts of this connection. */
  readonly accounts: number;
}

/** Everything the accountant knows, at one moment. Plain data, safe to serialise. */
export interface MemorySnapshot {
  /** Increments per snapshot (lets a consumer spot a missed one). */
  readonly seq: number;
  /** The caller's clock in ms, as passed to `snapshot(nowMs)` (0 when not given). */
  readonly timeMs: number;
  readonly budgetBytes: number;
  /** Running total the budget is checked against. */
  readonly reservedBytes: number;
  /** `max(0, budgetBytes - reservedBytes)`. */
  readonly remainingBytes: number;
  /** Largest `reservedBytes` ever seen. */
  readonly highWaterReservedBytes: number;
  /**
   * Sums over accounts. `usedBytes`/`usedPackets` count each held packet once (pools do not
   * report occupancy). `capacityBytes`/`capacityPackets` add declared caps, and the cap of a
   * pool overlaps the caps of the components that take slots from it: read them per account.
   */
  readonly usedBytes: number;
  readonly usedPackets: number;
  readonly capacityBytes: number;
  readonly capacityPackets: number;
  /** Reservations refused by the budget since creation. */
  readonly budgetRefusals: number;
  /** True when the sum of `accounts[].reservedBytes` equals `reservedBytes` exactly. */
  readonly reconciled: boolean;
  /** Open accounts and closed-but-holding accounts, sorted by name. */
  readonly accounts: readonly MemoryAccountSnapshot[];
  /** Registered pools, sorted by name. */
  readonly pools: readonly PoolStats[];
  /** Totals per `conn.<id>` prefix, sorted by id. */
  readonly connections: readonly ConnectionMemory[];
}

/** A non-zero account found by the leak check. */
export interface LeakedAccount {
  readonly name: string;
  readonly closed: boolean;
  readonly reservedBytes: number;
  readonly usedBytes: number;
  readonly usedPackets: number;
  /** Why it counts as a leak. */
  readonly reason: string;
}

/** A pool found by the leak check with slots not given back. */
export interface LeakedPool {
  readonly name: string;
  readonly inUse: number;
}

/** Result of {@link MemoryAccountant.leakCheck}. */
export interface LeakReport {
  /** True when nothing leaked. */
  readonly ok: boolean;
  readonly accounts: readonly LeakedAccount[];
  readonly pools: readonly LeakedPool[];
  /** The accountant's totals disagree with the sum of accounts. */
  readonly unreconciled: boolean;
  /** One line for humans. */
  readonly summary: string;
}

/** Options of {@link MemoryAccountant.leakCheck}. */
export interface LeakCheckOptions {
  /**
   * false (default): an open pool may keep its slabs reserved (shared pools outlive
   * connections) but every slot must be back and its account must match the pool's own
   * count. true: pools must be closed too, so every account is zero.
   */
  readonly strict?: boolean;
}

/** Options of {@link MemoryAccountant}. */
export interface MemoryAccountantOptions {
  /** Global byte budget, 0..2^53-1. Default {@link DEFAULT_BUDGET_BYTES} (256 MiB). */
  readonly budgetBytes?: number;
  /** Holders named in a budget error, 1..100. Default {@link DEFAULT_TOP_HOLDERS} (5). */
  readonly topHolders?: number;
}

/** Options of {@link MemoryAccountant.createPool}: pool options without account/onClose. */
export type AccountedPoolOptions = Omit<BufferPoolOptions, 'account' | 'onClose'>;
/** Options of {@link MemoryAccountant.createPoolSet}. */
export type AccountedPoolSetOptions = Omit<PoolSetOptions, 'accountFor' | 'onClose'> & {
  /** Account name prefix; class `n` gets `<prefix>.<n>`. Default `pool`. */
  readonly prefix?: string;
};

// Indices into Account._v.
const _A_RESERVED = 0;
const _A_CAP_BYTES = 1;
const _A_CAP_PACKETS = 2;
const _A_USED_BYTES = 3;
const _A_USED_PACKETS = 4;
const _A_HW_BYTES = 5;
const _A_HW_PACKETS = 6;
const _A_SPAN_MS = 7;
// Indices into MemoryAccountant._t.
const _T_RESERVED = 0;
const _T_BUDGET = 1;
const _T_HIGH_WATER = 2;
const _T_REFUSALS = 3;

function checkAmount(what: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new SluiceRangeError(`${name}.${what}: expected an integer in [0, 2^53-1], got ${String(v)}`);
  }
}

/**
 * A named account of a {@link MemoryAccountant}; implements {@link MemoryAccount}. Every method
 * is a few field updates and allocates nothing (they run per packet), except when it throws.
 */
export class Account implements MemoryAccount {
  readonly name: string;
  /**
   * @internal Figures as doubles in a typed array, indexed by the `_A_*` constants: a double
   * stored into an object field (the span in ms is fractional; byte counts can pass 2^31)
   * allocates a HeapNumber per write in V8, a typed-array element store does not.
   */
  readonly _v: Float64Array;
  /** @internal */
  _closed: boolean;
  private readonly _owner: MemoryAccountant;

  /** @internal Use {@link MemoryAccountant.account}. */
  constructor(owner: MemoryAccountant, name: string) {
    this.name = name;
    this._owner = owner;
    this._v = new Float64Array(8);
    this._closed = false;
  }

  /**
   * Reserves `bytes` against the budget; call before allocating.
   * @throws BudgetExceededError when refused (nothing reserved); SluiceRangeError for a
   *   negative or non-integer amount; SluiceStateError after close().
   */
  reserve(bytes: number): void {
    if (!this.tryReserve(bytes)) throw this._owner._refusal(this.name, bytes);
  }

  /**
   * Like {@link reserve} but returns false instead of throwing when the budget refuses
   * (counted in `budgetRefusals`). Pools use it so a refusal on the packet path costs no
   * exception.
   * @throws SluiceRangeError for a bad amount; SluiceStateError after close().
   */
  tryReserve(bytes: number): boolean {
    checkAmount('reserve', this.name, bytes);
    if (this._closed) throw new SluiceStateError(`account "${this.name}": reserve() after close()`);
    const t = this._owner._t;
    const total = t[_T_RESERVED]! + bytes;
    if (total > t[_T_BUDGET]!) {
      t[_T_REFUSALS]!++;
      return false;
    }
    t[_T_RESERVED] = total;
    if (total > t[_T_HIGH_WATER]!) t[_T_HIGH_WATER] = total;
    this._v[_A_RESERVED]! += bytes;
    return true;
  }

  /**
   * Gives back `bytes` reserved earlier. Allowed after close() (a late dispose reconciles).
   * @throws SluiceRangeError when `bytes` exceeds what this account holds.
   */
  unreserve(bytes: number): void {
    checkAmount('unreserve', this.name, bytes);
    const v = this._v;
    if (bytes > v[_A_RESERVED]!) {
      throw new SluiceRangeError(
        `account "${this.name}": unreserve(${bytes}) exceeds the ${v[_A_RESERVED]} bytes it holds`,
      );
    }
    v[_A_RESERVED]! -= bytes;
    this._owner._t[_T_RESERVED]! -= bytes;
    if (this._closed) this._owner._settle(this);
  }

  /**
   * Declares the capacity the component enforces (reporting only, not a reservation).
   * @throws SluiceRangeError for negative or non-integer values.
   */
  setCapacity(bytes: number, packets: number): void {
    checkAmount('setCapacity', this.name, bytes);
    checkAmount('setCapacity', this.name, packets);
    this._v[_A_CAP_BYTES] = bytes;
    this._v[_A_CAP_PACKETS] = packets;
  }

  /**
   * Adds a (possibly negative) delta to occupancy and tracks the high-water marks.
   * @throws SluiceRangeError when occupancy would go negative (a release without acquire).
   */
  use(bytes: number, packets: number): void {
    const v = this._v;
    const b = v[_A_USED_BYTES]! + bytes;
    const p = v[_A_USED_PACKETS]! + packets;
    if (!(b >= 0 && p >= 0) || !Number.isSafeInteger(b) || !Number.isSafeInteger(p)) {
      throw new SluiceRangeError(
        `account "${this.name}": use(${String(bytes)}, ${String(packets)}) would make occupancy ${b} bytes / ${p} packets (expected integers >= 0)`,
      );
    }
    v[_A_USED_BYTES] = b;
    v[_A_USED_PACKETS] = p;
    if (b > v[_A_HW_BYTES]!) v[_A_HW_BYTES] = b;
    if (p > v[_A_HW_PACKETS]!) v[_A_HW_PACKETS] = p;
    if (this._closed) this._owner._settle(this);
  }

  /**
   * Span in ms between the oldest and newest item held (time-based buffers). A negative,
   * NaN or infinite value is recorded as 0 rather than thrown: spans are derived from
   * timestamps a peer controls, and network input must never throw (reporting only).
   */
  setSpanMs(ms: number): void {
    this._v[_A_SPAN_MS] = ms > 0 && ms !== Infinity ? ms : 0;
  }

  /** Bytes reserved by this account. */
  get reservedBytes(): number {
    return this._v[_A_RESERVED]!;
  }
  /** Bytes currently used. */
  get usedBytes(): number {
    return this._v[_A_USED_BYTES]!;
  }
  /** Packets currently used. */
  get usedPackets(): number {
    return this._v[_A_USED_PACKETS]!;
  }
  /** Whether close() was called. */
  get closed(): boolean {
    return this._closed;
  }
  /** True when nothing is reserved or used. */
  get isZero(): boolean {
    const v = this._v;
    return v[_A_RESERVED] === 0 && v[_A_USED_BYTES] === 0 && v[_A_USED_PACKETS] === 0;
  }

  /** A copy of this account's figures. */
  snapshot(): MemoryAccountSnapshot {
    const v = this._v;
    return {
      name: this.name,
      reservedBytes: v[_A_RESERVED]!,
      capacityBytes: v[_A_CAP_BYTES]!,
      capacityPackets: v[_A_CAP_PACKETS]!,
      usedBytes: v[_A_USED_BYTES]!,
      usedPackets: v[_A_USED_PACKETS]!,
      highWaterBytes: v[_A_HW_BYTES]!,
      highWaterPackets: v[_A_HW_PACKETS]!,
      spanMs: v[_A_SPAN_MS]!,
      closed: this._closed,
    };
  }

  /**
   * Ends the account: capacity and span drop to 0 and the name may be reused. If it still
   * holds bytes or packets it stays listed (closed) until they are given back, and the leak
   * check reports it. Idempotent.
   */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._v[_A_CAP_BYTES] = 0;
    this._v[_A_CAP_PACKETS] = 0;
    this._v[_A_SPAN_MS] = 0;
    this._owner._onClose(this);
  }
}

interface _RegisteredPool {
  readonly name: string;
  readonly account: MemoryAccount;
  stats(): PoolStats;
}

/**
 * The process-wide (or per-endpoint) memory accountant.
 *
 * @throws SluiceRangeError / SluiceTypeError from the constructor for bad options.
 * @example
 * ```ts
 * const acct = new MemoryAccountant({ budgetBytes: 64 * 1024 * 1024 });
 * const reorder = acct.account('conn.7.reorder');
 * reorder.reserve(8192);                 // before allocating the index ring
 * reorder.setCapacity(256 * 1472, 256);
 * reorder.use(1400, 1);                  // a packet arrived
 * acct.snapshot().reconciled;            // true
 * reorder.use(-1400, -1); reorder.unreserve(8192); reorder.close();
 * acct.leakCheck().ok;                   // true
 * ```
 */
export class MemoryAccountant {
  /** @internal totals indexed by the `_T_*` constants (doubles, see {@link Account._v}). */
  readonly _t: Float64Array;
  private readonly _topHolders: number;
  private readonly _open: Map<string, Account>;
  private readonly _closedHolding: Set<Account>;
  private readonly _pools: Set<_RegisteredPool>;
  private _seq: number;

  constructor(options: MemoryAccountantOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new SluiceTypeError('MemoryAccountant options: expected an object');
    }
    this._t = new Float64Array(4);
    this._t[_T_BUDGET] = checkInt('MemoryAccountant budgetBytes', options.budgetBytes ?? DEFAULT_BUDGET_BYTES, 0, Number.MAX_SAFE_INTEGER);
    this._topHolders = checkInt('MemoryAccountant topHolders', options.topHolders ?? DEFAULT_TOP_HOLDERS, 1, 100);
    this._open = new Map();
    this._closedHolding = new Set();
    this._pools = new Set();
    this._seq = 0;
  }

  /** The budget in bytes. */
  get budgetBytes(): number {
    return this._t[_T_BUDGET]!;
  }
  /** Bytes reserved by all accounts (running total). */
  get reservedBytes(): number {
    return this._t[_T_RESERVED]!;
  }
  /** Bytes left under the budget (>= 0). */
  get remainingBytes(): number {
    return Math.max(0, this._t[_T_BUDGET]! - this._t[_T_RESERVED]!);
  }

  /**
   * Changes the budget. Lowering it below what is reserved refuses further reservations but
   * takes nothing back.
   * @throws SluiceRangeError for a negative or non-integer value.
   */
  setBudgetBytes(bytes: number): void {
    this._t[_T_BUDGET] = checkInt('MemoryAccountant budgetBytes', bytes, 0, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Opens a named account (dotted names: `conn.<id>.reorder`, `pool.1472`...).
   * @throws SluiceTypeError for a non-string; SluiceRangeError for an empty or too long name
   *   or one with an unpaired surrogate (not valid UTF-8 in exports); SluiceStateError when an
   *   open account already has that name.
   */
  account(name: string): Account {
    if (typeof name !== 'string') throw new SluiceTypeError(`MemoryAccountant account name: expected a string, got ${typeof name}`);
    if (name.length === 0 || name.length > MAX_ACCOUNT_NAME_LENGTH) {
      throw new SluiceRangeError(`MemoryAccountant account name: expected 1..${MAX_ACCOUNT_NAME_LENGTH} characters, got ${name.length}`);
    }
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) {
      throw new SluiceRangeError('MemoryAccountant account name: expected well-formed UTF-16 (no unpaired surrogate)');
    }
    if (this._open.has(name)) throw new SluiceStateError(`MemoryAccountant: account "${name}" is already open`);
    const a = new Account(this, name);
    this._open.set(name, a);
    return a;
  }

  /** The open account with this name, or undefined. */
  getAccount(name: string): Account | undefined {
    return this._open.get(name);
  }

  /** Closes the open account `name` (see {@link Account.close}). Returns false if none is open. */
  closeAccount(name: string): boolean {
    const a = this._open.get(name);
    if (a === undefined) return false;
    a.close();
    return true;
  }

  /**
   * Registers a pool so its stats appear in snapshots, Prometheus output and the leak check.
   * Pools made by {@link createPool} / {@link createPoolSet} are registered already.
   */
  registerPool(pool: BufferPool): void {
    if (!(pool instanceof BufferPool)) throw new SluiceTypeError('MemoryAccountant registerPool: expected a BufferPool');
    this._pools.add(pool);
  }

  /** Removes a pool from the registry (no-op if absent). */
  unregisterPool(pool: BufferPool): void {
    this._pools.delete(pool);
  }

  /**
   * Creates a registered {@link BufferPool} charged to a new account `name` (default
   * `pool.<slotSize>`). Closing the pool unregisters it and closes its account.
   * @throws as BufferPool and {@link account}.
   */
  createPool(options: AccountedPoolOptions = {}): BufferPool {
    const name = options.name ?? `pool.${options.slotSize ?? 1472}`;
    const account = this.account(name);
    let pool: BufferPool;
    try {
      pool = new BufferPool({ ...options, name, account, onClose: (p) => this._poolClosed(p) });
    } catch (err) {
      account.close();
      throw err;
    }
    this._pools.add(pool);
    return pool;
  }

  /**
   * Creates a registered {@link PoolSet}; class `n` is charged to account `<prefix>.<n>`.
   * @throws as PoolSet and {@link account}.
   */
  createPoolSet(options: AccountedPoolSetOptions = {}): PoolSet {
    const prefix = options.prefix ?? 'pool';
    const made: Account[] = [];
    let set: PoolSet;
    try {
      set = new PoolSet({
        ...options,
        accountFor: (size) => {
          const a = this.account(`${prefix}.${size}`);
          made.push(a);
          return a;
        },
        onClose: (p) => this._poolClosed(p),
      });
    } catch (err) {
      for (const a of made) a.close();
      throw err;
    }
    for (const p of set.pools) this._pools.add(p);
    return set;
  }

  /**
   * A consistent copy of every account, pool and total. Allocates (one object per account);
   * for publishing at an interval, not per packet.
   * @param nowMs the caller's clock, recorded as `timeMs` (core has no clock).
   */
  snapshot(nowMs = 0): MemorySnapshot {
    const accounts: MemoryAccountSnapshot[] = [];
    for (const a of this._open.values()) accounts.push(a.snapshot());
    for (const a of this._closedHolding) accounts.push(a.snapshot());
    accounts.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.closed === y.closed ? 0 : x.closed ? 1 : -1));
    let reserved = 0;
    let usedBytes = 0;
    let usedPackets = 0;
    let capacityBytes = 0;
    let capacityPackets = 0;
    const conns = new Map<string, { id: string; reservedBytes: number; usedBytes: number; usedPackets: number; capacityBytes: number; accounts: number }>();
    for (const a of accounts) {
      reserved += a.reservedBytes;
      usedBytes += a.usedBytes;
      usedPackets += a.usedPackets;
      capacityBytes += a.capacityBytes;
      capacityPackets += a.capacityPackets;
      if (a.name.startsWith('conn.')) {
        const dot = a.name.indexOf('.', 5);
        const id = dot < 0 ? a.name.slice(5) : a.name.slice(5, dot);
        let c = conns.get(id);
        if (c === undefined) {
          c = { id, reservedBytes: 0, usedBytes: 0, usedPackets: 0, capacityBytes: 0, accounts: 0 };
          conns.set(id, c);
        }
        c.reservedBytes += a.reservedBytes;
        c.usedBytes += a.usedBytes;
        c.usedPackets += a.usedPackets;
        c.capacityBytes += a.capacityBytes;
        c.accounts++;
      }
    }
    const pools = [...this._pools].map((p) => p.stats()).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const connections = [...conns.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return {
      seq: ++this._seq,
      timeMs: nowMs,
      budgetBytes: this._t[_T_BUDGET]!,
      reservedBytes: this._t[_T_RESERVED]!,
      remainingBytes: Math.max(0, this._t[_T_BUDGET]! - this._t[_T_RESERVED]!),
      highWaterReservedBytes: this._t[_T_HIGH_WATER]!,
      usedBytes,
      usedPackets,
      capacityBytes,
      capacityPackets,
      budgetRefusals: this._t[_T_REFUSALS]!,
      reconciled: reserved === this._t[_T_RESERVED]!,
      accounts,
      pools,
      connections,
    };
  }

  /**
   * Checks that everything was given back: every account (open or closed) holds nothing,
   * every registered pool has all slots back and its account matches its own count. With
   * `strict`, open pools count as holders too (call after closing them).
   */
  leakCheck(options: LeakCheckOptions = {}): LeakReport {
    const strict = options.strict ?? false;
    const poolByAccount = new Map<MemoryAccount, _RegisteredPool>();
    for (const p of this._pools) poolByAccount.set(p.account, p);
    const accounts: LeakedAccount[] = [];
    const pools: LeakedPool[] = [];
    let sum = 0;
    const all = [...this._open.values(), ...this._closedHolding];
    for (const a of all) {
      sum += a.reservedBytes;
      const pool = poolByAccount.get(a);
      let reason = '';
      if (pool !== undefined && !strict) {
        const st = pool.stats();
        if (a.reservedBytes !== st.reservedBytes) reason = `reserves ${a.reservedBytes} B but its pool holds ${st.reservedBytes} B`;
        else if (a.usedBytes !== 0 || a.usedPackets !== 0) reason = 'pool account reports occupancy';
      } else if (!a.isZero) {
        reason = a._closed ? 'closed while holding' : pool !== undefined ? 'pool still open (strict)' : 'still holding';
      }
      if (reason !== '') {
        accounts.push({
          name: a.name,
          closed: a._closed,
          reservedBytes: a.reservedBytes,
          usedBytes: a.usedBytes,
          usedPackets: a.usedPackets,
          reason,
        });
      }
    }
    for (const p of this._pools) {
      const st = p.stats();
      if (st.inUse !== 0) pools.push({ name: st.name, inUse: st.inUse });
    }
    accounts.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    pools.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const unreconciled = sum !== this._t[_T_RESERVED]!;
    const ok = accounts.length === 0 && pools.length === 0 && !unreconciled;
    const parts: string[] = [];
    if (accounts.length > 0) {
      parts.push(
        `${accounts.length} account(s) not zero: ` +
          accounts
            .slice(0, 10)
            .map((a) => `${a.name} (${a.reason}: reserved ${a.reservedBytes} B, used ${a.usedBytes} B / ${a.usedPackets} pkt)`)
            .join(', '),
      );
    }
    if (pools.length > 0) parts.push(`${pools.length} pool(s) with slots out: ${pools.map((p) => `${p.name} (${p.inUse})`).join(', ')}`);
    if (unreconciled) parts.push(`total reserved ${this._t[_T_RESERVED]!} B != sum of accounts ${sum} B`);
    return { ok, accounts, pools, unreconciled, summary: ok ? 'no leaks' : parts.join('; ') };
  }

  /**
   * Runs {@link leakCheck} and throws when it fails (for tests and shutdown paths).
   * @throws MemoryLeakError (`ERR_SLUICE_MEMORY_LEAK`) with the report.
   */
  assertNoLeaks(options: LeakCheckOptions = {}): void {
    const r = this.leakCheck(options);
    if (!r.ok) throw new MemoryLeakError(r);
  }

  /**
   * Prometheus text exposition format 0.0.4 of a fresh snapshot (see `prometheus.ts` for the
   * metric families).
   */
  toPrometheus(): string {
    return formatPrometheus(this.snapshot());
  }

  /** @internal builds the budget error (called on the refusal path only). */
  _refusal(account: string, requested: number): BudgetExceededError {
    const holders: BudgetHolder[] = [];
    for (const a of this._open.values()) if (a.reservedBytes > 0) holders.push({ name: a.name, reservedBytes: a.reservedBytes });
    for (const a of this._closedHolding) if (a.reservedBytes > 0) holders.push({ name: a.name, reservedBytes: a.reservedBytes });
    holders.sort((x, y) => y.reservedBytes - x.reservedBytes || (x.name < y.name ? -1 : 1));
    return new BudgetExceededError(
      account,
      requested,
      Math.max(0, this._t[_T_BUDGET]! - this._t[_T_RESERVED]!),
      this._t[_T_BUDGET]!,
      holders.slice(0, this._topHolders),
    );
  }

  /** @internal an account was closed. */
  _onClose(a: Account): void {
    if (this._open.get(a.name) === a) this._open.delete(a.name);
    if (!a.isZero) this._closedHolding.add(a);
  }

  /** @internal a closed account changed; forget it once it holds nothing. */
  _settle(a: Account): void {
    if (a.isZero) this._closedHolding.delete(a);
  }

  private _poolClosed(p: BufferPool): void {
    this._pools.delete(p);
    const a = p.account;
    if (a instanceof Account && this._open.get(a.name) === a) a.close();
  }
}
