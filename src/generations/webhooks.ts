// A user's result webhook: when one of their generations ends, Tally POSTs the task to their URL,
// signed so they can tell it is from us: header `Tally-Signature: t=<unix seconds>,v1=<hex>` where
// v1 = HMAC-SHA256(secret, "<t>.<raw body>"). Delivery is a queue job on its own small set of slots
// (src/generations/dispatcher.ts), with a short timeout. An endpoint that fails or times out is backed
// off in its row (every worker reads the same one): deliveries to it are deferred, not dropped, until
// the backoff ends; one probe at a time tries it; a delivery out of passes is counted as undelivered and
// the user reads why in GET /v1/webhook.
import { createHmac, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/pool.ts';
import { QUEUES } from '../queue/index.ts';
import type { ProcessorDeps } from './deps.ts';
import { presentTask } from './present.ts';
import { findGeneration } from './repository.ts';
import { backoffDelayMs, decideDelivery, type BackoffSettings } from './webhook-backoff.ts';

/** A delivery job: the generation whose end is sent, and how many passes it has had. */
export interface WebhookJob {
  generationId: string;
  passes?: number;
}

export interface UserWebhook {
  url: string;
  createdAt: string;
  /** Consecutive failed deliveries; 0 when the endpoint answers. */
  failures: number;
  /** Since when the endpoint has been failing (null when it answers). */
  failingSince: string | null;
  /** Why the last delivery failed, or the last one given up. */
  lastError: string | null;
  /** Deliveries wait until then (the endpoint's backoff). */
  nextAttemptAt: string | null;
  /** Deliveries given up after their last pass. */
  undelivered: number;
}

interface WebhookRow {
  url: string;
  created_at: Date;
  failures: number;
  failing_since: Date | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  undelivered: number;
}

function presentWebhook(row: WebhookRow): UserWebhook {
  return {
    url: row.url,
    createdAt: row.created_at.toISOString(),
    failures: row.failures,
    failingSince: row.failing_since?.toISOString() ?? null,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at?.toISOString() ?? null,
    undelivered: row.undelivered,
  };
}

/** Sets (or replaces) the user's webhook; the secret is returned this once and never shown again. */
/** Sets (or replaces) the user's webhook; the secret is returned this once and never shown again. A new URL starts with a clean record. */
export async function setUserWebhook(db: Queryable, input: { userId: string; url: string }): Promise<{ url: string; createdAt: string; secret: string }> {
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  const { rows } = await db.query<{ created_at: Date }>(
    `insert into user_webhooks (user_id, url, secret) values ($1, $2, $3)
     on conflict (user_id) do update set url = excluded.url, secret = excluded.secret, updated_at = now(),
       failures = 0, next_attempt_at = null, failing_since = null, last_error = null, undelivered = 0
     returning created_at`,
    [input.userId, input.url, secret],
  );
  return { url: input.url, secret, createdAt: rows[0]!.created_at.toISOString() };
}

export async function getUserWebhook(db: Queryable, userId: string): Promise<UserWebhook | undefined> {
  const { rows } = await db.query<WebhookRow>(
    'select url, created_at, failures, failing_since, last_error, next_attempt_at, undelivered from user_webhooks where user_id = $1',
    [userId],
  );
  return rows[0] && presentWebhook(rows[0]);
}

export async function deleteUserWebhook(db: Queryable, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from user_webhooks where user_id = $1', [userId]);
  return rowCount === 1;
}

export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

type DeliverDeps = ProcessorDeps & { postJson: (url: string, body: string, headers: Record<string, string>) => Promise<number> };

function backoffSettings(deps: ProcessorDeps): BackoffSettings {
  const g = deps.config.generations;
  return { baseMs: g.webhookBackoffMs, maxMs: g.webhookMaxBackoffMs, maxPasses: g.webhookMaxPasses };
}

/** Puts the delivery back in the queue for a later pass (before this job completes: a crash between sends it twice, never zero times). */
async function deferDelivery(deps: ProcessorDeps, job: WebhookJob, until: Date): Promise<void> {
  await deps.queue.sendIn(deps.pool, QUEUES.webhook, { generationId: job.generationId, passes: (job.passes ?? 0) + 1 }, { startAfter: until });
}

/**
 * One pass of one delivery: send the generation's end to its owner's webhook, or defer it while the
 * endpoint is backed off, or record it as undelivered after its last pass. Never throws for the
 * receiver's sake (its failures are recorded and backed off here); throws only when the database does.
 */
export async function deliverWebhook(deps: DeliverDeps, job: WebhookJob): Promise<void> {
  const generation = await findGeneration(deps.pool, job.generationId);
  if (!generation) return;
  const { rows } = await deps.pool.query<{ url: string; secret: string; failures: number; next_attempt_at: Date | null }>(
    'select url, secret, failures, next_attempt_at from user_webhooks where user_id = $1',
    [generation.user_id],
  );
  const hook = rows[0];
  if (!hook) return;
  const settings = backoffSettings(deps);
  const passes = job.passes ?? 0;
  const decision = decideDelivery({ failures: hook.failures, nextAttemptAt: hook.next_attempt_at }, passes, new Date(), settings);
  if (decision.action === 'give-up') {
    await deps.pool.query(
      `update user_webhooks set undelivered = undelivered + 1,
         last_error = left($2 || coalesce(' Last error: ' || last_error, ''), 500) where user_id = $1`,
      [generation.user_id, `Gave up delivering generation ${generation.id} after ${passes} passes.`],
    );
    deps.log.warn({ generationId: generation.id, userId: generation.user_id, passes }, 'user webhook delivery given up; the endpoint kept failing');
    return;
  }
  if (decision.action === 'defer') return deferDelivery(deps, job, decision.until);
  if (hook.failures > 0 && !(await claimProbe(deps, generation.user_id, settings))) {
    return deferDelivery(deps, job, new Date(Date.now() + backoffDelayMs(hook.failures, settings)));
  }
  const task = await presentTask(deps, generation);
  const body = JSON.stringify({ type: `generation.${generation.status}`, task });
  const failure = await deps
    .postJson(hook.url, body, { 'content-type': 'application/json', 'tally-signature': signWebhook(hook.secret, body, Math.floor(Date.now() / 1000)) })
    .then(
      (status) => (status >= 200 && status < 300 ? undefined : `The webhook answered ${status}.`),
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
  if (!failure) {
    await deps.pool.query(
      'update user_webhooks set failures = 0, next_attempt_at = null, failing_since = null, last_error = null where user_id = $1 and failures > 0',
      [generation.user_id],
    );
    return;
  }
  const until = await recordFailure(deps, generation.user_id, failure, settings);
  deps.log.info(
    { generationId: generation.id, userId: generation.user_id, err: failure, retryAt: until },
    'user webhook delivery failed; the endpoint is backed off',
  );
  await deferDelivery(deps, job, until ?? new Date());
}

/** A failing endpoint is tried by one delivery at a time: the first to move its next attempt on wins. */
async function claimProbe(deps: ProcessorDeps, userId: string, settings: BackoffSettings): Promise<boolean> {
  const { rowCount } = await deps.pool.query(
    `update user_webhooks set next_attempt_at = now() + make_interval(secs => least($2::float8, $3::float8 * power(2, least(failures, 40))) / 1000)
     where user_id = $1 and failures > 0 and (next_attempt_at is null or next_attempt_at <= now())`,
    [userId, settings.maxMs, settings.baseMs],
  );
  return rowCount === 1;
}

/** Counts the failure and moves the endpoint's next attempt on by the doubled delay, in one statement. */
async function recordFailure(deps: ProcessorDeps, userId: string, error: string, settings: BackoffSettings): Promise<Date | undefined> {
  const { rows } = await deps.pool.query<{ next_attempt_at: Date }>(
    `update user_webhooks set failures = failures + 1, failing_since = coalesce(failing_since, now()), last_error = left($2, 500),
       next_attempt_at = now() + make_interval(secs => least($3::float8, $4::float8 * power(2, least(failures, 40))) / 1000)
     where user_id = $1 returning next_attempt_at`,
    [userId, error, settings.maxMs, settings.baseMs],
  );
  return rows[0]?.next_attempt_at;
}
