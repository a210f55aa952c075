// Operations metrics read from the database at scrape time, so every API process reports the whole
// platform's state (work happens in worker processes). Counters are the database's cumulative counts
// (type counter, names end in _total); the latency histogram is built from the attempts' latencies.
import type { Registry } from 'prom-client';
import type { Pool } from '../db/pool.ts';
import { QUEUES, type Queue } from '../queue/index.ts';

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** Seconds; chosen around provider latencies (a few seconds to minutes). */
const LATENCY_BUCKETS = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

export interface OpsSources {
  pool: Pool;
  queue?: Queue;
}

function register(registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Promise<Value[]>) {
  registry.registerMetric({
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      return { name, help, type, values: await read(), aggregator: 'sum' };
    },
    reset() {},
  } as never);
}

export function registerOpsMetrics(registry: Registry, { pool, queue }: OpsSources): void {
  const rows = async (sql: string) => (await pool.query(sql)).rows;
  register(registry, 'tally_generations_total', 'Generations finished, by outcome and provider', 'counter', async () =>
    (
      await rows(
        `select coalesce(provider, 'none') as provider, status, count(*)::int as n from generations where status in ('completed', 'failed') group by 1, 2`,
      )
    ).map((r) => ({
      labels: { provider: r.provider, outcome: r.status },
      value: r.n,
    })),
  );
  register(registry, 'tally_provider_latency_seconds', 'Provider attempt latency (finished attempts)', 'histogram', async () => {
    const columns = LATENCY_BUCKETS.map((le, i) => `count(*) filter (where latency_ms <= ${le * 1000})::int as b${i}`).join(', ');
    const values: Value[] = [];
    for (const r of await rows(
      `select provider, ${columns}, count(*)::int as n, coalesce(sum(latency_ms), 0)::bigint as ms from generation_attempts where latency_ms is not null group by provider`,
    )) {
      LATENCY_BUCKETS.forEach((le, i) =>
        values.push({ metricName: 'tally_provider_latency_seconds_bucket', labels: { provider: r.provider, le }, value: r[`b${i}`] }),
      );
      values.push({ metricName: 'tally_provider_latency_seconds_bucket', labels: { provider: r.provider, le: '+Inf' }, value: r.n });
      values.push({ metricName: 'tally_provider_latency_seconds_sum', labels: { provider: r.provider }, value: Number(r.ms) / 1000 });
      values.push({ metricName: 'tally_provider_latency_seconds_count', labels: { provider: r.provider }, value: r.n });
    }
    return values;
  });
  register(registry, 'tally_pool_units', "Provider units in each pool's parts (available, reserved, consumed, emergency)", 'gauge', async () =>
    (
      await rows(
        `select asset as provider, replace(kind, 'pool-', '') as part, balance::bigint as units from ledger_accounts where kind in ('pool-available', 'pool-reserved', 'pool-consumed', 'pool-emergency')`,
      )
    ).map((r) => ({
      labels: { provider: r.provider, part: r.part },
      value: Number(r.units),
    })),
  );
  register(registry, 'tally_holds_pending', 'Credit holds pending (placed, neither posted nor voided)', 'gauge', async () => [
    { labels: {}, value: (await rows('select count(*)::int as n from ledger_hold_deadlines'))[0].n },
  ]);
  if (queue) {
    register(registry, 'tally_queue_depth', 'Queue jobs waiting or running', 'gauge', async () =>
      Promise.all(Object.values(QUEUES).map(async (name) => ({ labels: { queue: name }, value: await queue.pending(name) }))),
    );
  }
  register(registry, 'tally_job_runs_total', 'Scheduled job runs, by job and outcome', 'counter', async () =>
    (await rows(`select name, outcome, count(*)::int as n from job_runs where outcome is not null group by 1, 2`)).map((r) => ({
      labels: { job: r.name, outcome: r.outcome },
      value: r.n,
    })),
  );
  register(registry, 'tally_alerts_raised_total', 'Alerts raised (a repeat of an active alert is not a new one), by type', 'counter', async () =>
    (await rows(`select type, count(*)::int as n from alerts group by 1`)).map((r) => ({ labels: { type: r.type }, value: r.n })),
  );
  register(registry, 'tally_alert_deliveries_total', 'Alert delivery attempts, by channel and outcome', 'counter', async () =>
    (await rows(`select channel, ok, count(*)::int as n from alert_deliveries group by 1, 2`)).map((r) => ({
      labels: { channel: r.channel, outcome: r.ok ? 'delivered' : 'failed' },
      value: r.n,
    })),
  );
}
