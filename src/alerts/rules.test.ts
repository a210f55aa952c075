import { describe, expect, it } from 'vitest';
import { failureRateCondition, poolConditions, usersOutOfCreditsCondition } from './rules.ts';

const pool = (available: number, reserved = 0) => ({
  provider: 'nanobanana',
  available,
  reserved,
  balance: available + reserved,
  sellableUserCredits: Math.floor(available / 4),
  lowThreshold: 100,
  criticalThreshold: 40,
});
const firing = (available: number, reserved = 0) =>
  poolConditions(pool(available, reserved), 90)
    .filter((c) => c.firing)
    .map((c) => c.type);

describe('alert rules', () => {
  it('a pool is critical under 40, low from 40 to 99 (one state at a time), fine from 100', () => {
    expect(firing(39)).toEqual(['pool_critical']);
    expect(firing(40)).toEqual(['pool_low']);
    expect(firing(99)).toEqual(['pool_low']);
    expect(firing(100)).toEqual([]);
  });

  it('usage over 90% is reserved / (available + reserved), in whole percent', () => {
    expect(firing(100, 900)).toEqual([]); // exactly 90%
    expect(firing(100, 1100)).toEqual(['pool_usage_high']); // 91%
    expect(firing(0, 0)).toEqual(['pool_critical']);
  });

  it('sale-blocked and capacity-low clear only once the pool is over its low threshold', () => {
    const cleared = (available: number) =>
      poolConditions(pool(available), 90)
        .filter((c) => !c.firing)
        .map((c) => c.type);
    expect(cleared(99)).not.toContain('sale_blocked');
    expect(cleared(100)).toEqual(expect.arrayContaining(['sale_blocked', 'capacity_low']));
  });

  it('more than 10 users out of credits fires; 10 does not', () => {
    expect(usersOutOfCreditsCondition(10, 10).firing).toBe(false);
    expect(usersOutOfCreditsCondition(11, 10).firing).toBe(true);
  });

  it('a failure-rate spike needs enough attempts and a rate over the limit', () => {
    const base = { provider: 'fal', percent: 50, minAttempts: 10, windowMinutes: 60 };
    expect(failureRateCondition({ ...base, attempts: 9, failed: 9 }).firing).toBe(false);
    expect(failureRateCondition({ ...base, attempts: 10, failed: 5 }).firing).toBe(false);
    expect(failureRateCondition({ ...base, attempts: 10, failed: 6 })).toMatchObject({ firing: true, subject: 'fal', data: { rate: 60 } });
  });
});
