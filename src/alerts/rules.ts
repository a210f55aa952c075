// The alert rules that watch a state (SPEC §4 as README.md restates it): pure functions from what was
// measured to which conditions hold. A job raises the ones that hold and resolves the ones that do
// not, so each condition is one alert from the moment it starts to its recovery message.
import type { AlertLevel } from './store.ts';

export interface Condition {
  type: string;
  subject: string;
  level: AlertLevel;
  /** True: the condition holds now (raise or count); false: it does not (resolve). */
  firing: boolean;
  message: string;
  data?: Record<string, unknown>;
}

export interface PoolReading {
  provider: string;
  available: number;
  reserved: number;
  balance: number;
  sellableUserCredits: number;
  lowThreshold: number;
  criticalThreshold: number;
}

/**
 * A pool's conditions: critical under its critical threshold, low under its low one (but not critical:
 * one message for one state), usage over `usagePercent` (reserved as a share of available + reserved:
 * that much of what the platform holds is already promised to users). Sale-blocked and capacity-low
 * alerts (raised by sales) clear when the pool is back over its low threshold.
 */
export function poolConditions(pool: PoolReading, usagePercent: number): Condition[] {
  const { provider, available } = pool;
  const critical = available < pool.criticalThreshold;
  const low = !critical && available < pool.lowThreshold;
  const held = pool.available + pool.reserved;
  const usage = held > 0 ? Math.floor((pool.reserved * 100) / held) : 0;
  const data = { provider, available, reserved: pool.reserved, sellableUserCredits: pool.sellableUserCredits };
  const recovered = `${provider} has ${available} units available`;
  return [
    {
      type: 'pool_critical',
      subject: provider,
      level: 'critical',
      firing: critical,
      message: critical ? `${provider} pool critical: ${available} units available (critical under ${pool.criticalThreshold})` : recovered,
      data,
    },
    {
      type: 'pool_low',
      subject: provider,
      level: 'warning',
      firing: low,
      message: low ? `${provider} pool low: ${available} units available (low under ${pool.lowThreshold})` : recovered,
      data,
    },
    {
      type: 'pool_usage_high',
      subject: provider,
      level: 'warning',
      firing: usage > usagePercent,
      message: usage > usagePercent ? `${usage}% of the ${provider} pool is reserved for users' credits` : `${usage}% of the ${provider} pool is reserved`,
      data: { ...data, usagePercent: usage },
    },
    ...['sale_blocked', 'capacity_low']
      .filter(() => available >= pool.lowThreshold)
      .map((type) => ({ type, subject: provider, level: 'info' as const, firing: false, message: recovered })),
  ];
}

/** Users who were active and have nothing left; more than `limit` of them is one platform alert. */
export function usersOutOfCreditsCondition(count: number, limit: number): Condition {
  const firing = count > limit;
  return {
    type: 'users_out_of_credits',
    subject: 'platform',
    level: 'warning',
    firing,
    message: `${count} active users are out of credits${firing ? ` (alert over ${limit})` : ''}`,
    data: { count },
  };
}

/** A provider failing more than `percent` of at least `minAttempts` attempts in the window. */
export function failureRateCondition(input: {
  provider: string;
  attempts: number;
  failed: number;
  percent: number;
  minAttempts: number;
  windowMinutes: number;
}): Condition {
  const rate = input.attempts > 0 ? Math.round((input.failed * 100) / input.attempts) : 0;
  const firing = input.attempts >= input.minAttempts && rate > input.percent;
  return {
    type: 'failure_rate_spike',
    subject: input.provider,
    level: 'warning',
    firing,
    message: `${input.provider}: ${input.failed} of ${input.attempts} attempts failed in the last ${input.windowMinutes} minutes (${rate}%)`,
    data: { provider: input.provider, attempts: input.attempts, failed: input.failed, rate },
  };
}
