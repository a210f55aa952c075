// Alerts end to end against the real database and real local servers: one alert per (type, subject)
// per cooldown window, delivered to Slack, the signed webhook and SMTP by level; the recovery message;
// a failing channel retried through the queue with every attempt recorded and visible.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerts } from '../src/alerts/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { recordAlert as legacyRecordAlert, openAlerts } from '../src/credits/alerts.ts';
import { Queue } from '../src/queue/index.ts';
import { startHttpSink, startSmtpSink, verifySignature, type HttpSink, type SmtpSink } from './fakes/alert-sinks.ts';
import { createTestDatabase } from './support/database.ts';

const db = await createTestDatabase();
const SECRET = 'webhook-secret-0123456789';
let slack: HttpSink, hook: HttpSink, smtp: SmtpSink, queue: Queue, alerts: Alerts;
const T0 = new Date('2026-12-04T10:00:00Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

beforeAll(async () => {
  [slack, hook, smtp] = await Promise.all([startHttpSink(), startHttpSink(), startSmtpSink()]);
  const config = loadConfig({
    env: {},
    overrides: {
      alerts: {
        cooldownMinutes: 60,
        slack: { webhookUrl: slack.url, levels: ['warning', 'critical'] },
        webhook: { url: hook.url, secret: SECRET, levels: ['info', 'warning', 'critical'] },
        email: { smtpUrl: smtp.url, to: ['ops@example.test'], from: 'tally@example.test', levels: ['critical'] },
        delivery: { retryDelaySeconds: 1, pollMs: 50 },
      },
    },
  });
  queue = new Queue(db.pool, { supervise: false });
  await queue.start();
  alerts = new Alerts({ pool: db.pool, queue, config: config.alerts, log: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await alerts.stop();
  await queue.stop();
  await Promise.all([slack.close(), hook.close(), smtp.close()]);
});

describe('alerts', () => {
  it('counts repeats of one condition on one alert and sends it once per channel, by level', async () => {
    for (let i = 0; i < 3; i++) {
      await alerts.raise({
        type: 'pool_critical',
        level: 'critical',
        message: `nanobanana has ${30 - i} units`,
        data: { provider: 'nanobanana' },
        now: minutes(i),
      });
    }
    const [alert, ...others] = await alerts.list({ type: 'pool_critical' });
    expect(others).toEqual([]);
    expect(alert).toMatchObject({
      subject: 'nanobanana',
      occurrences: 3,
      message: 'nanobanana has 28 units',
      resolvedAt: null,
      lastSeenAt: minutes(2).toISOString(),
    });

    await alerts.flush(minutes(3));
    expect(slack.received).toHaveLength(1);
    expect(JSON.parse(slack.received[0]!.body).text).toMatch(/^CRITICAL pool_critical \(nanobanana\): nanobanana has 28 units \(seen 3 times\)$/);
    expect(hook.received).toHaveLength(1);
    expect(verifySignature(SECRET, hook.received[0]!)).toBe(true);
    expect(verifySignature('another-secret-0123456789', hook.received[0]!)).toBe(false);
    expect(JSON.parse(hook.received[0]!.body)).toMatchObject({ kind: 'raised', alert: { id: alert!.id, type: 'pool_critical', level: 'critical' } });
    const [mail] = await smtp.waitFor(1);
    expect(mail).toMatchObject({ from: 'tally@example.test', to: ['ops@example.test'] });
    expect(mail!.data).toMatch(/Subject: \[Tally\] CRITICAL pool_critical/);

    // Within the cooldown nothing more is sent; a repeat after it sends one reminder.
    await alerts.raise({ type: 'pool_critical', level: 'critical', message: 'nanobanana has 20 units', data: { provider: 'nanobanana' }, now: minutes(30) });
    await alerts.flush(minutes(30));
    expect(slack.received).toHaveLength(1);
    await alerts.raise({ type: 'pool_critical', level: 'critical', message: 'nanobanana has 10 units', data: { provider: 'nanobanana' }, now: minutes(61) });
    await alerts.flush(minutes(61));
    await alerts.flush(minutes(62));
    expect(slack.received).toHaveLength(2);
    expect(JSON.parse(hook.received[1]!.body)).toMatchObject({ kind: 'reminder' });

    // The condition clears: the alert resolves and a recovery goes out.
    expect(await alerts.resolve({ type: 'pool_critical', subject: 'nanobanana', message: 'nanobanana is back to 500 units', now: minutes(70) })).toBe(true);
    expect(await alerts.resolve({ type: 'pool_critical', subject: 'nanobanana', message: 'again', now: minutes(71) })).toBe(false);
    await alerts.flush(minutes(70));
    expect(JSON.parse(slack.received[2]!.body).text).toBe('RESOLVED pool_critical (nanobanana): nanobanana is back to 500 units');
    expect(await smtp.waitFor(3)).toHaveLength(3);

    // The same condition coming back later is a new alert.
    const again = await alerts.raise({ type: 'pool_critical', level: 'critical', message: 'low again', data: { provider: 'nanobanana' }, now: minutes(90) });
    expect(again).toMatchObject({ created: true });
    expect(again.id).not.toBe(alert!.id);
  });

  it("keeps the credits domain's recordAlert working: a flood of blocked sales is one open alert", async () => {
    await Promise.all(
      Array.from({ length: 20 }, () =>
        legacyRecordAlert(db.pool, { type: 'sale_blocked', level: 'warning', message: 'blocked', data: { provider: 'seedream' } }),
      ),
    );
    const open = (await openAlerts(db.pool)).filter((a) => a.type === 'sale_blocked');
    expect(open).toHaveLength(1);
    expect(open[0]!.occurrences).toBe(20);
    expect(open[0]!.subject).toBe('seedream');
  });

  it('lists by level and type, and an acknowledged alert leaves the open list and gets no reminders', async () => {
    const { id } = await alerts.raise({ type: 'drift', level: 'info', message: 'drift of 3', subject: 'seedream', now: minutes(0) });
    expect((await alerts.list({ open: true, level: 'info' })).map((a) => a.id)).toContain(id);
    expect((await alerts.list({ open: true, level: 'critical' })).map((a) => a.id)).not.toContain(id);
    expect(await alerts.acknowledge(id)).toMatchObject({ id, acknowledgedAt: expect.any(String) });
    expect(await alerts.acknowledge('alert_missing')).toBeUndefined();
    expect((await alerts.list({ open: true })).map((a) => a.id)).not.toContain(id);
    await alerts.raise({ type: 'drift', level: 'info', message: 'drift of 4', subject: 'seedream', now: minutes(200) });
    await alerts.flush(minutes(200));
    const { rows } = await db.pool.query(`select kind from alert_notifications where alert_id = $1`, [id]);
    expect(rows.map((r) => r.kind)).toEqual(['raised']);
  });

  it('retries a failing channel with backoff through the queue, records each attempt, and shows a channel that keeps failing', async () => {
    hook.failWith.push(500);
    const before = hook.received.length;
    const { id } = await alerts.raise({ type: 'provider_unhealthy', level: 'warning', message: 'fal is down', data: { provider: 'fal' } });
    alerts.start();
    const received = await hook.waitFor(before + 2); // the failure, then the retry pg-boss released after its delay
    expect(JSON.parse(received[before + 1]!.body)).toMatchObject({ alert: { id } });
    await alerts.stop();
    const { rows } = await db.pool.query(
      `select d.attempt, d.ok, d.error from alert_deliveries d join alert_notifications n on n.id = d.notification_id where n.alert_id = $1 and d.channel = 'webhook' order by d.attempt`,
      [id],
    );
    expect(rows).toEqual([
      { attempt: 1, ok: false, error: expect.stringMatching(/HTTP 500/) },
      { attempt: 2, ok: true, error: null },
    ]);
    expect((await alerts.channelHealth()).find((c) => c.channel === 'webhook')).toMatchObject({ failuresInARow: 0 });

    slack.failWith.push(503, 503, 503, 503, 503, 503, 503, 503);
    await alerts.raise({ type: 'provider_unhealthy', level: 'warning', message: 'kie is down', data: { provider: 'kie' } });
    const slackBefore = slack.received.length;
    alerts.start();
    await slack.waitFor(slackBefore + 2);
    await alerts.stop();
    const slackHealth = (await alerts.channelHealth()).find((c) => c.channel === 'slack');
    expect(slackHealth!.failuresInARow).toBeGreaterThanOrEqual(2);
    expect(slackHealth!.lastError).toMatch(/HTTP 503/);
    slack.failWith.length = 0;
  });
});
