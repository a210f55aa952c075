// The job registry (see README.md): every scheduled job, its default schedule and what it does. The
// worker, the CLI and the HTTP routes all run jobs from this one list.
import type { Config } from '../config/index.ts';
import { JOB_NAMES } from '../config/ops.ts';
import type { Credits } from '../credits/index.ts';
import { periodOf } from '../credits/allowance.ts';
import type { Pool } from '../db/pool.ts';
import type { Generations } from '../generations/index.ts';
import type { Ledger } from '../ledger/index.ts';
import { checkCreditThresholds, checkProviders } from './checks.ts';
import type { JobDefinition, JobContext, Summary } from './runner.ts';
import { checkSchedule } from './schedule.ts';
import { previousDay, suggestUpgrades } from './usage.ts';
import { summariseDay } from '../analytics/daily.ts';

export type JobName = (typeof JOB_NAMES)[number];

export interface JobDeps {
  config: Config;
  pool: Pool;
  ledger: Ledger;
  credits: Credits;
  generations: Generations;
}

interface Spec {
  schedule: string;
  description: string;
  maxRunSeconds?: number;
  run(deps: JobDeps, context: JobContext): Promise<Summary>;
}

const SPECS: Record<JobName, Spec> = {
  'process-enhancement-tasks': {
    schedule: '*/2 * * * *',
    description: 'Safety net: fail and refund overdue generations, resume orphaned ones, void expired holds (as POST /api/background/process-tasks)',
    async run({ generations, ledger }) {
      const { swept, resumed } = await generations.maintenance();
      const expiredHolds = await ledger.expireHolds();
      return { processed: swept + resumed + expiredHolds, sweptGenerations: swept, resumedGenerations: resumed, expiredHolds };
    },
  },
  'check-credit-thresholds': {
    schedule: '*/15 * * * *',
    description: 'Pool low/critical/usage, burn rate, users out of credits, failure-rate spikes: raise or resolve alerts; open refill requests under threshold',
    run: (deps, { now }) => checkCreditThresholds(deps, now),
  },
  'provider-health-check': {
    schedule: '*/5 * * * *',
    description: 'Probe every configured AI provider; a failed probe opens its circuit and raises provider_unhealthy',
    run: (deps, { now }) => checkProviders(deps, now),
  },
  'sync-provider-balances': {
    schedule: '0 * * * *',
    description: "Compare each pool with its provider's own balance (in the pool's unit); drift beyond the tolerance alerts, never booked without an admin",
    async run({ credits }, { now, progress }) {
      const pools: Record<string, unknown> = {};
      const failures: string[] = [];
      for (const provider of credits.syncablePools()) {
        progress(`syncing ${provider}`);
        try {
          const sync = await credits.sync(provider, now);
          pools[provider] = { real: sync.real, database: sync.database, drift: sync.drift };
        } catch (error) {
          failures.push(`${provider}: ${(error as Error).message}`);
        }
      }
      if (failures.length) throw new Error(`balance sync failed for ${failures.join('; ')}`);
      return { pools };
    },
  },
  'expire-holds': {
    schedule: '* * * * *',
    description: 'Void holds past their timeout, so a crashed worker never strands credits',
    run: async ({ ledger }) => ({ expiredHolds: await ledger.expireHolds() }),
  },
  'daily-usage-summary': {
    schedule: '0 1 * * *',
    description:
      'Summarise yesterday (requests, outcomes, credits by bucket, provider units and cost, tiers, new and active users) into daily_usage; a rerun replaces the row',
    run: async ({ pool, ledger }, { now }) => ({ ...(await summariseDay({ pool, ledger }, previousDay(now))) }),
  },
  'monthly-credit-reset': {
    schedule: '0 0 1 * *',
    description: "Expire last month's allowance (its backing back to the pool), apply downgrades, grant this month's allowance",
    maxRunSeconds: 6 * 3600,
    async run({ credits }, { now, progress }) {
      const period = periodOf(now);
      await credits.openPlatformAccounts();
      return { period, ...(await credits.resetMonth(period, (users) => progress(`${users} users reset`))) };
    },
  },
  'upgrade-suggestions': {
    schedule: '0 2 * * *',
    description: 'Suggest an upgrade to lowest-tier users with over 20 generations in 30 days, active in the last 7 (once a month each)',
    run: async ({ pool, credits }, { now }) => suggestUpgrades(pool, { now, lowestTier: credits.tiers()[0]!, minGenerations: 20 }),
  },
};

/** The registry with config's overrides (another schedule, or off). */
export function createJobDefinitions(deps: JobDeps): JobDefinition[] {
  return JOB_NAMES.map((name) => {
    const spec = SPECS[name];
    const override = deps.config.jobs.overrides[name];
    const schedule = override?.schedule ?? spec.schedule;
    checkSchedule(schedule);
    return {
      name,
      schedule,
      description: spec.description,
      enabled: override?.enabled ?? true,
      maxRunSeconds: spec.maxRunSeconds ?? 900,
      run: (context) => spec.run(deps, context),
    };
  });
}
