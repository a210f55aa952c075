// Which provider tries next (docs/rules.md §5, Routing): the model's routes by provider priority, skipping a
// provider that is inactive, in cooldown (its circuit is open), over its rate limit, or whose pool
// cannot cover the work. State lives in provider_settings and provider_rate_windows, so every API and
// worker process sees the same circuits and the same per-minute counts.
//
//   closed ──(failure rate over the window ≥ threshold, or a 429 with Retry-After)──▶ open
//   open ──(cooldown over)──▶ half-open: one probe at a time ──success──▶ closed
//                                                             └─failure──▶ open again
import type { Config } from '../config/index.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import type { ProviderError, ProviderName } from '../providers/types.ts';

export interface RouteCandidate {
  provider: Exclude<ProviderName, 'local'>;
  model: string;
  units: number;
  costMicroUsd: number;
  /** The credits pool that pays for this provider's work, when it has one. */
  pool?: string;
}

export type Admission = { admitted: true; probe: boolean } | { admitted: false; reason: string };

const DEFAULT_PRIORITY: Record<RouteCandidate['provider'], number> = { nanobanana: 10, wavespeed: 20, kie: 30, fal: 40, gemini: 50 };
const PROBE_SECONDS = 60;

interface SettingRow {
  provider: string;
  priority: number;
  active: boolean;
  rate_limit_per_minute: number;
  cooldown_until: Date | null;
  probe_until: Date | null;
  cost_micro_usd: number | null;
}

/** A provider's routing settings as admins see and change them. */
export interface ProviderSettings {
  provider: string;
  priority: number;
  active: boolean;
  rateLimitPerMinute: number;
  /** Set by an admin: what one request costs the platform, instead of each route's catalogue cost. */
  costMicroUsd: number | null;
}

const SETTINGS_CACHE_MS = 1000;

/** How a model's routes are ordered: by provider priority (default) or by cost per request, cheapest first. */
export type RoutingStrategy = 'priority' | 'cheapest';

/** The routes in the order they are tried; ties keep priority, then the catalogue's order. Pure. */
export function orderRoutes<T extends { priority: number; index: number; costMicroUsd: number }>(routes: T[], strategy: RoutingStrategy): T[] {
  return [...routes].sort((a, b) => (strategy === 'cheapest' ? a.costMicroUsd - b.costMicroUsd : 0) || a.priority - b.priority || a.index - b.index);
}

export class ProviderRouter {
  private cached?: { at: number; rows: Map<string, SettingRow>; routing: Map<string, RoutingStrategy> };
  constructor(
    private readonly deps: {
      pool: Pool;
      config: Pick<Config, 'generations' | 'providers' | 'credits'>;
      credits: Credits;
      /** The providers that have a key configured (and so an adapter); live: keys may be set at run time. */
      configured: { has(provider: ProviderName): boolean };
      /** Providers an operator paused (src/controls): skipped like one cooling down. */
      paused?: () => Promise<ReadonlySet<string>>;
    },
  ) {}

  /** Writes the config's defaults for providers not yet in the table; admins' later changes stay. */
  async ensureSettings(): Promise<void> {
    for (const provider of Object.keys(DEFAULT_PRIORITY) as RouteCandidate['provider'][]) {
      await this.deps.pool.query(
        'insert into provider_settings (provider, priority, rate_limit_per_minute) values ($1, $2, $3) on conflict (provider) do nothing',
        [provider, DEFAULT_PRIORITY[provider], this.deps.config.providers[provider].rateLimitPerMinute],
      );
    }
  }

  /** An admin's change to a provider's routing settings; seen by every process within a second. `costMicroUsd: null` returns to the catalogue's costs. */
  async updateSettings(
    provider: RouteCandidate['provider'],
    change: { priority?: number; active?: boolean; rateLimitPerMinute?: number; costMicroUsd?: number | null },
  ): Promise<ProviderSettings> {
    await this.ensureSettings();
    const { rows } = await this.deps.pool.query<SettingRow>(
      `update provider_settings set priority = coalesce($2, priority), active = coalesce($3, active),
              rate_limit_per_minute = coalesce($4, rate_limit_per_minute),
              cost_micro_usd = case when $5 then $6 else cost_micro_usd end, updated_at = now()
        where provider = $1
        returning provider, priority, active, rate_limit_per_minute, cost_micro_usd`,
      [
        provider,
        change.priority ?? null,
        change.active ?? null,
        change.rateLimitPerMinute ?? null,
        change.costMicroUsd !== undefined,
        change.costMicroUsd ?? null,
      ],
    );
    this.cached = undefined;
    const row = rows[0]!;
    return {
      provider: row.provider,
      priority: row.priority,
      active: row.active,
      rateLimitPerMinute: row.rate_limit_per_minute,
      costMicroUsd: row.cost_micro_usd,
    };
  }

  /**
   * The model's routes that may be tried, best first: configured, active, not tried yet, in the model's
   * routing order (priority, or the cheapest first). Health, rate limits and pools are checked by `admit`,
   * so "cheapest" tries the cheapest healthy route and falls back exactly as "priority" does.
   */
  async candidates(modelId: string, tried: ReadonlySet<string>): Promise<RouteCandidate[]> {
    const model = this.deps.config.generations.models[modelId];
    if (!model) return [];
    const snapshot = await this.snapshot();
    const settings = snapshot.rows;
    const routes = model.routes
      .map((route, index) => ({ route, index, setting: settings.get(route.provider) }))
      .filter(({ route, setting }) => this.deps.configured.has(route.provider) && !tried.has(route.provider) && (setting?.active ?? true))
      .map(({ route, index, setting }) => ({
        index,
        priority: setting?.priority ?? DEFAULT_PRIORITY[route.provider],
        costMicroUsd: setting?.cost_micro_usd ?? route.costMicroUsd,
        candidate: { ...route, costMicroUsd: setting?.cost_micro_usd ?? route.costMicroUsd, pool: this.poolOf(route.provider) },
      }));
    return orderRoutes(routes, snapshot.routing.get(modelId) ?? 'priority').map((r) => r.candidate);
  }

  /** An admin's choice of a model's routing strategy; seen by every process within a second. */
  async setModelRouting(modelId: string, routing: RoutingStrategy, actor: string): Promise<{ modelId: string; routing: RoutingStrategy }> {
    await this.deps.pool.query(
      `insert into model_routing (model_id, routing, updated_by) values ($1, $2, $3)
       on conflict (model_id) do update set routing = excluded.routing, updated_by = excluded.updated_by, updated_at = now()`,
      [modelId, routing, actor],
    );
    this.cached = undefined;
    return { modelId, routing };
  }

  /** The model's route through `provider`, as the router would offer it (for resuming an attempt). */
  routeFor(modelId: string, provider: ProviderName): RouteCandidate | undefined {
    const route = this.deps.config.generations.models[modelId]?.routes.find((r) => r.provider === provider);
    return route && { ...route, pool: this.poolOf(route.provider) };
  }

  /** Decides whether this candidate may take the work now; a yes counts against its rate limit. */
  async admit(candidate: RouteCandidate): Promise<Admission> {
    if ((await this.deps.paused?.())?.has(candidate.provider)) return { admitted: false, reason: `${candidate.provider} is paused by an operator` };
    let setting = (await this.settings()).get(candidate.provider);
    // A closed circuit may be trusted from the short cache; an open one is read afresh (it may be over).
    if (setting?.cooldown_until) setting = (await this.settings({ fresh: true })).get(candidate.provider);
    if (setting?.cooldown_until && setting.cooldown_until.getTime() > Date.now()) {
      return { admitted: false, reason: `${candidate.provider} is cooling down until ${setting.cooldown_until.toISOString()}` };
    }
    let probe = false;
    if (setting?.cooldown_until) {
      // Half-open: one probe at a time finds out whether the provider is back.
      const claim = await this.deps.pool.query(
        `update provider_settings set probe_until = now() + make_interval(secs => $2)
          where provider = $1 and cooldown_until <= now() and (probe_until is null or probe_until < now())`,
        [candidate.provider, PROBE_SECONDS],
      );
      if (claim.rowCount !== 1) return { admitted: false, reason: `${candidate.provider} is being probed after a cooldown` };
      probe = true;
    }
    if (candidate.pool && candidate.pool !== this.deps.config.credits.primaryProvider && candidate.units > 0) {
      // Fallback work is paid from the fallback's own available units (the primary's are reserved for sales).
      const state = await this.deps.credits.poolState(candidate.pool);
      if (state.available < candidate.units)
        return { admitted: false, reason: `the ${candidate.pool} pool has ${state.available} units, ${candidate.units} needed` };
    }
    const limit = setting?.rate_limit_per_minute ?? this.deps.config.providers[candidate.provider].rateLimitPerMinute;
    const window = await this.deps.pool.query(
      `insert into provider_rate_windows as w (provider, window_start, calls) values ($1, date_trunc('minute', now()), 1)
       on conflict (provider, window_start) do update set calls = w.calls + 1 where w.calls < $2
       returning calls`,
      [candidate.provider, limit],
    );
    if (window.rowCount !== 1) return { admitted: false, reason: `${candidate.provider} is at its limit of ${limit} calls a minute` };
    return { admitted: true, probe };
  }

  /** Feeds an attempt's outcome into the provider's circuit. */
  async recordOutcome(provider: RouteCandidate['provider'], error?: ProviderError): Promise<void> {
    const db = this.deps.pool;
    if (!error) {
      // Nothing to close on a healthy provider (the usual case): no write.
      const setting = (await this.settings()).get(provider);
      if (setting && !setting.cooldown_until && !setting.probe_until) return;
      this.cached = undefined;
      await db.query(
        `update provider_settings set circuit_reset_at = case when cooldown_until is not null then now() else circuit_reset_at end,
                cooldown_until = null, probe_until = null, updated_at = now()
          where provider = $1 and (cooldown_until is not null or probe_until is not null)`,
        [provider],
      );
      return;
    }
    // The user's own mistakes say nothing about the provider's health.
    if (!error.retryable) return;
    await db.query('update provider_settings set last_error = $2, last_error_at = now() where provider = $1', [
      provider,
      `${error.kind}: ${error.message}`.slice(0, 500),
    ]);
    if (error.retryAfterMs !== undefined) {
      await this.openCircuit(provider, error.retryAfterMs / 1000);
      return;
    }
    const { circuit } = this.deps.config.generations;
    const { rows } = await db.query<{ attempts: number; failures: number; probing: boolean }>(
      `select count(*)::int as attempts, count(*) filter (where a.status = 'failed' and a.retryable)::int as failures,
              bool_or(s.probe_until is not null) as probing
         from provider_settings s
         left join generation_attempts a on a.provider = s.provider and a.status <> 'running'
              and a.started_at > greatest(now() - make_interval(secs => $2), coalesce(s.circuit_reset_at, '-infinity'))
        where s.provider = $1`,
      [provider, circuit.windowSeconds],
    );
    const { attempts, failures, probing } = rows[0] ?? { attempts: 0, failures: 0, probing: false };
    if (probing || (attempts >= circuit.minAttempts && failures * 100 >= circuit.failureRatePercent * attempts))
      await this.openCircuit(provider, circuit.cooldownSeconds);
  }

  private async openCircuit(provider: string, seconds: number): Promise<void> {
    this.cached = undefined;
    await this.deps.pool.query(
      `update provider_settings set cooldown_until = greatest(coalesce(cooldown_until, now()), now() + make_interval(secs => $2)), probe_until = null, updated_at = now()
        where provider = $1`,
      [provider, seconds],
    );
  }

  /**
   * Claims the provider's health check when one is due (none in the last `everySeconds`), so that of
   * several workers one probes; `force` claims it whatever the time.
   */
  async claimHealthCheck(provider: RouteCandidate['provider'], everySeconds: number, force = false): Promise<boolean> {
    const { rowCount } = await this.deps.pool.query(
      `update provider_settings set health_checked_at = now()
        where provider = $1 and ($3 or health_checked_at is null or health_checked_at <= now() - make_interval(secs => $2))`,
      [provider, everySeconds, force],
    );
    return rowCount === 1;
  }

  /**
   * A probe's result. A failed probe is the provider's failure: it is the last error, and the circuit
   * opens for a cooldown (after which real work probes it, half-open, as after any cooldown).
   */
  async recordHealth(provider: RouteCandidate['provider'], error?: ProviderError): Promise<void> {
    const message = error ? `health check: ${error.kind}: ${error.message}`.slice(0, 500) : null;
    await this.deps.pool.query(
      `update provider_settings set health_ok = $2, health_error = $3, last_error = coalesce($3, last_error),
              last_error_at = case when $3 is null then last_error_at else now() end
        where provider = $1`,
      [provider, !error, message],
    );
    if (error) await this.openCircuit(provider, this.deps.config.generations.circuit.cooldownSeconds);
  }

  /** Old per-minute windows are of no further use. */
  async pruneRateWindows(): Promise<void> {
    await this.deps.pool.query(`delete from provider_rate_windows where window_start < now() - interval '1 hour'`);
  }

  /**
   * The settings rows, cached for a second: routing reads them on every attempt, and a second's delay
   * before another process's change is seen here is harmless (open circuits are always read afresh).
   */
  private async settings(options: { fresh?: boolean } = {}): Promise<Map<string, SettingRow>> {
    return (await this.snapshot(options)).rows;
  }

  private async snapshot(options: { fresh?: boolean } = {}): Promise<NonNullable<ProviderRouter['cached']>> {
    if (!options.fresh && this.cached && Date.now() - this.cached.at < SETTINGS_CACHE_MS) return this.cached;
    const [{ rows }, routing] = await Promise.all([
      this.deps.pool.query<SettingRow>(
        'select provider, priority, active, rate_limit_per_minute, cooldown_until, probe_until, cost_micro_usd from provider_settings',
      ),
      this.deps.pool.query<{ model_id: string; routing: RoutingStrategy }>('select model_id, routing from model_routing'),
    ]);
    this.cached = { at: Date.now(), rows: new Map(rows.map((r) => [r.provider, r])), routing: new Map(routing.rows.map((r) => [r.model_id, r.routing])) };
    return this.cached;
  }

  private poolOf(provider: RouteCandidate['provider']): string | undefined {
    const pool = this.deps.config.providers[provider].pool;
    return pool && this.deps.config.credits.pools[pool] ? pool : undefined;
  }
}
