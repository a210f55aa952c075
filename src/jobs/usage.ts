// The reporting jobs' queries: the daily usage summary (recomputed whole, so a rerun replaces it),
// upgrade suggestions (once per user per month), and per-provider failure counts for the spike rule.
import type { Pool, Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';

/** The UTC day before `now`'s, as YYYY-MM-DD: the day a 01:00 run summarises. */
export function previousDay(now: Date): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1)).toISOString().slice(0, 10);
}

export interface DailyUsage {
  day: string;
  requests: number;
  succeeded: number;
  failed: number;
  degraded: number;
  creditsConsumed: number;
  providerCostMicroUsd: number;
}

/** Summarises generations created on `day` (UTC) into daily_usage, replacing an earlier row. */
export async function summariseDay(db: Queryable, day: string): Promise<DailyUsage> {
  const { rows } = await db.query(
    `with day_generations as (
       select * from generations where created_at >= $1::date and created_at < $1::date + 1
     ), summary as (
       select count(*)::int as requests,
              count(*) filter (where status = 'completed')::int as succeeded,
              count(*) filter (where status = 'failed')::int as failed,
              count(*) filter (where status = 'completed' and degraded)::int as degraded,
              coalesce(sum(credits_charged) filter (where status = 'completed'), 0)::bigint as credits_consumed,
              (select coalesce(sum(a.cost_micro_usd), 0) from generation_attempts a join day_generations g on g.id = a.generation_id)::bigint as cost
         from day_generations
     )
     insert into daily_usage (day, requests, succeeded, failed, degraded, credits_consumed, provider_cost_micro_usd, computed_at)
     select $1::date, requests, succeeded, failed, degraded, credits_consumed, cost, now() from summary
     on conflict (day) do update set requests = excluded.requests, succeeded = excluded.succeeded, failed = excluded.failed, degraded = excluded.degraded,
        credits_consumed = excluded.credits_consumed, provider_cost_micro_usd = excluded.provider_cost_micro_usd, computed_at = excluded.computed_at
     returning *`,
    [day],
  );
  const r = rows[0]!;
  return { day, requests: r.requests, succeeded: r.succeeded, failed: r.failed, degraded: r.degraded, creditsConsumed: Number(r.credits_consumed), providerCostMicroUsd: Number(r.provider_cost_micro_usd) };
}

/**
 * Heavy users on the lowest tier (over `minGenerations` in the 30 days before `now`, active in the last
 * 7) get one upgrade suggestion per month: the unique (user, kind, period) makes reruns harmless.
 */
export async function suggestUpgrades(pool: Pool, input: { now: Date; lowestTier: string; minGenerations: number }): Promise<{ eligible: number; notified: number }> {
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
