// The Analytics service (README.md): the daily summary, credit-stats as the original dashboard labels
// it, margin and burn rate. Reads only: generations and purchases by SQL, the ledger through src/ledger.
import type { Config } from '../config/index.ts';
import { BUCKETS, SPENT } from '../credits/accounts.ts';
import type { BurnRate } from '../credits/burn.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Generations } from '../generations/index.ts';
import type { Ledger } from '../ledger/index.ts';
import { addDays, dailyRange, dayOf, type DailyUsage } from './daily.ts';
import { computeMargin, type MarginReport } from './margin.ts';
import { listGenerations, listUsers, userDetail, type GenerationFilter, type UserFilter } from './admin-views.ts';

export interface CreditStats {
  platformCreditsRemaining: number;
  /** Credits users spent today (UTC), as the ledger posted them. */
  dailyUsage: number;
  /** Users with credits remaining in any bucket. */
  activeUsers: number;
  /** What succeeded provider attempts cost since the 1st of this month (UTC), in USD. */
  monthlyCost: number;
  monthlyCostMicroUsd: number;
  providers: {
    name: string;
    isHealthy: boolean;
    costPerRequest: string;
    successRate: number | null;
    creditsRemaining: number;
    reserved: number;
    sellableUserCredits: number;
  }[];
}

export interface AnalyticsDeps {
  pool: Pool;
  ledger: Ledger;
  credits: Credits;
  generations: Generations;
  config: Config;
}

const BUCKET_KINDS = BUCKETS.map((bucket) => `user-${bucket}`);

/** micro-USD as a USD number, for the compatibility shapes that want one (sums stay integers until here). */
export const microUsdToNumber = (micro: number) => micro / 1_000_000;

/** Exact decimal USD from integer micro-USD. */
export function microUsdToDecimal(microUsd: number): string {
  const sign = microUsd < 0 ? '-' : '';
  const abs = Math.abs(microUsd);
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
}

const monthStart = (month: string) => new Date(`${month}-01T00:00:00Z`);
const nextMonth = (month: string) => {
  const d = monthStart(month);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
};

export class Analytics {
  constructor(private readonly deps: AnalyticsDeps) {}

  /** Days `from`..`to` (YYYY-MM-DD, UTC), zeros for quiet days; days after today (by `now`) are left out. */
  daily(input: { from: string; to: string; now?: Date }): Promise<DailyUsage[]> {
    return dailyRange(this.deps, { from: input.from, to: input.to, today: dayOf(input.now ?? new Date()) });
  }

  /** The last `days` days, today included. */
  lastDays(days: number, now = new Date()): Promise<DailyUsage[]> {
    const today = dayOf(now);
    return this.daily({ from: addDays(today, 1 - days), to: today, now });
  }

  async creditStats(now = new Date()): Promise<CreditStats> {
    const { credits, generations, ledger, pool } = this.deps;
    const today = new Date(`${dayOf(now)}T00:00:00Z`);
    const [capacity, stats, spent, holders, cost] = await Promise.all([
      credits.capacity(),
      generations.stats(),
      ledger.inflowBySourceKind({ account: SPENT, from: today, to: new Date(today.getTime() + 86_400_000) }),
      ledger.ownersWithBalance(BUCKET_KINDS),
      pool.query<{ micro: string }>(
        `select coalesce(sum(cost_micro_usd), 0)::bigint as micro from generation_attempts
          where status = 'succeeded' and coalesce(ended_at, started_at) >= $1 and coalesce(ended_at, started_at) <= $2`,
        [monthStart(now.toISOString().slice(0, 7)), now],
      ),
    ]);
    const primary = capacity.pools.find((p) => p.provider === capacity.primaryProvider)!;
    const healthOf = (name: string) => stats.providers.find((h) => h.provider === generations.providerOfPool(name));
    const monthlyCostMicroUsd = Number(cost.rows[0]!.micro);
    return {
      platformCreditsRemaining: primary.available,
      dailyUsage: BUCKET_KINDS.reduce((sum, kind) => sum + (spent.get(kind) ?? 0), 0),
      activeUsers: holders,
      monthlyCost: microUsdToNumber(monthlyCostMicroUsd),
      monthlyCostMicroUsd,
      providers: capacity.pools.map((p) => {
        const health = healthOf(p.provider);
        return {
          name: p.provider,
          isHealthy: health?.isHealthy ?? true,
          costPerRequest: microUsdToDecimal(p.unitCostMicroUsd * p.ratio),
          // Percent with one decimal; null before the provider's first attempt in 24 h.
          successRate: health?.successRate === null || health?.successRate === undefined ? null : Math.round(health.successRate * 1000) / 10,
          creditsRemaining: p.available,
          reserved: p.reserved,
          sellableUserCredits: p.sellableUserCredits,
        };
      }),
    };
  }

  /** Margin for the months `from`..`to` (YYYY-MM), both included. */
  async margin(input: { from: string; to: string }): Promise<MarginReport & { from: string; to: string }> {
    const from = monthStart(input.from);
    const to = nextMonth(input.to);
    const [sales, costs] = await Promise.all([
      this.deps.pool.query<{
        month: string;
        package_id: string;
        mode: 'stripe' | 'development';
        currency: string;
        amount: string;
        amount_refunded: string;
        dispute_lost: boolean;
        credits: string;
        taken_back: string;
      }>(
        `select to_char(granted_at at time zone 'utc', 'YYYY-MM') as month, package_id, mode, currency, amount, amount_refunded,
                coalesce(dispute_status = 'lost', false) as dispute_lost, credits, greatest(credits_clawed_back - credits_restored, 0) as taken_back
           from purchases where granted_at is not null and granted_at >= $1 and granted_at < $2`,
        [from, to],
      ),
      this.deps.pool.query<{ month: string; provider: string; units: string; cost: string }>(
        `select to_char(coalesce(ended_at, started_at) at time zone 'utc', 'YYYY-MM') as month, provider,
                sum(cost_units)::bigint as units, sum(cost_micro_usd)::bigint as cost
           from generation_attempts where status = 'succeeded' and coalesce(ended_at, started_at) >= $1 and coalesce(ended_at, started_at) < $2
          group by 1, 2`,
        [from, to],
      ),
    ]);
    const consumed: { month: string; credits: number }[] = [];
    for (let month = input.from; month <= input.to; month = nextMonth(month).toISOString().slice(0, 7)) {
      const spent = await this.deps.ledger.inflowBySourceKind({ account: SPENT, from: monthStart(month), to: nextMonth(month) });
      consumed.push({ month, credits: BUCKET_KINDS.reduce((sum, kind) => sum + (spent.get(kind) ?? 0), 0) });
    }
    const report = computeMargin({
      sales: sales.rows.map((r) => ({
        month: r.month,
        packageId: r.package_id,
        mode: r.mode,
        currency: r.currency,
        amount: Number(r.amount),
        amountRefunded: Number(r.amount_refunded),
        disputeLost: r.dispute_lost,
        credits: Number(r.credits),
        creditsTakenBack: Number(r.taken_back),
      })),
      costs: costs.rows.map((r) => ({ month: r.month, provider: r.provider, units: Number(r.units), costMicroUsd: Number(r.cost) })),
      consumed,
      rates: this.deps.config.analytics.microUsdPerMinorUnit,
    });
    return { from: input.from, to: input.to, ...report };
  }

  /** Users by id prefix, tier and balance range, in id order, paged by cursor. */
  users(filter: UserFilter) {
    return listUsers(this.deps, filter);
  }

  /** One user's buckets, tier, recent generations, purchases and ledger transfers; null when unknown. */
  user(userId: string) {
    return userDetail(this.deps, userId);
  }

  /** Generations newest first, by status, provider, user and date, paged by cursor. */
  generations(filter: GenerationFilter) {
    return listGenerations(this.deps, filter);
  }

  /** Every pool's consumption per day and run-dry date (the numbers the alert uses; reading raises none). */
  burnRates(now = new Date()): Promise<BurnRate[]> {
    return this.deps.credits.burnRates(now, { alert: false });
  }
}

export type { DailyUsage } from './daily.ts';
export type { MarginReport } from './margin.ts';
