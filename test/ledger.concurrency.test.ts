// Concurrency claims, proven against the real PostgreSQL.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../src/db/pool.ts';
import { InsufficientFundsError, Ledger, type OperationResult } from '../src/ledger/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let db: TestDatabase;
let ledger: Ledger;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 30 });
  ledger = new Ledger(db.pool, { batchSize: 64, batchConcurrency: 4 });
  await ledger.openAccount({ id: 'issuance', asset: 'credits', kind: 'issuance' });
  await ledger.openAccount({ id: 'spent', asset: 'credits', kind: 'spent' });
  await ledger.openAccount({ id: 'units:external', asset: 'units', kind: 'external' });
  await ledger.openAccount({ id: 'units:consumed', asset: 'units', kind: 'consumed' });
});

async function fundedWallet(id: string, credits: number) {
  await ledger.openAccount({ id, asset: 'credits', kind: 'wallet', neverNegative: true });
  await ledger.transfer({ key: `fund:${id}`, transfers: [{ debit: 'issuance', credit: id, amount: credits }] });
  return id;
}

const settled = <T>(promises: Promise<T>[]) => Promise.allSettled(promises);

describe('the ledger under concurrency', () => {
  it('200 concurrent holds of 1 on a wallet of 10: exactly 10 succeed, the rest are typed insufficient funds', async () => {
    const wallet = await fundedWallet('w-200', 10);
    const results = await settled(
      Array.from({ length: 200 }, (_, i) => ledger.placeHold({ key: `h200:${i}`, transfers: [{ debit: wallet, credit: 'spent', amount: 1 }] })),
    );
    const accepted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(accepted).toHaveLength(10);
    expect(refused).toHaveLength(190);
    for (const r of refused) expect(r.reason).toBeInstanceOf(InsufficientFundsError);
    expect(await ledger.balanceOf(wallet)).toMatchObject({ balance: 0, pending: 10, posted: 10 });
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });

  it('50 concurrent calls with one idempotency key make one transfer', async () => {
    const wallet = await fundedWallet('w-idem', 100);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => ledger.transfer({ key: 'one-key', transfers: [{ debit: wallet, credit: 'spent', amount: 7 }] })),
    );
    expect(new Set(results.map((r) => r.transfers[0]!.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await ledger.transfersOf('one-key')).toHaveLength(1);
    expect((await ledger.balanceOf(wallet)).balance).toBe(93);
  });

  it('the same key from two separate OS processes still makes one transfer', async () => {
    const wallet = await fundedWallet('w-procs', 100);
    const run = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/same-key-client.ts', db.url, 'two-procs', wallet, 'spent', '25'], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      const done = new Promise<{ transferId?: string; replayed?: boolean; error?: string }[]>((resolve, reject) =>
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exited ${code}`)))),
      );
      return { child, done };
    };
    const clients = [run(), run()];
    // Both processes have loaded and connected once they read stdin; start them together.
    for (const { child } of clients) child.stdin.end('go\n');
    const answers = (await Promise.all(clients.map((c) => c.done))).flat();
    expect(answers).toHaveLength(50);
    expect(answers.filter((a) => a.error)).toEqual([]);
    expect(new Set(answers.map((a) => a.transferId)).size).toBe(1);
    expect(answers.filter((a) => a.replayed === false)).toHaveLength(1);
    expect(await ledger.transfersOf('two-procs')).toHaveLength(1);
    expect((await ledger.balanceOf(wallet)).balance).toBe(93);
  });

  it('a hot pool debited by 64 concurrent clients never goes negative, and every unit is accounted for', async () => {
    await ledger.openAccount({ id: 'units:pool', asset: 'units', kind: 'pool', neverNegative: true });
    await ledger.transfer({ key: 'pool:refill', transfers: [{ debit: 'units:external', credit: 'units:pool', amount: 1000 }] });
    const wallets = await Promise.all(Array.from({ length: 64 }, (_, i) => fundedWallet(`hot-${i}`, 50)));
    // Two ledgers on one database behave like two processes: their batches interleave.
    const ledgers = [ledger, new Ledger(db.pool, { batchSize: 16, batchConcurrency: 3 })];
    let posted = 0;
    let voided = 0;
    let refused = 0;
    await Promise.all(
      wallets.map(async (wallet, client) => {
        const l = ledgers[client % 2]!;
        for (let i = 0; ; i++) {
          const key = `hot:${client}:${i}`;
          const units = 1 + ((client + i) % 7);
          let hold: OperationResult;
          try {
            hold = await l.placeHold({
              key,
              transfers: [
                { debit: wallet, credit: 'spent', amount: 1 },
                { debit: 'units:pool', credit: 'units:consumed', amount: units },
              ],
            });
          } catch (error) {
            expect(error).toBeInstanceOf(InsufficientFundsError);
            refused++;
            return; // this client is out: the pool (or its wallet) is empty for its next hold
          }
          expect(hold.transfers).toHaveLength(2);
          if (i % 4 === 3) {
            await l.voidHold({ hold: key });
            voided += units;
          } else {
            await l.postHold({ hold: key });
            posted += units;
          }
        }
      }),
    );
    const pool = await ledger.balanceOf('units:pool');
    expect(pool.balance).toBeGreaterThanOrEqual(0);
    expect(pool.pending).toBe(0);
    expect(pool.balance + posted).toBe(1000);
    expect((await ledger.balanceOf('units:consumed')).balance).toBe(posted);
    expect(refused).toBe(64);
    expect(voided).toBeGreaterThan(0);
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });

  it('transfers in both directions between the same accounts from two ledgers do not deadlock', async () => {
    const a = await fundedWallet('ping', 500);
    const b = await fundedWallet('pong', 500);
    const other = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 4 });
    await Promise.all(
      Array.from({ length: 400 }, (_, i) => {
        const [from, to] = i % 2 ? [a, b] : [b, a];
        return (i % 3 ? ledger : other).transfer({ key: `pingpong:${i}`, transfers: [{ debit: from, credit: to, amount: 1 + (i % 5) }] });
      }),
    );
    expect((await ledger.balanceOf(a)).balance + (await ledger.balanceOf(b)).balance).toBe(1000);
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });

  it('inside a caller’s transaction, a ledger operation rolls back with it', async () => {
    const wallet = await fundedWallet('w-tx', 10);
    await expect(
      withTransaction(db.pool, async (client) => {
        await ledger.executeIn(client, { key: 'in-tx', actions: [{ type: 'transfer', debit: wallet, credit: 'spent', amount: 4 }] });
        throw new Error('the domain write failed');
      }),
    ).rejects.toThrow('the domain write failed');
    expect((await ledger.balanceOf(wallet)).balance).toBe(10);
    expect(await ledger.transfersOf('in-tx')).toEqual([]);
    // The key was not spent by the rolled-back attempt.
    await withTransaction(db.pool, (client) =>
      ledger.executeIn(client, { key: 'in-tx', actions: [{ type: 'transfer', debit: wallet, credit: 'spent', amount: 4 }] }),
    );
    expect((await ledger.balanceOf(wallet)).balance).toBe(6);
  });
});

describe('optimistic batches', () => {
  // Found by the property tests: two batches that each pass on their own snapshot, and whose net
  // changes keep every balance non-negative, but that no one-after-another order allows. A=0, B=3;
  // X: B→A 3, A→B 2. Y: B→A 3, A→B 2, A→sink 1. Y's second B→A needs B=3 again, which only X's A→B
  // and Y's A→B could give, and they need A to have received 4 first.
  it('a batch whose plan rests on a balance that another batch lowered is rerun, not committed', async () => {
    const { applyOperations, OptimisticConflict } = await import('../src/ledger/store.ts');
    for (const id of ['dip-a', 'dip-b']) await ledger.openAccount({ id, asset: 'credits', kind: 'wallet', neverNegative: true });
    await ledger.transfer({ key: 'dip-fund', transfers: [{ debit: 'issuance', credit: 'dip-b', amount: 3 }] });
    const move = (debit: string, credit: string, amount: number) => ({ type: 'transfer' as const, debit, credit, amount });
    const x = [
      { key: 'dip-x1', actions: [move('dip-b', 'dip-a', 3)] },
      { key: 'dip-x2', actions: [move('dip-a', 'dip-b', 2)] },
    ];
    const y = [
      { key: 'dip-y1', actions: [move('dip-b', 'dip-a', 3)] },
      { key: 'dip-y2', actions: [move('dip-a', 'dip-b', 2)] },
      { key: 'dip-y3', actions: [move('dip-a', 'spent', 1)] },
    ];

    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      await first.query('begin');
      await applyOperations(first, x, 'optimistic');
      await second.query('begin');
      const secondPid = (await second.query('select pg_backend_pid() as pid')).rows[0].pid;
      const pending = applyOperations(second, y, 'optimistic').then(
        () => 'committed',
        (error) => error,
      );
      // Wait until the second batch has read its snapshot and is blocked on the rows the first holds.
      for (;;) {
        const { rows } = await db.pool.query(`select wait_event_type from pg_stat_activity where pid = $1`, [secondPid]);
        if (rows[0]?.wait_event_type === 'Lock') break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await first.query('commit');
      expect(await pending).toBeInstanceOf(OptimisticConflict);
      await second.query('rollback');
    } finally {
      first.release();
      second.release();
    }
    // Through the batcher the same operations rerun under locks and get serial answers.
    const outcomes = await Promise.allSettled(y.map((op) => ledger.execute(op)));
    // After X: A=1, B=2. Serially, Y's first two transfers lack funds and only A→sink 1 goes through.
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect((await ledger.balanceOf('dip-a')).balance).toBeGreaterThanOrEqual(0);
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });
});

describe('locked and optimistic batches share one lock order', () => {
  // A locked batch used to lock only the never-negative accounts it read and the others at its write; an
  // optimistic batch locks what it writes in id order. A locked post of a hold (flagged z-pool → a-sink)
  // against an optimistic batch that posts into a-sink and holds from z-pool was then a deadlock.
  it('a locked post and an optimistic batch on the same two accounts both commit', async () => {
    const { applyOperations } = await import('../src/ledger/store.ts');
    await ledger.openAccount({ id: 'a-sink', asset: 'units', kind: 'consumed' });
    await ledger.openAccount({ id: 'z-pool', asset: 'units', kind: 'pool', neverNegative: true });
    await ledger.transfer({ key: 'z-fund', transfers: [{ debit: 'units:external', credit: 'z-pool', amount: 100 }] });
    for (const key of ['z-hold-1', 'z-hold-2']) await ledger.placeHold({ key, transfers: [{ debit: 'z-pool', credit: 'a-sink', amount: 5 }] });

    const blocker = await db.pool.connect();
    const locked = await db.pool.connect();
    const optimistic = await db.pool.connect();
    const pidOf = async (client: typeof blocker) => (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const waitUntilBlocked = async (pid: number) => {
      for (;;) {
        const { rows } = await db.pool.query('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
        if (rows[0]?.wait_event_type === 'Lock') return;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const [lockedPid, optimisticPid] = [await pidOf(locked), await pidOf(optimistic)];
    try {
      // Someone else holds z-pool, so both batches queue on it: the locked one first.
      await blocker.query('begin');
      await blocker.query(`select 1 from ledger_accounts where id = 'z-pool' for update`);
      await locked.query('begin');
      const lockedDone = applyOperations(locked, [{ key: 'z-post-1', actions: [{ type: 'post', hold: 'z-hold-1' }] }], 'locked').then(async (outcomes) => {
        await locked.query('commit');
        return outcomes;
      });
      await waitUntilBlocked(lockedPid);
      const optimisticDone = applyOperations(
        optimistic,
        [
          { key: 'z-post-2', actions: [{ type: 'post', hold: 'z-hold-2' }] },
          { key: 'z-hold-3', actions: [{ type: 'transfer', debit: 'z-pool', credit: 'a-sink', amount: 7, pending: true }] },
        ],
        'optimistic',
      );
      await waitUntilBlocked(optimisticPid);
      await blocker.query('commit');
      const [a, b] = await Promise.allSettled([lockedDone, optimisticDone]);
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('fulfilled');
    } finally {
      for (const client of [blocker, locked, optimistic]) client.release();
    }
    expect((await ledger.balanceOf('a-sink')).balance).toBe(10);
    expect((await ledger.balanceOf('z-pool')).balance).toBe(100 - 10 - 7);
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });
});

describe('what one process remembers is never trusted', () => {
  it('a hold another process voided cannot be posted from a stale memory of it', async () => {
    const a = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const b = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const wallet = await fundedWallet('w-stale-hold', 5);
    await a.placeHold({ key: 'stale-hold', transfers: [{ debit: wallet, credit: 'spent', amount: 2 }] }); // a remembers it as pending
    await b.voidHold({ hold: 'stale-hold' });
    await expect(a.postHold({ hold: 'stale-hold' })).rejects.toMatchObject({ code: 'hold_not_pending', detail: { state: 'voided' } });
    expect((await a.balanceOf(wallet)).balance).toBe(5);
  });

  it('a balance another process spent cannot be spent again from a stale memory of it', async () => {
    const a = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const b = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const wallet = await fundedWallet('w-stale-balance', 5);
    await a.transfer({ key: 'stale-1', transfers: [{ debit: wallet, credit: 'spent', amount: 1 }] }); // a remembers 4
    await b.transfer({ key: 'stale-2', transfers: [{ debit: wallet, credit: 'spent', amount: 4 }] });
    await expect(a.transfer({ key: 'stale-3', transfers: [{ debit: wallet, credit: 'spent', amount: 3 }] })).rejects.toMatchObject({
      code: 'insufficient_funds',
      detail: { available: 0 },
    });
    expect((await a.balanceOf(wallet)).balance).toBe(0);
    expect((await ledger.checkInvariants()).ok).toBe(true);
  });

  it('a remembered hold that the database’s clock says has expired cannot be posted', async () => {
    const a = new Ledger(db.pool, { batchSize: 8, batchConcurrency: 1 });
    const wallet = await fundedWallet('w-stale-expiry', 5);
    const { rows } = await db.pool.query(`select now() + interval '300 milliseconds' as at`);
    const expiresAt: Date = rows[0].at;
    await a.placeHold({ key: 'soon-expired', transfers: [{ debit: wallet, credit: 'spent', amount: 2 }], expiresAt });
    // Wait for the database's clock (not this process's) to pass the expiry.
    while (!(await db.pool.query('select now() > $1 as past', [expiresAt])).rows[0].past) await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(a.postHold({ hold: 'soon-expired' })).rejects.toMatchObject({ code: 'hold_expired' });
    expect((await a.balanceOf(wallet)).balance).toBe(3);
  });
});
