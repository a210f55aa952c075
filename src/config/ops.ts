// Operations config: alert rules, channels and delivery, and the scheduled jobs' schedules.
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { bool, integer, list, secret } from './fields.ts';

const level = z.enum(['info', 'warning', 'critical']);
const levels = z.union([z.array(level), list.pipe(z.array(level))]);

export const alertsSchema = z
  .object({
    /** One alert per (type, subject) per cooldown: repeats inside it are counted, not re-sent. */
    cooldownMinutes: integer(1, 7 * 24 * 60).default(60),
    /** Per-type overrides of the cooldown, in minutes. */
    cooldowns: z.record(z.string(), integer(1, 7 * 24 * 60)).default({}),
    slack: z.object({ webhookUrl: z.string().url().optional(), levels: levels.default(['warning', 'critical']) }).prefault({}),
    email: z
      .object({
        /** smtp://user:pass@host:port or smtps://… */
        smtpUrl: z.string().url().optional(),
        to: list.default([]),
        from: z.string().min(3).default('tally@localhost'),
        levels: levels.default(['critical']),
      })
      .prefault({}),
    webhook: z
      .object({ url: z.string().url().optional(), secret: secret(16).optional(), levels: levels.default(['info', 'warning', 'critical']) })
      .prefault({}),
    delivery: z
      .object({
        /** Attempts after the first, spaced by pg-boss's exponential backoff from retryDelaySeconds. */
        retryLimit: integer(0, 20).default(6),
        retryDelaySeconds: integer(1, 3600).default(30),
        timeoutMs: integer(100, 60_000).default(10_000),
        /** How often a worker hands new notifications to the queue and delivers queued ones. */
        pollMs: integer(50, 60_000).default(2000),
      })
      .prefault({}),
    /** Rules' thresholds (SPEC §4). */
    usersOutOfCredits: integer(1, 1_000_000).default(10),
    poolUsagePercent: integer(1, 100).default(90),
    failureRatePercent: integer(1, 100).default(50),
    failureRateMinAttempts: integer(1, 100_000).default(10),
    failureRateWindowMinutes: integer(1, 24 * 60).default(60),
  })
  .prefault({});

export const JOB_NAMES = [
  'process-enhancement-tasks',
  'check-credit-thresholds',
  'provider-health-check',
  'sync-provider-balances',
  'expire-holds',
  'daily-usage-summary',
  'monthly-credit-reset',
  'upgrade-suggestions',
] as const;

/** A five-field cron expression (UTC), refused at start with the key named when cron cannot read it. */
const cron = z.string().refine((value) => {
  if (value.trim().split(/\s+/).length !== 5) return false;
  try {
    CronExpressionParser.parse(value, { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
}, 'must be a five-field cron expression (minute hour day-of-month month day-of-week, UTC), e.g. "*/15 * * * *"');

export const jobsSchema = z
  .object({
    /** How often a worker looks for due jobs. */
    tickSeconds: integer(1, 3600).default(15),
    /** Per job: another cron schedule (UTC) or enabled: false. */
    overrides: z.partialRecord(z.enum(JOB_NAMES), z.object({ schedule: cron.optional(), enabled: bool.default(true) })).default({}),
  })
  .prefault({});

export const opsEnvVariables: Record<string, string> = {
  SLACK_WEBHOOK_URL: 'alerts.slack.webhookUrl',
  ALERT_SLACK_LEVELS: 'alerts.slack.levels',
  SMTP_URL: 'alerts.email.smtpUrl',
  ALERT_EMAIL_TO: 'alerts.email.to',
  ALERT_EMAIL_FROM: 'alerts.email.from',
  ALERT_EMAIL_LEVELS: 'alerts.email.levels',
  ALERT_WEBHOOK_URL: 'alerts.webhook.url',
  ALERT_WEBHOOK_SECRET: 'alerts.webhook.secret',
  ALERT_WEBHOOK_LEVELS: 'alerts.webhook.levels',
  TALLY_ALERT_COOLDOWN_MINUTES: 'alerts.cooldownMinutes',
  TALLY_JOBS_TICK_SECONDS: 'jobs.tickSeconds',
};
