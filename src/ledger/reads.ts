// Reads other domains need from the ledger's tables, so that no code outside src/ledger writes SQL
// against them: balances of many accounts at once (optionally locked inside the caller's transaction),
// the newest posted amount between two accounts, what flowed into an account over a window (in all, or
// by the kind of account it came from), and how many owners hold a balance.
import type { Client, Queryable } from '../db/pool.ts';
import type { AccountId } from './types.ts';

/** Spendable balances of `ids` in one statement; an account that does not exist (or is not `ownerId`'s) is absent. */
export async function spendableBalances(db: Queryable, ids: AccountId[], ownerId?: string): Promise<Map<AccountId, number>> {
  const { rows } = await db.query<{ id: string; balance: number }>(
    'select id, balance from ledger_accounts where id = any($1) and ($2::text is null or owner_id = $2)',
    [ids, ownerId ?? null],
  );
  return new Map(rows.map((row) => [row.id, row.balance]));
}

/**
 * The same, with the rows locked (FOR UPDATE) until the caller's transaction ends. A lock taken while
 * another transaction writes one of these accounts waits for it and then reads what it left, so a
 * decision made on these balances cannot race a concurrent one. Locked in id order, the order every
 * ledger write locks accounts in, so the two never deadlock.
 */
export async function lockSpendableBalances(client: Client, ids: AccountId[], ownerId?: string): Promise<Map<AccountId, number>> {
  const { rows } = await client.query<{ id: string; balance: number }>(
    'select id, balance from ledger_accounts where id = any($1) and ($2::text is null or owner_id = $2) order by id for update',
    [ids, ownerId ?? null],
  );
  return new Map(rows.map((row) => [row.id, row.balance]));
}

/** The amount of the newest posted transfer from `debit` to `credit`, or null when there is none. */
export async function lastPostedAmount(db: Queryable, input: { debit: AccountId; credit: AccountId }): Promise<number | null> {
  const { rows } = await db.query<{ amount: number }>(
    `select amount from ledger_transfers where debit_account_id = $1 and credit_account_id = $2 and state = 'posted' order by id desc limit 1`,
    [input.debit, input.credit],
  );
  return rows[0]?.amount ?? null;
}

/** What posted transfers moved into `account` within each window ending at `until` (lengths in days), summed in SQL. */
export async function postedInto(db: Queryable, input: { account: AccountId; until: Date; windowsDays: number[] }): Promise<number[]> {
  const { rows } = await db.query<{ days: number; amount: number }>(
    `select w.days, coalesce(sum(t.posted_amount), 0)::bigint as amount
       from unnest($3::int[]) as w(days)
       left join ledger_transfers t
         on t.credit_account_id = $1 and t.state = 'posted' and t.created_at <= $2 and t.created_at >= $2::timestamptz - make_interval(days => w.days)
      group by w.days`,
    [input.account, input.until, input.windowsDays],
  );
  return input.windowsDays.map((days) => rows.find((row) => row.days === days)?.amount ?? 0);
}

/**
 * What posted transfers moved into `account` between `from` (inclusive) and `to` (exclusive), summed in
 * SQL by the kind of the account they came from (e.g. the bucket credits were spent from). A hold counts
 * when it was posted (its resolved_at), for the amount posted.
 */
export async function postedIntoBySourceKind(db: Queryable, input: { account: AccountId; from: Date; to: Date }): Promise<Map<string, number>> {
  const { rows } = await db.query<{ kind: string; amount: number }>(
    `select a.kind, sum(t.posted_amount)::bigint as amount
       from ledger_transfers t join ledger_accounts a on a.id = t.debit_account_id
      where t.credit_account_id = $1 and t.state = 'posted' and coalesce(t.resolved_at, t.created_at) >= $2 and coalesce(t.resolved_at, t.created_at) < $3
      group by a.kind`,
    [input.account, input.from, input.to],
  );
  return new Map(rows.map((row) => [row.kind, Number(row.amount)]));
}

/** How many owners have at least one account of one of `kinds` with a positive spendable balance. */
export async function countOwnersWithBalance(db: Queryable, kinds: string[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(distinct owner_id)::int as n from ledger_accounts where kind = any($1) and balance > 0 and owner_id is not null`,
    [kinds],
  );
  return rows[0]!.n;
}

/** Each of `ownerIds`' summed balance over its accounts of `kinds` (owners with none are absent). */
export async function ownerBalances(db: Queryable, ownerIds: string[], kinds: string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ owner_id: string; balance: string }>(
    'select owner_id, sum(balance)::bigint as balance from ledger_accounts where owner_id = any($1) and kind = any($2) group by owner_id',
    [ownerIds, kinds],
  );
  return new Map(rows.map((row) => [row.owner_id, Number(row.balance)]));
}
