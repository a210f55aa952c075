// Ledger.transaction: operations inside a caller's transaction planned from memory, proven by their
// write, and rerun under locks when the proof fails; against the real PostgreSQL.
import { beforeAll, describe, expect, it } from 'vitest';
import { InsufficientFundsError, Ledger } from '../src/ledger/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let db: TestDatabase;
let ledger: Ledger;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 30 });
  ledger = new Ledger(db.pool, { batchSize: 32, batchConcurrency: 3 });
  for (const [id, kind] of [
    ['issuance', 'issuance'],
    ['spent', 'spent'],
    ['units:external', 'external'],
    ['units:consumed', 'consumed'],
  ] as const) {
    await ledger.openAccount({ id, asset: id.startsWith('units') ? 'units' : 'credits', kind });
  }
  await ledger.openAccount({ id: 'units:reserved', asset: 'units', kind: 'pool', neverNegative: true });
  await ledger.transfer({ key: 'fund-reserved', transfers: [{ debit: 'units:external', credit: 'units:reserved', amount: 100_000 }] });
  await db.pool.query('create table side_rows (note text primary key)');
});

async function wallet(id: string, credits: number, owner = ledger) {
  await owner.openAccount({ id, asset: 'credits', kind: 'wallet', neverNegative: true });
  if (credits > 0) await owner.transfer({ key: `fund:${id}`, transfers: [{ debit: 'issuance', credit: id, amount: credits }] });
  return id;
}

const sideRow = async (note: string) => (await db.pool.query('select 1 from side_rows where note = $1', [note])).rowCount === 1;

describe('Ledger.transaction', () => {
  it('commits the ledger step and the caller’s rows together, planned from memory', async () => {
    const w = await wallet('tx-plain', 10);
    let runs = 0;
    await ledger.transaction(async (client) => {
      runs++;
      await ledger.executeIn(client, { key: 'tx-plain-1', actions: [{ type: 'transfer', debit: w, credit: 'spent', amount: 4 }] });
      await client.query(`insert into side_rows values ('plain')`);
    });
    expect(runs).toBe(1);
    expect((await ledger.balanceOf(w)).balance).toBe(6);
    expect(await sideRow('plain')).toBe(true);
  });

  it('a plan from a balance another process spent fails its proof: rolled back, rerun under locks, refused', async () => {
    const other = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const w = await wallet('tx-stale-high', 5);
    await ledger.transfer({ key: 'tx-stale-high-0', transfers: [{ debit: w, credit: 'spent', amount: 1 }] }); // remembers 4
    await other.transfer({ key: 'tx-stale-high-1', transfers: [{ debit: w, credit: 'spent', amount: 4 }] }); // really 0
    let runs = 0;
    const attempt = ledger.transaction(async (client) => {
      runs++;
      await client.query(`insert into side_rows values ('stale-high')`);
      await ledger.executeIn(client, { key: 'tx-stale-high-2', actions: [{ type: 'transfer', debit: w, credit: 'spent', amount: 3 }] });
    });
    await expect(attempt).rejects.toBeInstanceOf(InsufficientFundsError);
    expect(runs).toBe(2);
    expect(await sideRow('stale-high')).toBe(false);
    expect((await ledger.balanceOf(w)).balance).toBe(0);
  });

  it('a refusal from a remembered balance that is too low is confirmed under locks in the same run, and goes through', async () => {
    const other = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const w = await wallet('tx-stale-low', 2);
    await ledger.transfer({ key: 'tx-stale-low-0', transfers: [{ debit: w, credit: 'spent', amount: 1 }] }); // remembers 1
    await other.transfer({ key: 'tx-stale-low-1', transfers: [{ debit: 'issuance', credit: w, amount: 5 }] }); // really 6
    let runs = 0;
    await ledger.transaction(async (client) => {
      runs++;
      await ledger.executeIn(client, { key: 'tx-stale-low-2', actions: [{ type: 'transfer', debit: w, credit: 'spent', amount: 3 }] });
      await client.query(`insert into side_rows values ('stale-low')`);
    });
    expect(runs).toBe(1);
    expect(await sideRow('stale-low')).toBe(true);
    expect((await ledger.balanceOf(w)).balance).toBe(3);
  });

  it('a hold another process voided cannot be posted from memory of it', async () => {
    const other = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const w = await wallet('tx-voided', 5);
    await ledger.placeHold({ key: 'tx-voided-hold', transfers: [{ debit: w, credit: 'spent', amount: 2 }] });
    await other.voidHold({ hold: 'tx-voided-hold' });
    const attempt = ledger.transaction((client) => ledger.executeIn(client, { key: 'tx-voided-post', actions: [{ type: 'post', hold: 'tx-voided-hold' }] }));
    await expect(attempt).rejects.toMatchObject({ code: 'hold_not_pending' });
    expect((await ledger.balanceOf(w)).balance).toBe(5);
  });

  it('64 concurrent transactions settling holds over the same pool accounts all commit (one lock order, no deadlock)', async () => {
    const wallets = await Promise.all(Array.from({ length: 64 }, (_, i) => wallet(`tx-hot-${i}`, 3)));
    for (const [i, w] of wallets.entries()) await ledger.placeHold({ key: `tx-hot-hold-${i}`, transfers: [{ debit: w, credit: 'spent', amount: 3 }] });
    const results = await Promise.allSettled(
      wallets.map((_, i) =>
        ledger.transaction(async (client) => {
          await ledger.executeIn(client, {
            key: `tx-hot-settle-${i}`,
            actions: [
              { type: 'post', hold: `tx-hot-hold-${i}` },
              { type: 'transfer', debit: 'units:reserved', credit: 'units:consumed', amount: 12 },
            ],
          });
          await client.query('insert into side_rows values ($1)', [`hot-${i}`]);
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect((await ledger.balanceOf('units:reserved')).balance).toBe(100_000 - 64 * 12);
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });
});
