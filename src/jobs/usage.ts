// The reporting jobs' queries (the daily usage summary is src/analytics/daily.ts): upgrade suggestions
// (once per user per month), and per-provider failure counts for the spike rule.
import type { Pool, Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';

/** The UTC day before `now`'s, as YYYY-MM-DD: the day a 01:00 run summarises. */
export function previousDay(now: Date): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1)).toISOString().slice(0, 10);
}

/**
 * Heavy users on the lowest tier (over `minGenerations` in the 30 days before `now`, active in the last
 * 7) get one upgrade suggestion per month: the unique (user, kind, period) makes reruns harmless.
 */
export async function suggestUpgrades(
  pool: Pool,
  input: { now: Date; lowestTier: string; minGenerations: number },
): Promise<{ eligible: number; notified: number }> {
  const period = input.now.toISOString().slice(0, 7);
  const { rows } = await pool.query<{ user_id: string; generations: number }>(
    `select g.user_id, count(*)::int as generations from generations g join credit_users u on u.id = g.user_id
      where u.tier = $2 and g.created_at > $1::timestamptz - interval '30 days' and g.created_at <= $1
      group by g.user_id
     having count(*) > $3 and max(g.created_at) > $1::timestamptz - interval '7 days'`,
    [input.now, input.lowestTier, input.minGenerations],
  );
  let notified = 0;
  for (const row of rows) {
    const inserted = await pool.query(
      `insert into user_notifications (id, user_id, kind, period, data) values ($1, $2, 'upgrade_suggestion', $3, $4) on conflict (user_id, kind, period) do nothing`,
      [newId('unt'), row.user_id, period, JSON.stringify({ generations30d: row.generations, tier: input.lowestTier })],
    );
    notified += inserted.rowCount ?? 0;
  }
  return { eligible: rows.length, notified };
}

/** Attempts and failures per provider in the window before `now`. */
export async function attemptCounts(db: Queryable, now: Date, windowMinutes: number): Promise<{ provider: string; attempts: number; failed: number }[]> {
  const { rows } = await db.query(
    `select provider, count(*)::int as attempts, count(*) filter (where status = 'failed')::int as failed
       from generation_attempts where started_at > $1::timestamptz - make_interval(mins => $2) and started_at <= $1 and status <> 'running'
      group by provider order by provider`,
    [now, windowMinutes],
  );
  return rows;
}
