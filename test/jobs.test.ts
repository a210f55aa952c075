// Each scheduled job against the real database with the clock moved by the test (no sleeping):
// missed slots run once, thresholds crossed raise one alert per cooldown window delivered to local
// servers, a refill brings the recovery message, the daily summary and upgrade suggestions are
// idempotent, the monthly reset runs from the schedule on the 1st.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_NAMES } from '../src/config/ops.ts';
import { startHttpSink, startSmtpSink, verifySignature, type HttpSink, type SmtpSink } from './fakes/alert-sinks.ts';
import { createTestApp, type TestApp } from './support/http.ts';

const SECRET = 'webhook-secret-0123456789';
let t: TestApp, s: TestApp, slack: HttpSink, hook: HttpSink, smtp: SmtpSink;
const providerCounts: Record<string, number> = {};
const at = (iso: string) => new Date(iso);

beforeAll(async () => {
  [slack, hook, smtp] = await Promise.all([startHttpSink(), startHttpSink(), startSmtpSink()]);
  t = await createTestApp(
    { SLACK_WEBHOOK_URL: slack.url, ALERT_WEBHOOK_URL: hook.url, ALERT_WEBHOOK_SECRET: SECRET, SMTP_URL: smtp.url, ALERT_EMAIL_TO: 'ops@example.test' },
    { alerts: { delivery: { retryDelaySeconds: 1 } } },
    { remainingUnits: async (pool) => providerCounts[pool] ?? 0, hasSource: (pool) => pool in providerCounts },
  );
  s = await createTestApp();
});
afterAll(async () => {
  await Promise.all([slack.close(), hook.close(), smtp.close()]);
});

const jobs = () => t.services.jobs;
const lastRunOf = async (app: TestApp, name: string) => (await app.services.jobs.list()).find((j) => j.name === name)!.lastRun;

describe('the registry', () => {
  it("has exactly the issue's jobs and default schedules", () => {
    expect(Object.fromEntries(jobs().definitions.map((j) => [j.name, j.schedule]))).toEqual({
      'process-enhancement-tasks': '*/2 * * * *',
      'check-credit-thresholds': '*/15 * * * *',
      'provider-health-check': '*/5 * * * *',
      'sync-provider-balances': '0 * * * *',
      'expire-holds': '* * * * *',
      'daily-usage-summary': '0 1 * * *',
      'monthly-credit-reset': '0 0 1 * *',
      'upgrade-suggestions': '0 2 * * *',
    });
    expect(jobs().definitions.map((j) => j.name)).toEqual([...JOB_NAMES]);
  });
});

describe('the scheduler', () => {
  it('runs nothing from before it knew the jobs; after a gap with no worker, each job runs once for its latest slot', async () => {
    await s.credits.setTier('ana', 'plus'); // an allowance (unbacked: the pool is empty) for the reset to expire and grant
    expect(await s.services.jobs.tick(at('2026-11-30T22:00:30Z'))).toEqual([]);
    const results = await s.services.jobs.tick(at('2026-12-01T05:00:10Z'));
    expect(results.every((r) => r.ran && r.run.outcome === 'succeeded')).toBe(true);
    const slots = Object.fromEntries(results.map((r) => (r.ran ? [r.run.name, r.run.scheduledFor] : [])));
    expect(slots).toEqual({
      'process-enhancement-tasks': '2026-12-01T05:00:00.000Z',
      'check-credit-thresholds': '2026-12-01T05:00:00.000Z',
      'provider-health-check': '2026-12-01T05:00:00.000Z',
      'sync-provider-balances': '2026-12-01T05:00:00.000Z',
      'expire-holds': '2026-12-01T05:00:00.000Z',
      'daily-usage-summary': '2026-12-01T01:00:00.000Z',
      'monthly-credit-reset': '2026-12-01T00:00:00.000Z',
      'upgrade-suggestions': '2026-12-01T02:00:00.000Z',
    });
    expect((await lastRunOf(s, 'monthly-credit-reset'))!.summary).toMatchObject({ period: '2026-12', users: 1, expired: 10, granted: 10 });
    // The same slots again: nothing; a minute later only the every-minute job.
    expect(await s.services.jobs.tick(at('2026-12-01T05:00:50Z'))).toEqual([]);
    expect((await s.services.jobs.tick(at('2026-12-01T05:01:05Z'))).map((r) => r.ran && r.run.name)).toEqual(['expire-holds']);
    expect(await lastRunOf(s, 'expire-holds')).toMatchObject({ trigger: 'schedule', outcome: 'succeeded', summary: { expiredHolds: 0 } });
  });

  it('lists each job with its last run and next run', async () => {
    const list = await s.services.jobs.list(at('2026-12-01T05:01:30Z'));
    expect(list.find((j) => j.name === 'monthly-credit-reset')).toMatchObject({ lastRun: { outcome: 'succeeded' }, nextRunAt: '2027-01-01T00:00:00.000Z' });
    expect(list.find((j) => j.name === 'daily-usage-summary')).toMatchObject({ nextRunAt: '2026-12-02T01:00:00.000Z' });
  });
});

describe('check-credit-thresholds', () => {
  it('a pool under its thresholds is one alert per cooldown window, delivered; a refill brings the recovery', async () => {
    await t.credits.refill({ provider: 'seedream', amount: 30, key: 'low' }); // under 40: critical
    for (const minute of ['00', '15', '30']) {
      const result = await jobs().run('check-credit-thresholds', { trigger: 'cli', now: at(`2026-12-02T10:${minute}:00Z`) });
      expect(result).toMatchObject({ ran: true, run: { outcome: 'succeeded', summary: { firing: expect.arrayContaining(['pool_critical:seedream']) } } });
    }
    const [alert, ...more] = await t.services.alerts.list({ type: 'pool_critical', open: true });
    expect(more.filter((a) => a.subject === 'seedream')).toEqual([]);
    expect(alert).toMatchObject({ subject: 'seedream', level: 'critical', occurrences: 3 });
    await t.services.alerts.flush(at('2026-12-02T10:30:00Z'));
    const texts = () => slack.received.map((r) => JSON.parse(r.body).text as string).filter((text) => text.includes('(seedream)'));
    expect(texts()).toEqual([expect.stringMatching(/^CRITICAL pool_critical \(seedream\): seedream pool critical: 30 units available/)]);
    expect(hook.received.some((r) => r.body.includes('pool_critical') && verifySignature(SECRET, r))).toBe(true);
    expect((await smtp.waitFor(1)).some((m) => m.data.includes('pool_critical (seedream)'))).toBe(true);

    await t.credits.refill({ provider: 'seedream', amount: 500, key: 'refill' });
    const after = await jobs().run('check-credit-thresholds', { trigger: 'cli', now: at('2026-12-02T10:45:00Z') });
    expect(after).toMatchObject({ run: { summary: { resolved: expect.arrayContaining(['pool_critical:seedream']) } } });
    await t.services.alerts.flush(at('2026-12-02T10:45:00Z'));
    expect(texts()).toEqual([expect.stringMatching(/^CRITICAL pool_critical/), 'RESOLVED pool_critical (seedream): seedream has 530 units available']);
    expect((await t.services.alerts.list({ type: 'pool_critical', open: true })).map((a) => a.subject)).toEqual(['nanobanana']); // still empty
  });
});

describe('sync-provider-balances', () => {
  it('records each pool with a source; drift beyond the tolerance alerts and is not booked', async () => {
    const pool = await t.credits.poolState('seedream');
    providerCounts.seedream = pool.balance - 25;
    const result = await jobs().run('sync-provider-balances', { trigger: 'cli', now: at('2026-12-02T11:00:00Z') });
    expect(result).toMatchObject({ run: { outcome: 'succeeded', summary: { pools: { seedream: { drift: -25 } } } } });
    expect((await t.services.alerts.list({ type: 'sync_drift', open: true }))[0]).toMatchObject({ subject: 'seedream', data: { drift: -25 } });
    expect((await t.credits.poolState('seedream')).balance).toBe(pool.balance);
    providerCounts.seedream = pool.balance + 1; // within the default tolerance of one unit: the alert clears
    await jobs().run('sync-provider-balances', { trigger: 'cli', now: at('2026-12-02T12:00:00Z') });
    expect(await t.services.alerts.list({ type: 'sync_drift', open: true })).toEqual([]);
  });
});

async function insertGeneration(input: {
  id: string;
  userId: string;
  createdAt: string;
  status: 'completed' | 'failed';
  degraded?: boolean;
  charged?: number;
  costMicroUsd?: number;
}) {
  await t.db.pool.query(
    `insert into generations (id, user_id, model_id, prompt, status, degraded, credits_held, credits_charged, hold_key, deadline_at, created_at, provider)
     values ($1, $2, 'enhance', 'p', $3, $4, 1, $5, $1, $6::timestamptz + interval '1 hour', $6, 'nanobanana')`,
    [input.id, input.userId, input.status, input.degraded ?? false, input.charged ?? null, input.createdAt],
  );
  if (input.costMicroUsd !== undefined) {
    await t.db.pool.query(
      `insert into generation_attempts (id, generation_id, provider, provider_model, status, cost_micro_usd, started_at) values ($1, $2, 'nanobanana', 'm', $3, $4, $5)`,
      [`att_${input.id}`, input.id, input.status === 'completed' ? 'succeeded' : 'failed', input.costMicroUsd, input.createdAt],
    );
  }
}

describe('daily-usage-summary', () => {
  it('summarises yesterday into one row; a rerun replaces it', async () => {
    await insertGeneration({ id: 'g1', userId: 'u1', createdAt: '2026-12-03T08:00:00Z', status: 'completed', charged: 1, costMicroUsd: 100_000 });
    await insertGeneration({ id: 'g2', userId: 'u1', createdAt: '2026-12-03T23:59:59Z', status: 'completed', degraded: true, charged: 1, costMicroUsd: 0 });
    await insertGeneration({ id: 'g3', userId: 'u2', createdAt: '2026-12-03T09:00:00Z', status: 'failed', costMicroUsd: 50_000 });
    await insertGeneration({ id: 'g4', userId: 'u2', createdAt: '2026-12-04T00:00:00Z', status: 'completed', charged: 1 }); // another day
    const first = await jobs().run('daily-usage-summary', { trigger: 'cli', now: at('2026-12-04T01:00:00Z') });
    // Credits come from the ledger (these rows were written without it: none); cost from succeeded attempts only.
    expect(first).toMatchObject({
      run: { summary: { day: '2026-12-03', requests: 3, succeeded: 2, failed: 1, degraded: 1, creditsConsumed: 0, providerCostMicroUsd: 100_000 } },
    });
    await insertGeneration({ id: 'g5', userId: 'u2', createdAt: '2026-12-03T12:00:00Z', status: 'completed', charged: 1, costMicroUsd: 100_000 });
    await jobs().run('daily-usage-summary', { trigger: 'cli', now: at('2026-12-04T03:00:00Z') });
    const { rows } = await t.db.pool.query(`select requests, succeeded, provider_cost_micro_usd::int as cost from daily_usage where day = '2026-12-03'`);
    expect(rows).toEqual([{ requests: 4, succeeded: 3, cost: 200_000 }]);
  });
});

describe('upgrade-suggestions', () => {
  it('suggests once per month to heavy, recently active users on the lowest tier', async () => {
    for (const user of ['heavy', 'plus-user', 'lapsed']) await t.credits.ensureUser(user);
    await t.credits.setTier('plus-user', 'plus');
    for (let i = 0; i < 21; i++) {
      await insertGeneration({
        id: `h${i}`,
        userId: 'heavy',
        createdAt: `2026-11-${String(10 + i).padStart(2, '0')}T10:00:00Z`,
        status: 'completed',
        charged: 1,
      });
      await insertGeneration({
        id: `p${i}`,
        userId: 'plus-user',
        createdAt: `2026-11-${String(10 + i).padStart(2, '0')}T10:00:00Z`,
        status: 'completed',
        charged: 1,
      });
      await insertGeneration({
        id: `l${i}`,
        userId: 'lapsed',
        createdAt: `2026-11-${String(1 + i).padStart(2, '0')}T10:00:00Z`,
        status: 'completed',
        charged: 1,
      }); // last on the 21st
    }
    const now = at('2026-12-01T02:00:00Z');
    expect(await jobs().run('upgrade-suggestions', { trigger: 'cli', now })).toMatchObject({ run: { summary: { eligible: 1, notified: 1 } } });
    expect(await jobs().run('upgrade-suggestions', { trigger: 'cli', now: at('2026-12-02T02:00:00Z') })).toMatchObject({
      run: { summary: { eligible: 1, notified: 0 } },
    });
    const { rows } = await t.db.pool.query(`select user_id, period from user_notifications where kind = 'upgrade_suggestion'`);
    expect(rows).toEqual([{ user_id: 'heavy', period: '2026-12' }]);
  });
});

describe('a job that fails', () => {
  it('is recorded as failed with its error and raises job_failed until it succeeds again', async () => {
    providerCounts.nanobanana = -1; // an unusable balance: the sync refuses it
    const failed = await jobs().run('sync-provider-balances', { trigger: 'cli', now: at('2026-12-02T13:00:00Z') });
    expect(failed).toMatchObject({ run: { outcome: 'failed', error: expect.stringMatching(/nanobanana: provider nanobanana reported an unusable balance/) } });
    expect((await t.services.alerts.list({ type: 'job_failed', open: true }))[0]).toMatchObject({ subject: 'sync-provider-balances' });
    delete providerCounts.nanobanana;
    await jobs().run('sync-provider-balances', { trigger: 'cli', now: at('2026-12-02T14:00:00Z') });
    expect(await t.services.alerts.list({ type: 'job_failed', open: true })).toEqual([]);
  });
});

describe('HTTP', () => {
  it('lists alerts: the compat route as a bare array, /v1 in its envelope with filters; admins acknowledge', async () => {
    const admin = { auth: t.adminKey };
    const bare = await (await t.request('GET', '/api/admin/alerts', admin)).json();
    expect(Array.isArray(bare)).toBe(true);
    expect(bare.length).toBeGreaterThan(0);
    const critical = (await (await t.request('GET', '/v1/admin/alerts?level=critical', admin)).json()).alerts;
    expect(critical.length).toBeGreaterThan(0);
    expect(critical.every((a: { level: string }) => a.level === 'critical')).toBe(true);
    expect((await t.request('GET', '/v1/admin/alerts?level=loud', admin)).status).toBe(400);
    const acked = await t.request('POST', `/v1/admin/alerts/${critical[0].id}/ack`, admin);
    expect(await acked.json()).toMatchObject({ id: critical[0].id, acknowledgedAt: expect.any(String) });
    expect((await (await t.request('GET', '/v1/admin/alerts', admin)).json()).alerts.map((a: { id: string }) => a.id)).not.toContain(critical[0].id);
    expect((await (await t.request('GET', '/v1/admin/alerts?open=false', admin)).json()).alerts.map((a: { id: string }) => a.id)).toContain(critical[0].id);
    expect((await t.request('POST', '/v1/admin/alerts/alert_missing/ack', admin)).status).toBe(404);
    expect((await t.request('POST', '/v1/admin/alerts/..%2Fx/ack', admin)).status).toBe(400);
  });

  it('runs a job for an admin or the job token, refuses an unknown name and a second run at once', async () => {
    const { JOB_TOKEN } = await import('./support/http.ts');
    const viaAdmin = await t.request('POST', '/v1/admin/jobs/expire-holds/run', { auth: t.adminKey });
    expect(await viaAdmin.json()).toMatchObject({ run: { name: 'expire-holds', trigger: 'http', outcome: 'succeeded', summary: { expiredHolds: 0 } } });
    expect((await t.request('POST', '/api/background/expire-holds', { auth: JOB_TOKEN })).status).toBe(200);
    expect((await t.request('POST', '/api/background/expire-holds')).status).toBe(401);
    expect((await t.request('POST', '/api/background/no-such-job', { auth: JOB_TOKEN })).status).toBe(400);
    expect(await (await t.request('POST', '/api/background/process-tasks', { auth: JOB_TOKEN })).json()).toEqual({
      success: true,
      processed: 0,
      sweptGenerations: 0,
      resumedGenerations: 0,
      expiredHolds: 0,
    });
    // Another run unfinished (as if a worker were in the middle of it): 409, nothing run.
    await t.db.pool.query(
      `insert into job_runs (id, name, trigger, started_at, lease_until) values ('run_elsewhere', 'daily-usage-summary', 'cli', now(), now() + interval '1 hour')`,
    );
    const busy = await t.request('POST', '/v1/admin/jobs/daily-usage-summary/run', { auth: t.adminKey });
    expect(busy.status).toBe(409);
    expect((await busy.json()).detail).toMatch(/already running/);
    const listed = (await (await t.request('GET', '/v1/admin/jobs', { auth: t.adminKey })).json()).jobs;
    expect(listed.find((j: { name: string }) => j.name === 'daily-usage-summary')).toMatchObject({ lastRun: { id: 'run_elsewhere', outcome: null } });
  });
});
