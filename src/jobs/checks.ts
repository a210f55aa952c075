// check-credit-thresholds and provider-health-check: measure, then raise what holds and resolve what
// no longer does (src/alerts/rules.ts decides), so each condition is one alert with one recovery.
import { recordAlert, resolveAlert } from '../alerts/store.ts';
import { failureRateCondition, poolConditions, usersOutOfCreditsCondition, type Condition } from '../alerts/rules.ts';
import type { Config } from '../config/index.ts';
import type { Credits } from '../credits/index.ts';
import { countUsersOutOfCredits } from '../credits/watch.ts';
import type { Pool } from '../db/pool.ts';
import type { Generations } from '../generations/index.ts';
import { attemptCounts } from './usage.ts';

/** Raises the firing conditions, resolves the others; returns the types raised and resolved. */
export async function apply(pool: Pool, conditions: Condition[], now: Date): Promise<{ firing: string[]; resolved: string[] }> {
  const firing: string[] = [];
  const resolved: string[] = [];
  for (const c of conditions) {
    if (c.firing) {
      await recordAlert(pool, { type: c.type, subject: c.subject, level: c.level, message: c.message, data: c.data, now });
      firing.push(`${c.type}:${c.subject}`);
    } else if (await resolveAlert(pool, { type: c.type, subject: c.subject, message: c.message, now })) {
      resolved.push(`${c.type}:${c.subject}`);
    }
  }
  return { firing, resolved };
}

export async function checkCreditThresholds(deps: { pool: Pool; credits: Credits; config: Config }, now: Date) {
  const { alerts } = deps.config;
  const capacity = await deps.credits.capacity();
  const conditions: Condition[] = capacity.pools.flatMap((p) => poolConditions(p, alerts.poolUsagePercent));
  // Burn rate: checkBurnRates raises the runs-dry alerts; pools no longer inside the horizon clear.
  const rates = await deps.credits.burnRates(now);
  const horizon = now.getTime() + deps.config.credits.burnAlertHorizonDays * 86_400_000;
  for (const rate of rates) {
    if (!rate.runsDryAt || Date.parse(rate.runsDryAt) >= horizon) {
      conditions.push({
        type: 'pool_runs_dry',
        subject: rate.provider,
        level: 'warning',
        firing: false,
        message: `${rate.provider} is no longer projected to run dry within ${deps.config.credits.burnAlertHorizonDays} days`,
      });
    }
  }
  conditions.push(usersOutOfCreditsCondition(await countUsersOutOfCredits(deps.pool, now), alerts.usersOutOfCredits));
  for (const counts of await attemptCounts(deps.pool, now, alerts.failureRateWindowMinutes)) {
    conditions.push(
      failureRateCondition({
        ...counts,
        percent: alerts.failureRatePercent,
        minAttempts: alerts.failureRateMinAttempts,
        windowMinutes: alerts.failureRateWindowMinutes,
      }),
    );
  }
  const outcome = await apply(deps.pool, conditions, now);
  const refillRequests = await deps.credits.checkRefillThresholds();
  return {
    pools: capacity.pools.map((p) => ({ provider: p.provider, available: p.available, reserved: p.reserved })),
    ...outcome,
    refillRequests: refillRequests.map((r) => r.id),
  };
}

export async function checkProviders(deps: { pool: Pool; generations: Generations }, now: Date) {
  const checks = await deps.generations.checkProviderHealth({ force: true });
  const conditions: Condition[] = checks.map((c) => ({
    type: 'provider_unhealthy',
    subject: c.provider,
    level: 'critical',
    firing: !c.ok,
    message: c.ok ? `${c.provider} answers its health probe again (${c.latencyMs} ms)` : `${c.provider} failed its health probe: ${c.error}`,
    data: { provider: c.provider, error: c.error },
  }));
  return { providers: checks, ...(await apply(deps.pool, conditions, now)) };
}
