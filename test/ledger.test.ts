import { beforeAll, describe, expect, it } from 'vitest';
import { InsufficientFundsError, Ledger, LedgerError } from '../src/ledger/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let db: TestDatabase;
let ledger: Ledger;
let n = 0;
const unique = (name: string) => `${name}-${++n}`;

beforeAll(async () => {
  db = await createTestDatabase();
  ledger = new Ledger(db.pool, { batchSize: 64, batchConcurrency: 2 });
  await ledger.openAccount({ id: 'issuance', asset: 'credits', kind: 'issuance' });
  await ledger.openAccount({ id: 'spent', asset: 'credits', kind: 'spent' });
  await ledger.openAccount({ id: 'units:external', asset: 'units', kind: 'external' });
});

async function wallet(credits: number) {
  const account = await ledger.openAccount({ id: unique('wallet'), asset: 'credits', kind: 'wallet', neverNegative: true });
  if (credits > 0) await ledger.transfer({ key: unique('fund'), transfers: [{ debit: 'issuance', credit: account.id, amount: credits }] });
  return account.id;
}

const balance = async (id: string) => (await ledger.balanceOf(id)).balance;

describe('accounts', () => {
  it('opens idempotently and refuses the same id with other properties', async () => {
    const first = await ledger.openAccount({ id: 'same', asset: 'credits', kind: 'wallet', neverNegative: true });
    const again = await ledger.openAccount({ id: 'same', asset: 'credits', kind: 'wallet', neverNegative: true });
    expect(again).toEqual(first);
    await expect(ledger.openAccount({ id: 'same', asset: 'units', kind: 'wallet', neverNegative: true })).rejects.toMatchObject({ code: 'account_conflict' });
  });

  it('rejects bad account ids', async () => {
    await expect(ledger.openAccount({ id: 'has space', asset: 'credits', kind: 'wallet' })).rejects.toMatchObject({ code: 'invalid_operation' });
  });
});

describe('transfers', () => {
  it('moves money and records both sides', async () => {
    const a = await wallet(10);
    const b = await wallet(0);
    const result = await ledger.transfer({ key: unique('t'), transfers: [{ debit: a, credit: b, amount: 4, metadata: { why: 'test' } }] });
    expect(result.replayed).toBe(false);
    expect(result.transfers).toHaveLength(1);
    expect(result.transfers[0]).toMatchObject({ state: 'posted', amount: 4, postedAmount: 4, metadata: { why: 'test' } });
    expect(await balance(a)).toBe(6);
    expect(await balance(b)).toBe(4);
  });

  it('refuses to take a never-negative account below zero, with a typed error, changing nothing', async () => {
    const a = await wallet(3);
    const b = await wallet(0);
    const error = await ledger.transfer({ key: unique('t'), transfers: [{ debit: a, credit: b, amount: 4 }] }).catch((e) => e);
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({ code: 'insufficient_funds', detail: { account: a, available: 3, requested: 4 } });
    expect(await balance(a)).toBe(3);
    expect(await balance(b)).toBe(0);
  });

  it('applies linked transfers all or none', async () => {
    const a = await wallet(5);
    const b = await wallet(1);
    const c = await wallet(0);
    await expect(
      ledger.transfer({
        key: unique('linked'),
        transfers: [
          { debit: a, credit: c, amount: 5 },
          { debit: b, credit: c, amount: 2 },
        ],
      }),
    ).rejects.toMatchObject({ code: 'insufficient_funds', detail: { account: b } });
    expect([await balance(a), await balance(b), await balance(c)]).toEqual([5, 1, 0]);
    await ledger.transfer({
      key: unique('linked'),
      transfers: [
        { debit: a, credit: c, amount: 5 },
        { debit: b, credit: c, amount: 1 },
      ],
    });
    expect([await balance(a), await balance(b), await balance(c)]).toEqual([0, 0, 6]);
  });

  it('rejects unknown accounts, mixed assets and same-account transfers', async () => {
    const a = await wallet(5);
    await expect(ledger.transfer({ key: unique('t'), transfers: [{ debit: a, credit: 'nope', amount: 1 }] })).rejects.toMatchObject({
      code: 'account_not_found',
    });
    await expect(ledger.transfer({ key: unique('t'), transfers: [{ debit: 'units:external', credit: a, amount: 1 }] })).rejects.toMatchObject({
      code: 'asset_mismatch',
    });
    await expect(ledger.transfer({ key: unique('t'), transfers: [{ debit: a, credit: a, amount: 1 }] })).rejects.toMatchObject({ code: 'same_account' });
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 60, '3'])('rejects the amount %s before touching the database', async (amount) => {
    const a = await wallet(5);
    const error = await ledger.transfer({ key: unique('bad'), transfers: [{ debit: a, credit: 'spent', amount: amount as number }] }).catch((e) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect(error.code).toBe('invalid_amount');
    expect(await balance(a)).toBe(5);
  });
});

describe('idempotency', () => {
  it('a replay with the same parameters returns the first result and moves nothing', async () => {
    const a = await wallet(10);
    const key = unique('idem');
    const first = await ledger.transfer({ key, transfers: [{ debit: a, credit: 'spent', amount: 3 }] });
    const second = await ledger.transfer({ key, transfers: [{ debit: a, credit: 'spent', amount: 3 }] });
    expect(second.replayed).toBe(true);
    expect(second.transfers).toEqual(first.transfers);
    expect(await balance(a)).toBe(7);
  });

  it('a replayed hold answers as it first did, even after the hold was posted', async () => {
    const a = await wallet(10);
    const key = unique('idem-hold');
    const first = await ledger.placeHold({ key, transfers: [{ debit: a, credit: 'spent', amount: 2 }] });
    const posted = await ledger.postHold({ hold: key });
    expect((await ledger.placeHold({ key, transfers: [{ debit: a, credit: 'spent', amount: 2 }] })).transfers).toEqual(first.transfers);
    expect((await ledger.postHold({ hold: key })).transfers).toEqual(posted.transfers);
    expect(first.transfers[0]!.state).toBe('pending');
    expect(await balance(a)).toBe(8);
  });

  it('a replay with other parameters is rejected clearly', async () => {
    const a = await wallet(10);
    const key = unique('idem');
    await ledger.transfer({ key, transfers: [{ debit: a, credit: 'spent', amount: 3 }] });
    const error = await ledger.transfer({ key, transfers: [{ debit: a, credit: 'spent', amount: 4 }] }).catch((e) => e);
    expect(error).toMatchObject({ code: 'idempotency_conflict' });
    expect(error.message).toContain(key);
    expect(await balance(a)).toBe(7);
  });

  it('a rejection is stored: the same key gets the same answer even after the funds arrive', async () => {
    const a = await wallet(1);
    const key = unique('idem');
    await expect(ledger.transfer({ key, transfers: [{ debit: a, credit: 'spent', amount: 3 }] })).rejects.toMatchObject({
      code: 'insufficient_funds',
      replayed: false,
    });
    await ledger.transfer({ key: unique('fund'), transfers: [{ debit: 'issuance', credit: a, amount: 5 }] });
    await expect(ledger.transfer({ key, transfers: [{ debit: a, credit: 'spent', amount: 3 }] })).rejects.toMatchObject({
      code: 'insufficient_funds',
      replayed: true,
    });
    expect(await balance(a)).toBe(6);
  });
});

describe('holds', () => {
  it('a hold reserves the debit side; posting moves it to the credit side', async () => {
    const a = await wallet(10);
    const hold = unique('hold');
    await ledger.placeHold({ key: hold, transfers: [{ debit: a, credit: 'spent', amount: 4 }] });
    expect(await ledger.balanceOf(a)).toMatchObject({ balance: 6, pending: 4, posted: 10 });
    const spentBefore = await balance('spent');
    const posted = await ledger.postHold({ hold });
    expect(posted.transfers[0]).toMatchObject({ state: 'posted', postedAmount: 4, resolvedBy: `post:${hold}` });
    expect(await ledger.balanceOf(a)).toMatchObject({ balance: 6, pending: 0, posted: 6 });
    expect(await balance('spent')).toBe(spentBefore + 4);
  });

  it('posting less than held releases the rest', async () => {
    const a = await wallet(10);
    const hold = unique('hold');
    await ledger.placeHold({ key: hold, transfers: [{ debit: a, credit: 'spent', amount: 5 }] });
    const posted = await ledger.postHold({ hold, amounts: [2] });
    expect(posted.transfers[0]).toMatchObject({ amount: 5, postedAmount: 2 });
    expect(await ledger.balanceOf(a)).toMatchObject({ balance: 8, pending: 0 });
    await expect(ledger.postHold({ hold: unique('x'), amounts: [1] })).rejects.toMatchObject({ code: 'hold_not_found' });
  });

  it('cannot post more than held', async () => {
    const a = await wallet(10);
    const hold = unique('hold');
    await ledger.placeHold({ key: hold, transfers: [{ debit: a, credit: 'spent', amount: 5 }] });
    await expect(ledger.postHold({ hold, amounts: [6] })).rejects.toMatchObject({ code: 'invalid_amount' });
    expect(await ledger.balanceOf(a)).toMatchObject({ balance: 5, pending: 5 });
  });

  it('voiding returns everything; a posted or voided hold cannot change again', async () => {
    const a = await wallet(10);
    const hold = unique('hold');
    await ledger.placeHold({ key: hold, transfers: [{ debit: a, credit: 'spent', amount: 4 }] });
    await ledger.voidHold({ hold });
    expect(await ledger.balanceOf(a)).toMatchObject({ balance: 10, pending: 0 });
    await expect(ledger.postHold({ hold })).rejects.toMatchObject({ code: 'hold_not_pending', detail: { state: 'voided' } });
    await expect(ledger.voidHold({ hold, key: unique('void-again') })).rejects.toMatchObject({ code: 'hold_not_pending' });
    // Replaying the void itself is fine: same key, same answer.
    expect((await ledger.voidHold({ hold })).replayed).toBe(true);

    const other = unique('hold');
    await ledger.placeHold({ key: other, transfers: [{ debit: a, credit: 'spent', amount: 1 }] });
    await ledger.postHold({ hold: other });
    await expect(ledger.voidHold({ hold: other })).rejects.toMatchObject({ code: 'hold_not_pending', detail: { state: 'posted' } });
    expect(await balance(a)).toBe(9);
  });

  it('a linked hold across two assets posts and voids as one', async () => {
    await ledger.openAccount({ id: 'units:pool', asset: 'units', kind: 'pool', neverNegative: true });
    await ledger.openAccount({ id: 'units:consumed', asset: 'units', kind: 'consumed' });
    await ledger.transfer({ key: 'pool-fund', transfers: [{ debit: 'units:external', credit: 'units:pool', amount: 8 }] });
    const a = await wallet(3);
    const holdOf = (key: string) =>
      ledger.placeHold({
        key,
        transfers: [
          { debit: a, credit: 'spent', amount: 1 },
          { debit: 'units:pool', credit: 'units:consumed', amount: 4 },
        ],
      });
    await holdOf('pair-1');
    await holdOf('pair-2');
    // The pool (8) is exhausted; the third hold fails as a whole, the wallet keeps its last credit.
    await expect(holdOf('pair-3')).rejects.toMatchObject({ code: 'insufficient_funds', detail: { account: 'units:pool' } });
    expect(await balance(a)).toBe(1);
    await ledger.postHold({ hold: 'pair-1' });
    await ledger.voidHold({ hold: 'pair-2' });
    expect(await balance(a)).toBe(2);
    expect(await ledger.balanceOf('units:pool')).toMatchObject({ balance: 4, pending: 0 });
    expect(await balance('units:consumed')).toBe(4);
  });

  it('expired holds are voided by the sweeper and can no longer be posted', async () => {
    const a = await wallet(10);
    const hold = unique('hold');
    const expiresAt = new Date(Date.now() + 60_000);
    await ledger.placeHold({ key: hold, transfers: [{ debit: a, credit: 'spent', amount: 3 }], expiresAt });
    expect(await ledger.expireHolds(new Date(expiresAt.getTime() - 1000))).toBe(0);
    expect(await ledger.expireHolds(new Date(expiresAt.getTime() + 1000))).toBeGreaterThanOrEqual(1);
    expect(await ledger.balanceOf(a)).toMatchObject({ balance: 10, pending: 0 });
    const [transfer] = await ledger.transfersOf(hold);
    expect(transfer!.state).toBe('expired');
    await expect(ledger.postHold({ hold })).rejects.toMatchObject({ code: 'hold_not_pending', detail: { state: 'expired' } });
  });

  it('the pending transfers of one operation share one expiry', async () => {
    const a = await wallet(10);
    const at = (ms: number) => new Date(Date.now() + ms);
    await expect(
      ledger.execute({
        key: unique('two-deadlines'),
        actions: [
          { type: 'transfer', debit: a, credit: 'spent', amount: 1, pending: true, expiresAt: at(60_000) },
          { type: 'transfer', debit: a, credit: 'spent', amount: 1, pending: true, expiresAt: at(120_000) },
        ],
      }),
    ).rejects.toMatchObject({ code: 'invalid_operation', detail: { field: 'actions' } });
  });

  it('a hold cannot be created already expired', async () => {
    const a = await wallet(10);
    await expect(
      ledger.placeHold({ key: unique('hold'), transfers: [{ debit: a, credit: 'spent', amount: 1 }], expiresAt: new Date(Date.now() - 1000) }),
    ).rejects.toMatchObject({ code: 'invalid_operation' });
  });
});

describe('history and invariants', () => {
  it('lists an account’s transfers newest first, with cursors', async () => {
    const a = await wallet(15);
    for (let i = 1; i <= 5; i++) await ledger.transfer({ key: unique('h'), transfers: [{ debit: a, credit: 'spent', amount: i }] });
    const page1 = await ledger.history(a, { limit: 4 });
    expect(page1.entries.map((e) => e.effect)).toEqual([-5, -4, -3, -2]);
    const page2 = await ledger.history(a, { limit: 4, cursor: page1.cursor! });
    expect(page2.entries.map((e) => e.effect)).toEqual([-1, 15]);
    expect(page2.cursor).toBeNull();
  });

  it('all invariants hold after everything above', async () => {
    const report = await ledger.checkInvariants();
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('the check finds a balance edited behind the ledger’s back', async () => {
    const a = await wallet(10);
    await db.pool.query('update ledger_accounts set balance = balance + 1 where id = $1', [a]);
    const report = await ledger.checkInvariants();
    expect(report.ok).toBe(false);
    expect(report.results.find((r) => r.name === 'balance-derivable')!.violations).toEqual([{ id: a, cached: 11, derived: 10 }]);
    expect(report.results.find((r) => r.name === 'asset-sums-to-zero')!.ok).toBe(false);
    await db.pool.query('update ledger_accounts set balance = balance - 1 where id = $1', [a]);
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });

  it('the database refuses a negative never-negative balance even when written directly', async () => {
    const a = await wallet(1);
    await expect(db.pool.query('update ledger_accounts set balance = -1 where id = $1', [a])).rejects.toMatchObject({ code: '23514' });
  });
});

describe('reads for other domains', () => {
  it('balances of many accounts in one read, limited to an owner when asked; a held amount is not spendable', async () => {
    const mine = await ledger.openAccount({ id: unique('owned'), asset: 'credits', kind: 'wallet', ownerId: 'olga', neverNegative: true });
    const other = await wallet(7);
    await ledger.transfer({ key: unique('fund'), transfers: [{ debit: 'issuance', credit: mine.id, amount: 5 }] });
    await ledger.placeHold({ key: unique('hold'), transfers: [{ debit: mine.id, credit: 'spent', amount: 2 }] });
    expect(await ledger.balances([mine.id, other, 'no-such-account'])).toEqual(
      new Map([
        [mine.id, 3],
        [other, 7],
      ]),
    );
    expect(await ledger.balances([mine.id, other], { ownerId: 'olga' })).toEqual(new Map([[mine.id, 3]]));
  });

  it('the newest posted amount between two accounts, and posted inflow over day windows', async () => {
    const target = await wallet(0);
    expect(await ledger.lastPosted({ debit: 'issuance', credit: target })).toBeNull();
    await ledger.transfer({ key: unique('fund'), transfers: [{ debit: 'issuance', credit: target, amount: 4 }] });
    await ledger.transfer({ key: unique('fund'), transfers: [{ debit: 'issuance', credit: target, amount: 6 }] });
    const held = unique('hold');
    await ledger.placeHold({ key: held, transfers: [{ debit: 'issuance', credit: target, amount: 100 }] }); // pending: not inflow
    expect(await ledger.lastPosted({ debit: 'issuance', credit: target })).toBe(6);
    const now = new Date();
    expect(await ledger.inflow({ account: target, until: now, windowsDays: [7, 30] })).toEqual([10, 10]);
    // Seen from 8 days on, both transfers are in the 30-day window only.
    expect(await ledger.inflow({ account: target, until: new Date(now.getTime() + 8 * 86_400_000), windowsDays: [7, 30] })).toEqual([0, 10]);
  });
});
