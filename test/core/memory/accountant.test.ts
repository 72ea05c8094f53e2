import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Account,
  BudgetExceededError,
  DEFAULT_BUDGET_BYTES,
  DEFAULT_TOP_HOLDERS,
  MemoryAccountant,
  MemoryLeakError,
  type MemorySnapshot,
} from '../../../src/core/memory/accountant.js';
import { BufferPool } from '../../../src/core/memory/buffer-pool.js';
import { SluiceError, SluiceRangeError, SluiceStateError, SluiceTypeError } from '../../../src/core/errors.js';

function expectReconciled(s: MemorySnapshot): void {
  expect(s.reconciled).toBe(true);
  expect(s.accounts.reduce((n, a) => n + a.reservedBytes, 0)).toBe(s.reservedBytes);
  expect(s.remainingBytes).toBe(Math.max(0, s.budgetBytes - s.reservedBytes));
}

describe('MemoryAccountant options and accounts', () => {
  it('defaults: 256 MiB budget, 5 holders', () => {
    const a = new MemoryAccountant();
    expect(DEFAULT_BUDGET_BYTES).toBe(268_435_456);
    expect(a.budgetBytes).toBe(DEFAULT_BUDGET_BYTES);
    expect(DEFAULT_TOP_HOLDERS).toBe(5);
    expect(a.reservedBytes).toBe(0);
    expect(a.remainingBytes).toBe(DEFAULT_BUDGET_BYTES);
  });

  it('validates options and names', () => {
    expect(() => new MemoryAccountant({ budgetBytes: -1 })).toThrow(/budgetBytes: expected an integer in \[0, 9007199254740991\], got -1/);
    expect(() => new MemoryAccountant({ budgetBytes: 1.5 })).toThrow(SluiceRangeError);
    expect(() => new MemoryAccountant({ topHolders: 0 })).toThrow(/topHolders/);
    expect(() => new MemoryAccountant(null as unknown as object)).toThrow(SluiceTypeError);
    const a = new MemoryAccountant();
    expect(() => a.account(7 as unknown as string)).toThrow(SluiceTypeError);
    expect(() => a.account('')).toThrow(SluiceRangeError);
    expect(() => a.account('x'.repeat(257))).toThrow(SluiceRangeError);
    expect(() => a.account('conn.\ud800')).toThrow(/unpaired surrogate/);
    a.account('conn.\ud83d\ude00'); // a paired surrogate (emoji) is fine
    a.account('conn.1.reorder');
    expect(() => a.account('conn.1.reorder')).toThrow(SluiceStateError);
    expect(a.getAccount('conn.1.reorder')).toBeInstanceOf(Account);
    expect(a.getAccount('nope')).toBeUndefined();
  });

  it('tracks reserved, capacity, used, high water and span per account', () => {
    const acct = new MemoryAccountant({ budgetBytes: 1_000_000 });
    const r = acct.account('conn.7.reorder');
    r.reserve(4096);
    r.setCapacity(256 * 1472, 256);
    r.use(1400, 1);
    r.use(1000, 1);
    r.use(-1400, -1);
    r.setSpanMs(12.5);
    expect(r.snapshot()).toEqual({
      name: 'conn.7.reorder',
      reservedBytes: 4096,
      capacityBytes: 376_832,
      capacityPackets: 256,
      usedBytes: 1000,
      usedPackets: 1,
      highWaterBytes: 2400,
      highWaterPackets: 2,
      spanMs: 12.5,
      closed: false,
    });
    expect(acct.reservedBytes).toBe(4096);
    expect(acct.remainingBytes).toBe(1_000_000 - 4096);
  });

  it('refuses misuse: negative occupancy, over-unreserve, bad amounts, reserve after close', () => {
    const acct = new MemoryAccountant();
    const r = acct.account('a');
    r.reserve(10);
    expect(() => r.use(-1, 0)).toThrow(SluiceRangeError);
    expect(() => r.use(0, -1)).toThrow(/would make occupancy 0 bytes \/ -1 packets/);
    expect(() => r.use(Number.NaN, 0)).toThrow(SluiceRangeError);
    expect(() => r.unreserve(11)).toThrow(/unreserve\(11\) exceeds the 10 bytes it holds/);
    expect(() => r.reserve(-1)).toThrow(SluiceRangeError);
    expect(() => r.reserve(0.5)).toThrow(SluiceRangeError);
    expect(() => r.setCapacity(-1, 0)).toThrow(SluiceRangeError);
    // Spans come from peer timestamps: bad values are recorded as 0, never thrown.
    for (const bad of [-1, Infinity, -Infinity, Number.NaN]) {
      r.setSpanMs(bad);
      expect(r.snapshot().spanMs).toBe(0);
    }
    r.setSpanMs(0.25);
    expect(r.snapshot().spanMs).toBe(0.25);
    expect(acct.reservedBytes).toBe(10);
    r.unreserve(10);
    r.close();
    expect(() => r.reserve(1)).toThrow(SluiceStateError);
  });
});

describe('budget', () => {
  it('throws BudgetExceededError naming requested, remaining and the top holders; reserves nothing', () => {
    const acct = new MemoryAccountant({ budgetBytes: 10_000, topHolders: 2 });
    acct.account('conn.1.send').reserve(5000);
    acct.account('conn.2.send').reserve(3000);
    acct.account('pool.1472').reserve(1000);
    const x = acct.account('conn.3.reorder');
    let err: unknown;
    try {
      x.reserve(1001);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect(err).toBeInstanceOf(SluiceError);
    const e = err as BudgetExceededError;
    expect(e.code).toBe('ERR_SLUICE_BUDGET_EXCEEDED');
    expect(e.requested).toBe(1001);
    expect(e.remaining).toBe(1000);
    expect(e.budget).toBe(10_000);
    expect(e.account).toBe('conn.3.reorder');
    expect(e.holders).toEqual([
      { name: 'conn.1.send', reservedBytes: 5000 },
      { name: 'conn.2.send', reservedBytes: 3000 },
    ]);
    expect(e.message).toBe(
      'memory budget exceeded: account "conn.3.reorder" requested 1001 bytes, 1000 of 10000 bytes remaining; top holders: conn.1.send (5000 B), conn.2.send (3000 B)',
    );
    expect(x.reservedBytes).toBe(0);
    expect(acct.reservedBytes).toBe(9000);
    // Exactly up to the budget is allowed.
    x.reserve(1000);
    expect(acct.remainingBytes).toBe(0);
    expect(x.tryReserve(1)).toBe(false);
    expect(acct.snapshot().budgetRefusals).toBe(2);
  });

  it('setBudgetBytes below the reserved total refuses further reservations and takes nothing back', () => {
    const acct = new MemoryAccountant({ budgetBytes: 100 });
    const a = acct.account('a');
    a.reserve(80);
    acct.setBudgetBytes(50);
    expect(acct.remainingBytes).toBe(0);
    expect(() => a.reserve(1)).toThrow(BudgetExceededError);
    expect(acct.reservedBytes).toBe(80);
    a.unreserve(40);
    a.reserve(10);
    expect(acct.reservedBytes).toBe(50);
    expect(() => acct.setBudgetBytes(-5)).toThrow(SluiceRangeError);
  });

  it('a budget of zero refuses everything but zero', () => {
    const acct = new MemoryAccountant({ budgetBytes: 0 });
    const a = acct.account('a');
    a.reserve(0);
    expect(() => a.reserve(1)).toThrow(/requested 1 bytes, 0 of 0 bytes remaining; top holders: nobody/);
  });
});

describe('snapshot', () => {
  it('reconciles, aggregates per connection, sorts, counts seq and carries the caller time', () => {
    const acct = new MemoryAccountant({ budgetBytes: 1 << 20 });
    acct.account('conn.2.reorder').reserve(100);
    const s1 = acct.account('conn.1.send');
    s1.reserve(300);
    s1.use(1400, 1);
    s1.setCapacity(2800, 2);
    acct.account('conn.1.reorder').reserve(200);
    acct.account('other').reserve(7);
    const snap = acct.snapshot(1234.5);
    expectReconciled(snap);
    expect(snap.seq).toBe(1);
    expect(acct.snapshot().seq).toBe(2);
    expect(snap.timeMs).toBe(1234.5);
    expect(snap.accounts.map((a) => a.name)).toEqual(['conn.1.reorder', 'conn.1.send', 'conn.2.reorder', 'other']);
    expect(snap.reservedBytes).toBe(607);
    expect(snap.usedBytes).toBe(1400);
    expect(snap.usedPackets).toBe(1);
    expect(snap.capacityBytes).toBe(2800);
    expect(snap.connections).toEqual([
      { id: '1', reservedBytes: 500, usedBytes: 1400, usedPackets: 1, capacityBytes: 2800, accounts: 2 },
      { id: '2', reservedBytes: 100, usedBytes: 0, usedPackets: 0, capacityBytes: 0, accounts: 1 },
    ]);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('a closed account still holding stays visible (closed: true) until given back; the name can be reused', () => {
    const acct = new MemoryAccountant();
    const a = acct.account('conn.9.send');
    a.reserve(100);
    a.use(50, 1);
    a.setCapacity(1000, 10);
    a.close();
    a.close();
    expect(acct.getAccount('conn.9.send')).toBeUndefined();
    const b = acct.account('conn.9.send');
    b.reserve(1);
    let snap = acct.snapshot();
    expectReconciled(snap);
    expect(snap.accounts.map((x) => [x.name, x.closed, x.reservedBytes, x.capacityBytes])).toEqual([
      ['conn.9.send', false, 1, 0],
      ['conn.9.send', true, 100, 0],
    ]);
    a.unreserve(100);
    a.use(-50, -1);
    snap = acct.snapshot();
    expectReconciled(snap);
    expect(snap.accounts).toHaveLength(1);
    expect(acct.closeAccount('conn.9.send')).toBe(true);
    expect(acct.closeAccount('conn.9.send')).toBe(false);
  });

  it('includes registered pools', () => {
    const acct = new MemoryAccountant();
    const p = acct.createPool({ slotSize: 100, maxSlots: 8 });
    const ext = new BufferPool({ slotSize: 64, maxSlots: 4, name: 'ext.64' });
    acct.registerPool(ext);
    expect(() => acct.registerPool({} as BufferPool)).toThrow(SluiceTypeError);
    const b = p.acquire()!;
    const snap = acct.snapshot();
    expectReconciled(snap);
    expect(snap.pools.map((x) => [x.name, x.inUse])).toEqual([
      ['ext.64', 0],
      ['pool.100', 1],
    ]);
    expect(snap.accounts.find((a) => a.name === 'pool.100')!.reservedBytes).toBe(p.stats().reservedBytes);
    acct.unregisterPool(ext);
    p.release(b);
    p.close();
    expect(acct.snapshot().pools).toEqual([]);
    expect(acct.getAccount('pool.100')).toBeUndefined();
  });
});

describe('leak check', () => {
  it('passes when everything is back, names each holder otherwise', () => {
    const acct = new MemoryAccountant();
    expect(acct.leakCheck()).toEqual({ ok: true, accounts: [], pools: [], unreconciled: false, summary: 'no leaks' });
    const pool = acct.createPool({ slotSize: 1472, maxSlots: 64 });
    const r = acct.account('conn.1.reorder');
    r.reserve(64);
    const slot = pool.acquire()!;
    r.use(1400, 1);
    const rep = acct.leakCheck();
    expect(rep.ok).toBe(false);
    expect(rep.accounts.map((a) => [a.name, a.reason])).toEqual([['conn.1.reorder', 'still holding']]);
    expect(rep.pools).toEqual([{ name: 'pool.1472', inUse: 1 }]);
    expect(rep.summary).toContain('conn.1.reorder (still holding: reserved 64 B, used 1400 B / 1 pkt)');
    expect(rep.summary).toContain('pool.1472 (1)');
    expect(() => acct.assertNoLeaks()).toThrow(MemoryLeakError);
    try {
      acct.assertNoLeaks();
    } catch (e) {
      expect((e as MemoryLeakError).code).toBe('ERR_SLUICE_MEMORY_LEAK');
      expect((e as MemoryLeakError).report.pools).toHaveLength(1);
    }

    // Closing without giving back is still a leak.
    r.close();
    expect(acct.leakCheck().accounts.map((a) => [a.name, a.closed, a.reason])).toEqual([['conn.1.reorder', true, 'closed while holding']]);
    r.use(-1400, -1);
    r.unreserve(64);
    pool.release(slot);
    // An open pool keeping its slabs is fine by default, not in strict mode.
    expect(acct.leakCheck().ok).toBe(true);
    const strict = acct.leakCheck({ strict: true });
    expect(strict.ok).toBe(false);
    expect(strict.accounts.map((a) => [a.name, a.reason])).toEqual([['pool.1472', 'pool still open (strict)']]);
    pool.close();
    acct.assertNoLeaks({ strict: true });
  });

  it('flags a pool account that disagrees with its pool', () => {
    const acct = new MemoryAccountant();
    const pool = acct.createPool({ slotSize: 10, maxSlots: 4 });
    acct.getAccount('pool.10')!.reserve(5); // someone else charged the pool's account
    const rep = acct.leakCheck();
    expect(rep.ok).toBe(false);
    expect(rep.accounts[0]!.reason).toMatch(/reserves \d+ B but its pool holds \d+ B/);
    acct.getAccount('pool.10')!.unreserve(5);
    pool.close();
    acct.assertNoLeaks({ strict: true });
  });

  it('createPool/createPoolSet clean up their accounts when construction fails', () => {
    const acct = new MemoryAccountant({ budgetBytes: 100 });
    expect(() => acct.createPool({ slotSize: 10, maxSlots: 100 })).toThrow(BudgetExceededError);
    expect(() => acct.createPoolSet({ classes: [{ slotSize: 8, maxSlots: 4 }, { slotSize: 16, maxSlots: 100 }] })).toThrow(
      BudgetExceededError,
    );
    expect(acct.snapshot().accounts).toEqual([]);
    acct.assertNoLeaks({ strict: true });
    const big = new MemoryAccountant();
    const set = big.createPoolSet({ prefix: 'shared' });
    expect(big.snapshot().accounts.map((a) => a.name)).toEqual(['shared.1472', 'shared.2048']);
    const b = set.acquire(1400)!;
    expect(big.leakCheck().pools).toEqual([{ name: 'shared.1472', inUse: 1 }]);
    set.release(b);
    set.close();
    big.assertNoLeaks({ strict: true });
    expect(big.snapshot().accounts).toEqual([]);
  });
});

describe('accountant properties', () => {
  type Op =
    | { k: 'reserve'; acc: number; bytes: number }
    | { k: 'unreserve'; acc: number; frac: number }
    | { k: 'use'; acc: number; bytes: number; packets: number }
    | { k: 'acquire'; pool: number }
    | { k: 'release'; pool: number; idx: number }
    | { k: 'close'; acc: number }
    | { k: 'trim'; pool: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('reserve' as const), acc: fc.nat(4), bytes: fc.integer({ min: 0, max: 3000 }) }),
    fc.record({ k: fc.constant('unreserve' as const), acc: fc.nat(4), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({
      k: fc.constant('use' as const),
      acc: fc.nat(4),
      bytes: fc.integer({ min: -2000, max: 2000 }),
      packets: fc.integer({ min: -2, max: 2 }),
    }),
    fc.record({ k: fc.constant('acquire' as const), pool: fc.nat(1) }),
    fc.record({ k: fc.constant('release' as const), pool: fc.nat(1), idx: fc.nat() }),
    fc.record({ k: fc.constant('close' as const), acc: fc.nat(4) }),
    fc.record({ k: fc.constant('trim' as const), pool: fc.nat(1) }),
  );

  it('never above budget, totals == sum of accounts, everything zero after the holders give back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.array(op, { maxLength: 80 }), (budget, ops) => {
        const acct = new MemoryAccountant({ budgetBytes: budget });
        const names = ['conn.1.reorder', 'conn.1.send', 'conn.2.fec-enc', 'conn.2.fec-dec', 'x'];
        const accs = names.map((n) => acct.account(n));
        // A model of what each account holds, to give it back at the end.
        const model = names.map(() => ({ reserved: 0, used: 0, packets: 0 }));
        let pools: BufferPool[];
        try {
          pools = [
            acct.createPool({ slotSize: 100, slotsPerSlab: 4, maxSlots: 16 }),
            acct.createPool({ slotSize: 300, slotsPerSlab: 2, maxSlots: 6 }),
          ];
        } catch (e) {
          expect(e).toBeInstanceOf(BudgetExceededError);
          expect(acct.reservedBytes).toBeLessThanOrEqual(budget);
          return;
        }
        const held: Uint8Array[][] = [[], []];
        for (const o of ops) {
          if (o.k === 'reserve') {
            const a = accs[o.acc]!;
            const before = acct.reservedBytes;
            if (a.closed) {
              expect(() => a.reserve(o.bytes)).toThrow(SluiceStateError);
            } else if (before + o.bytes > budget) {
              expect(() => a.reserve(o.bytes)).toThrow(BudgetExceededError);
              expect(acct.reservedBytes).toBe(before);
            } else {
              a.reserve(o.bytes);
              model[o.acc]!.reserved += o.bytes;
            }
          } else if (o.k === 'unreserve') {
            const n = Math.floor(model[o.acc]!.reserved * o.frac);
            accs[o.acc]!.unreserve(n);
            model[o.acc]!.reserved -= n;
          } else if (o.k === 'use') {
            const m = model[o.acc]!;
            if (m.used + o.bytes < 0 || m.packets + o.packets < 0) {
              expect(() => accs[o.acc]!.use(o.bytes, o.packets)).toThrow(SluiceRangeError);
            } else {
              accs[o.acc]!.use(o.bytes, o.packets);
              m.used += o.bytes;
              m.packets += o.packets;
            }
          } else if (o.k === 'acquire') {
            const b = pools[o.pool]!.acquire();
            if (b !== null) held[o.pool]!.push(b);
          } else if (o.k === 'release') {
            const h = held[o.pool]!;
            if (h.length > 0) pools[o.pool]!.release(h.splice(o.idx % h.length, 1)[0]!);
          } else if (o.k === 'close') {
            accs[o.acc]!.close();
          } else {
            pools[o.pool]!.trim();
          }
          expect(acct.reservedBytes).toBeLessThanOrEqual(budget);
          const snap = acct.snapshot();
          expectReconciled(snap);
          for (let i = 0; i < names.length; i++) {
            expect(accs[i]!.reservedBytes).toBe(model[i]!.reserved);
            expect(accs[i]!.usedBytes).toBe(model[i]!.used);
          }
          for (let p = 0; p < 2; p++) expect(pools[p]!.inUse).toBe(held[p]!.length);
        }
        // Give everything back, close everything: the strict leak check passes and the total is 0.
        for (let i = 0; i < names.length; i++) {
          accs[i]!.use(-model[i]!.used, -model[i]!.packets);
          accs[i]!.unreserve(model[i]!.reserved);
          accs[i]!.close();
        }
        for (let p = 0; p < 2; p++) {
          for (const b of held[p]!) pools[p]!.release(b);
          pools[p]!.close();
        }
        acct.assertNoLeaks({ strict: true });
        expect(acct.reservedBytes).toBe(0);
        expect(acct.snapshot().accounts).toEqual([]);
      }),
    );
  });
});
