// What the admin views need from generations: usage, what the providers cost this month, and each
// provider's health (success rate over 24 h, its circuit, its last error). Provider-side failures only
// count against a provider: a user's bad input says nothing about its health.
import type { Queryable } from '../db/pool.ts';

export interface ProviderHealth {
  provider: string;
  /** Its API key is set, so work may be routed to it. */
  configured: boolean;
  /** Succeeded / (succeeded + provider-side failures) over 24 h; null without attempts. */
  successRate: number | null;
  attempts24h: number;
  /** Circuit closed and a success rate of at least one half. */
  isHealthy: boolean;
  coolingDownUntil: string | null;
  lastError: string | null;
  /** The routing settings in force (admins change them with PATCH /v1/admin/providers/{provider}). */
  priority: number;
  active: boolean;
  rateLimitPerMinute: number;
  /** An admin's run-time cost per request in micro-USD; null: the catalogue's. */
  costMicroUsd: number | null;
  /** The last periodic health probe; null before the first. */
  healthCheck: { ok: boolean; checkedAt: string; error: string | null } | null;
}

export interface GenerationStats {
  /** Generations submitted in the last 24 hours. */
  last24h: number;
  /** What successful attempts cost the platform since the 1st of this month (UTC), in micro-USD. */
  monthCostMicroUsd: number;
  providers: ProviderHealth[];
}

/** `configured`: the providers work may be routed to (an API key set). */
export async function generationStats(db: Queryable, configured: ReadonlySet<string>): Promise<GenerationStats> {
  const [usage, cost, health] = await Promise.all([
    db.query<{ n: number }>(`select count(*)::int as n from generations where created_at > now() - interval '24 hours'`),
    db.query<{ micro: number }>(
      `select coalesce(sum(cost_micro_usd), 0)::bigint as micro from generation_attempts
        where status = 'succeeded' and started_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc'`,
    ),
    db.query<{
      provider: string;
      ok: number;
      failed: number;
      cooling_down_until: Date | null;
      last_error: string | null;
      priority: number;
      active: boolean;
      rate_limit_per_minute: number;
      cost_micro_usd: number | null;
      health_ok: boolean | null;
      health_checked_at: Date | null;
      health_error: string | null;
    }>(
      `select s.provider, s.priority, s.active, s.rate_limit_per_minute, s.cost_micro_usd, s.health_ok, s.health_checked_at, s.health_error,
              count(a.id) filter (where a.status = 'succeeded')::int as ok,
              count(a.id) filter (where a.status = 'failed' and a.retryable)::int as failed,
              case when s.cooldown_until > now() then s.cooldown_until end as cooling_down_until,
              s.last_error
         from provider_settings s
         left join generation_attempts a on a.provider = s.provider and a.started_at > now() - interval '24 hours'
        group by s.provider
        order by s.priority, s.provider`,
    ),
  ]);
  return {
    last24h: usage.rows[0]!.n,
    monthCostMicroUsd: cost.rows[0]!.micro,
    providers: health.rows.map((r) => {
      const attempts = r.ok + r.failed;
      const successRate = attempts === 0 ? null : r.ok / attempts;
      return {
        provider: r.provider,
        configured: configured.has(r.provider),
        successRate,
        attempts24h: attempts,
        isHealthy: r.cooling_down_until === null && (successRate === null || successRate >= 0.5),
        coolingDownUntil: r.cooling_down_until?.toISOString() ?? null,
        lastError: r.last_error,
        priority: r.priority,
        active: r.active,
        rateLimitPerMinute: r.rate_limit_per_minute,
        costMicroUsd: r.cost_micro_usd,
        healthCheck:
          r.health_ok === null || !r.health_checked_at ? null : { ok: r.health_ok, checkedAt: r.health_checked_at.toISOString(), error: r.health_error },
      };
    }),
  };
}
