// The edge: integer sums become the shapes the dashboard reads. USD numbers are made here and only
// here (the original dashboard wants a number); the exact micro-USD travels beside them.
import type { DailyUsage } from './daily.ts';

const usd = (micro: number) => micro / 1_000_000;
/** Percent with one decimal, null without attempts. */
const percent = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 1000) / 10);

export function presentDay(day: DailyUsage) {
  return {
    date: day.day,
    requests: day.requests,
    succeeded: day.succeeded,
    failed: day.failed,
    degraded: day.degraded,
    successRate: percent(day.succeeded, day.succeeded + day.failed),
    creditsConsumed: day.creditsConsumed,
    credits: day.credits,
    cost: usd(day.providerCostMicroUsd),
    costMicroUsd: day.providerCostMicroUsd,
    providers: day.providers.map((p) => ({ ...p, cost: usd(p.costMicroUsd), successRate: percent(p.succeeded, p.attempts) })),
    tiers: day.tiers,
    newUsers: day.newUsers,
    activeUsers: day.activeUsers,
  };
}

export type PresentedDay = ReturnType<typeof presentDay>;
