// `tally health` (see README.md): one line per check, each ok, warn or fail with its reason; any fail
// makes the report unhealthy (exit 1). Reads only: it never runs a job or probes a provider.
import type { Alerts } from '../alerts/index.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import { migrationStatus } from '../db/migrate.ts';
import type { Generations } from '../generations/index.ts';
import type { Ledger } from '../ledger/index.ts';
import { QUEUES, type Queue } from '../queue/index.ts';
import type { Jobs } from './index.ts';

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

export interface HealthDeps {
  pool: Pool;
  ledger: Ledger;
  credits: Credits;
  generations: Generations;
  queue: Queue;
  jobs: Jobs;
  alerts: Alerts;
}

/** Thresholds of the report (not configuration: what counts as broken). */
const QUEUE_DEPTH_LIMIT = 1000;
const STALE_HOLD_GRACE_SECONDS = 300;
const CHANNEL_FAILURES_LIMIT = 3;

export async function healthReport(deps: HealthDeps, now = new Date()): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, status: Check['status'], detail: string) => checks.push({ name, status, detail });
  try {
    await deps.pool.query('select 1');
    add('database', 'ok', 'reachable');
  } catch (error) {
    add('database', 'fail', `unreachable: ${(error as Error).message}`);
    return checks; // nothing else can be read
  }
  const migrations = await migrationStatus(deps.pool);
  if (!migrations.compatible)
    add(
      'migrations',
      'fail',
      `pending: ${migrations.pending.join(', ')}${migrations.changed.length ? `; edited after they were applied: ${migrations.changed.join(', ')}` : ''}; run tally migrate`,
    );
  else if (migrations.unknown.length)
    add('migrations', 'warn', `the database is newer than this release (${migrations.unknown.join(', ')}): finish the rollout`);
  else add('migrations', 'ok', 'current');

  for (const name of Object.values(QUEUES)) {
    const depth = await deps.queue.pending(name);
    add(
      `queue ${name}`,
      depth > QUEUE_DEPTH_LIMIT ? 'fail' : 'ok',
      `${depth} waiting or running${depth > QUEUE_DEPTH_LIMIT ? ` (over ${QUEUE_DEPTH_LIMIT}: are workers running?)` : ''}`,
    );
  }

  const stats = await deps.generations.stats();
  for (const p of stats.providers.filter((p) => p.configured)) {
    const probe = p.healthCheck && !p.healthCheck.ok ? `last probe failed: ${p.healthCheck.error}` : null;
    const circuit = p.coolingDownUntil && Date.parse(p.coolingDownUntil) > now.getTime() ? `circuit open until ${p.coolingDownUntil}` : 'circuit closed';
    const down = Boolean(probe) || !p.isHealthy;
    add(
      `provider ${p.provider}`,
      down ? 'fail' : 'ok',
      [down ? 'down' : 'healthy', circuit, probe ?? (p.lastError ? `last error: ${p.lastError}` : null)].filter(Boolean).join('; '),
    );
  }

  for (const pool of (await deps.credits.capacity()).pools) {
    const status = pool.available < pool.criticalThreshold ? 'fail' : pool.available < pool.lowThreshold ? 'warn' : 'ok';
    const why =
      status === 'fail'
        ? `critical: under ${pool.criticalThreshold}; refill it`
        : status === 'warn'
          ? `low: under ${pool.lowThreshold}`
          : 'above its thresholds';
    add(`pool ${pool.provider}`, status, `${pool.available} available, ${pool.reserved} reserved (${why})`);
  }

  const stale = await deps.ledger.overdueHolds(STALE_HOLD_GRACE_SECONDS, now);
  add(
    'stale holds',
    stale.count > 0 ? 'fail' : 'ok',
    stale.count > 0 ? `${stale.count} holds expired since ${stale.oldest} and not voided: is the expire-holds job running?` : 'none',
  );

  for (const job of await deps.jobs.list(now)) {
    if (!job.enabled) add(`job ${job.name}`, 'ok', 'disabled');
    else if (!job.lastRun) add(`job ${job.name}`, 'warn', `never ran; next ${job.nextRunAt}`);
    else if (job.lastRun.outcome === 'failed' || job.lastRun.outcome === 'abandoned')
      add(`job ${job.name}`, 'fail', `last run ${job.lastRun.outcome} at ${job.lastRun.startedAt}: ${job.lastRun.error}`);
    else add(`job ${job.name}`, 'ok', `last run ${job.lastRun.outcome ?? 'running'} at ${job.lastRun.startedAt}; next ${job.nextRunAt}`);
  }

  for (const channel of await deps.alerts.channelHealth()) {
    const failing = channel.failuresInARow >= CHANNEL_FAILURES_LIMIT;
    add(
      `alert channel ${channel.channel}`,
      failing ? 'fail' : channel.failuresInARow > 0 ? 'warn' : 'ok',
      channel.failuresInARow > 0 ? `${channel.failuresInARow} failed attempts in a row; last: ${channel.lastError}` : `last delivery ${channel.lastAttemptAt}`,
    );
  }
  return checks;
}

export function formatChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => `${c.status === 'ok' ? 'ok  ' : c.status === 'warn' ? 'WARN' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
  const failed = checks.filter((c) => c.status === 'fail');
  lines.push(failed.length ? `UNHEALTHY: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}` : 'Healthy.');
  return lines.join('\n');
}
