// The daily summary (README.md): one row per UTC day in daily_usage, recomputed whole from the
// generations and the ledger, so a rerun replaces it and never double-counts.
import type { Queryable } from '../db/pool.ts';
import type { Ledger } from '../ledger/index.ts';
import { BUCKETS, SPENT, type Bucket } from '../credits/accounts.ts';

export interface ProviderDay {
  provider: string;
  /** Attempts that ended on the day, and how they ended. */
  attempts: number;
  succeeded: number;
  failed: number;
  /** Pool units and micro-USD the succeeded attempts cost. */
  units: number;
  costMicroUsd: number;
}

export interface TierDay {
  tier: string;
  requests: number;
  creditsCharged: number;
}

export interface DailyUsage {
  day: string;
  requests: number;
  succeeded: number;
  failed: number;
  degraded: number;
  creditsConsumed: number;
  credits: Record<Bucket, number>;
  providerCostMicroUsd: number;
  providers: ProviderDay[];
  tiers: TierDay[];
  newUsers: number;
  activeUsers: number;
}

export interface DailyDeps {
  pool: Queryable;
  ledger: Pick<Ledger, 'inflowBySourceKind'>;
}

const DAY_MS = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The UTC day of `at`, as YYYY-MM-DD. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** `day` moved by `n` days. */
export function addDays(day: string, n: number): string {
  return dayOf(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS));
}

/** Every day from `from` to `to`, both included (empty when `to` is before `from`). */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) days.push(day);
  return days;
}

export function isDay(value: string): boolean {
  return DAY.test(value) && dayOf(new Date(`${value}T00:00:00Z`)) === value;
}

/**
 * Computes `day` (UTC). What counts where: requests, outcomes, tiers and active users by the day a
 * generation was submitted; credits by the day the ledger posted them (from the user's buckets into
 * `credits:spent`); provider units and cost by the day an attempt ended; new users by their first sighting.
 */
export async function computeDay(deps: DailyDeps, day: string): Promise<DailyUsage> {
  const from = new Date(`${day}T00:00:00Z`);
  const to = new Date(from.getTime() + DAY_MS);
  const [outcomes, providers, tiers, users, spent] = await Promise.all([
    deps.pool.query<{ requests: number; succeeded: number; failed: number; degraded: number; active: number }>(
      `select count(*)::int as requests,
              count(*) filter (where status = 'completed')::int as succeeded,
              count(*) filter (where status = 'failed')::int as failed,
              count(*) filter (where status = 'completed' and degraded)::int as degraded,
              count(distinct user_id)::int as active
         from generations where created_at >= $1 and created_at < $2`,
      [from, to],
    ),
    deps.pool.query<{ provider: string; attempts: number; succeeded: number; failed: number; units: string; cost: string }>(
      `select provider, count(*)::int as attempts,
              count(*) filter (where status = 'succeeded')::int as succeeded,
              count(*) filter (where status = 'failed')::int as failed,
              coalesce(sum(cost_units) filter (where status = 'succeeded'), 0)::bigint as units,
              coalesce(sum(cost_micro_usd) filter (where status = 'succeeded'), 0)::bigint as cost
         from generation_attempts
        where status <> 'running' and coalesce(ended_at, started_at) >= $1 and coalesce(ended_at, started_at) < $2
        group by provider order by provider`,
      [from, to],
    ),
    deps.pool.query<{ tier: string; requests: number; charged: string }>(
      `select coalesce(u.tier, 'unknown') as tier, count(*)::int as requests, coalesce(sum(g.credits_charged), 0)::bigint as charged
         from generations g left join credit_users u on u.id = g.user_id
        where g.created_at >= $1 and g.created_at < $2
        group by 1 order by 1`,
      [from, to],
    ),
    deps.pool.query<{ n: number }>(`select count(*)::int as n from credit_users where created_at >= $1 and created_at < $2`, [from, to]),
    deps.ledger.inflowBySourceKind({ account: SPENT, from, to }),
  ]);
  const o = outcomes.rows[0]!;
  const credits = Object.fromEntries(BUCKETS.map((bucket) => [bucket, spent.get(`user-${bucket}`) ?? 0])) as Record<Bucket, number>;
  const providerDays = providers.rows.map((r) => ({
    provider: r.provider,
    attempts: r.attempts,
    succeeded: r.succeeded,
    failed: r.failed,
    units: Number(r.units),
    costMicroUsd: Number(r.cost),
  }));
  return {
    day,
    requests: o.requests,
    succeeded: o.succeeded,
    failed: o.failed,
    degraded: o.degraded,
    creditsConsumed: BUCKETS.reduce((sum, bucket) => sum + credits[bucket], 0),
    credits,
    providerCostMicroUsd: providerDays.reduce((sum, p) => sum + p.costMicroUsd, 0),
    providers: providerDays,
    tiers: tiers.rows.map((r) => ({ tier: r.tier, requests: r.requests, creditsCharged: Number(r.charged) })),
    newUsers: users.rows[0]!.n,
    activeUsers: o.active,
  };
}

/** Computes `day` and stores it in daily_usage, replacing an earlier row for the day. */
export async function summariseDay(deps: DailyDeps, day: string): Promise<DailyUsage> {
  const usage = await computeDay(deps, day);
  await deps.pool.query(
    `insert into daily_usage (day, requests, succeeded, failed, degraded, credits_consumed, provider_cost_micro_usd, credits_allowance, credits_purchased, credits_overflow,
                              providers, tiers, new_users, active_users, computed_at)
     values ($1::date, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
     on conflict (day) do update set requests = excluded.requests, succeeded = excluded.succeeded, failed = excluded.failed, degraded = excluded.degraded,
        credits_consumed = excluded.credits_consumed, provider_cost_micro_usd = excluded.provider_cost_micro_usd, credits_allowance = excluded.credits_allowance,
        credits_purchased = excluded.credits_purchased, credits_overflow = excluded.credits_overflow, providers = excluded.providers, tiers = excluded.tiers,
        new_users = excluded.new_users, active_users = excluded.active_users, computed_at = excluded.computed_at`,
    [
      day,
      usage.requests,
      usage.succeeded,
      usage.failed,
      usage.degraded,
      usage.creditsConsumed,
      usage.providerCostMicroUsd,
      usage.credits.allowance,
      usage.credits.purchased,
      usage.credits.overflow,
      JSON.stringify(usage.providers),
      JSON.stringify(usage.tiers),
      usage.newUsers,
      usage.activeUsers,
    ],
  );
  return usage;
}

interface UsageRow {
  day: string;
  requests: number;
  succeeded: number;
  failed: number;
  degraded: number;
  credits_allowance: string;
  credits_purchased: string;
  credits_overflow: string;
  credits_consumed: string;
  provider_cost_micro_usd: string;
  providers: ProviderDay[];
  tiers: TierDay[];
  new_users: number;
  active_users: number;
}

function fromRow(r: UsageRow): DailyUsage {
  const credits = { allowance: Number(r.credits_allowance), purchased: Number(r.credits_purchased), overflow: Number(r.credits_overflow) };
  return {
    day: r.day,
    requests: r.requests,
    succeeded: r.succeeded,
    failed: r.failed,
    degraded: r.degraded,
    creditsConsumed: Number(r.credits_consumed),
    credits,
    providerCostMicroUsd: Number(r.provider_cost_micro_usd),
    providers: r.providers,
    tiers: r.tiers,
    newUsers: r.new_users,
    activeUsers: r.active_users,
  };
}

/**
 * Every day from `from` to `to`: a finished day (before `today`) is read from daily_usage, computed and
 * stored the first time it is asked for; `today` is computed live and not stored (it is not over).
 * Days after `today` are not answered.
 */
export async function dailyRange(deps: DailyDeps, input: { from: string; to: string; today: string }): Promise<DailyUsage[]> {
  const to = input.to < input.today ? input.to : input.today;
  const days = daysBetween(input.from, to);
  if (days.length === 0) return [];
  const { rows } = await deps.pool.query<UsageRow>(
    `select to_char(day, 'YYYY-MM-DD') as day, requests, succeeded, failed, degraded, credits_allowance, credits_purchased, credits_overflow, credits_consumed,
            provider_cost_micro_usd, providers, tiers, new_users, active_users
       from daily_usage where day >= $1::date and day <= $2::date`,
    [input.from, to],
  );
  const stored = new Map(rows.map((row) => [row.day, fromRow(row)]));
  const result: DailyUsage[] = [];
  for (const day of days) {
    if (day === input.today) result.push(await computeDay(deps, day));
    else result.push(stored.get(day) ?? (await summariseDay(deps, day)));
  }
  return result;
}
