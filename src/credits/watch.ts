// Reads the scheduled checks need from the credits domain's tables (never a write).
import type { Queryable } from '../db/pool.ts';

/** Users who submitted work in the day before `now` and hold no credits in any bucket now. */
export async function countUsersOutOfCredits(db: Queryable, now: Date): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `select count(*)::int as count from credit_users u
      where exists (select 1 from generations g where g.user_id = u.id and g.created_at > $1::timestamptz - interval '1 day' and g.created_at <= $1)
        and coalesce((select sum(a.balance) from ledger_accounts a where a.owner_id = u.id and a.kind in ('user-allowance', 'user-purchased', 'user-overflow')), 0) = 0`,
    [now],
  );
  return rows[0]!.count;
}
