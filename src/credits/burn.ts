// Burn rate (docs/rules.md §3): a pool's consumption per day over the last 7 and 30 days, and the day it runs
// dry at that pace. A projection inside the horizon raises an alert.
import type { Pool } from '../db/pool.ts';
import type { Ledger } from '../ledger/index.ts';
import { poolAccount } from './accounts.ts';
import { recordAlert } from './alerts.ts';

export interface BurnRate {
  provider: string;
  /** Units consumed per day, averaged over the window (integer, rounded up). */
  perDay7: number;
  perDay30: number;
  /** When `available` runs out at the 7-day pace; null when nothing was consumed. */
  runsDryAt: string | null;
}

/** One pool's rate: the ledger sums its consumed account's inflow over 7 and 30 days in one statement. */
export async function burnRate(ledger: Pick<Ledger, 'inflow'>, input: { provider: string; available: number; now?: Date }): Promise<BurnRate> {
  const now = input.now ?? new Date();
  const [week, month] = await ledger.inflow({ account: poolAccount(input.provider, 'consumed'), until: now, windowsDays: [7, 30] });
  const perDay7 = Math.ceil(week! / 7);
  const perDay30 = Math.ceil(month! / 30);
  const runsDryAt = perDay7 > 0 ? new Date(now.getTime() + Math.floor((input.available / perDay7) * 86_400_000)).toISOString() : null;
  return { provider: input.provider, perDay7, perDay30, runsDryAt };
}

/** Every pool's burn rate, with an alert for each projected to run dry inside the horizon (unless `alert: false`). */
export async function checkBurnRates(
  deps: {
    pool: Pool;
    ledger: Pick<Ledger, 'inflow'>;
    providers: string[];
    horizonDays: number;
    poolState: (provider: string) => Promise<{ available: number }>;
    alert?: boolean;
  },
  now: Date,
): Promise<BurnRate[]> {
  const rates: BurnRate[] = [];
  for (const provider of deps.providers) {
    const { available } = await deps.poolState(provider);
    const rate = await burnRate(deps.ledger, { provider, available, now });
    if (deps.alert !== false && rate.runsDryAt && Date.parse(rate.runsDryAt) < now.getTime() + deps.horizonDays * 86_400_000) {
      await recordAlert(deps.pool, {
        type: 'pool_runs_dry',
        level: 'warning',
        message: `${provider} runs dry around ${rate.runsDryAt.slice(0, 10)} at ${rate.perDay7} units a day`,
        data: { ...rate, available },
      });
    }
    rates.push(rate);
  }
  return rates;
}
