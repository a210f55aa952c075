// Tally's Prometheus metrics: the operations series read from the database, the ledger's totals as
// counters, and the whole exposition passing `promtool check metrics` (Prometheus's own linter).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/http/metrics.ts';
import { createTestApp } from './support/http.ts';

/** The naming and type rules promtool enforces that matter here, checked without it too. */
function lint(text: string): string[] {
  const problems: string[] = [];
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (name!.endsWith('_total') && type !== 'counter') problems.push(`${name} ends in _total but is a ${type}`);
    if (type === 'counter' && !name!.endsWith('_total')) problems.push(`counter ${name} does not end in _total`);
    if (!/^[a-z_:][a-z0-9_:]*$/.test(name!)) problems.push(`${name} is not a valid metric name`);
  }
  return problems;
}

function promtool(text: string): { status: number | null; output: string } | undefined {
  const found = spawnSync('promtool', ['--version']);
  if (found.error) return undefined;
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('metrics', () => {
  it('exposes generations, provider latency, pools, holds, queues, job runs and alerts, and passes promtool', async () => {
    const t = await createTestApp();
    await t.credits.refill({ provider: 'nanobanana', amount: 1000, key: 'm' });
    await t.db.pool.query(
      `insert into generations (id, user_id, model_id, prompt, status, credits_held, credits_charged, hold_key, deadline_at, provider) values ('g1', 'u', 'enhance', 'p', 'completed', 1, 1, 'g1', now(), 'nanobanana')`,
    );
    await t.db.pool.query(
      `insert into generation_attempts (id, generation_id, provider, provider_model, status, latency_ms) values ('a1', 'g1', 'nanobanana', 'm', 'succeeded', 3200)`,
    );
    await t.services.jobs.run('expire-holds', { trigger: 'cli' });
    await t.services.alerts.raise({ type: 'pool_low', level: 'warning', message: 'low', subject: 'seedream' });
    await t.db.pool.query(`insert into alert_notifications (id, alert_id, kind) select 'ntf_m', id, 'raised' from alerts limit 1`);
    await t.db.pool.query(
      `insert into alert_deliveries (id, notification_id, channel, attempt, ok, error) values ('d1', 'ntf_m', 'slack', 1, false, 'HTTP 500'), ('d2', 'ntf_m', 'slack', 2, true, null)`,
    );

    const ledger = { batches: 3, operations: 7, retries: 0 };
    const metrics = createMetrics({
      ledgerBatches: () => ledger,
      ledgerTransactions: () => ({ reruns: 1 }),
      ops: { pool: t.db.pool, queue: t.services.queue },
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('tally_generations_total{provider="nanobanana",outcome="completed"} 1');
    expect(text).toContain('tally_provider_latency_seconds_bucket{provider="nanobanana",le="2.5"} 0');
    expect(text).toContain('tally_provider_latency_seconds_bucket{provider="nanobanana",le="5"} 1');
    expect(text).toContain('tally_provider_latency_seconds_sum{provider="nanobanana"} 3.2');
    expect(text).toContain('tally_pool_units{provider="nanobanana",part="available"} 1000');
    expect(text).toContain('tally_holds_pending 0');
    expect(text).toContain('tally_queue_depth{queue="alert-deliver"} 0');
    expect(text).toContain('tally_job_runs_total{job="expire-holds",outcome="succeeded"} 1');
    expect(text).toContain('tally_alerts_raised_total{type="pool_low"} 1');
    expect(text).toContain('tally_alert_deliveries_total{channel="slack",outcome="failed"} 1');
    expect(text).toMatch(/# TYPE tally_ledger_batches_total counter\ntally_ledger_batches_total 3/);

    // The ledger's totals only grow between scrapes.
    ledger.batches = 5;
    expect(await metrics.registry.metrics()).toMatch(/\ntally_ledger_batches_total 5\n/);

    expect(lint(text)).toEqual([]);
    const checked = promtool(text);
    // promtool is part of Prometheus (apt-get install prometheus); without it the lint above stands in.
    if (checked) expect(checked, checked.output).toMatchObject({ status: 0 });
  });
});
