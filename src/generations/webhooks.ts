// A user's result webhook: when one of their generations ends, Tally POSTs the task to their URL,
// signed so they can tell it is from us: header `Tally-Signature: t=<unix seconds>,v1=<hex>` where
// v1 = HMAC-SHA256(secret, "<t>.<raw body>"). Delivery is a queue job, retried with backoff.
import { createHmac, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/pool.ts';
import type { ProcessorDeps } from './deps.ts';
import { presentTask } from './present.ts';
import { findGeneration } from './repository.ts';

export interface UserWebhook {
  url: string;
  createdAt: string;
}

/** Sets (or replaces) the user's webhook; the secret is returned this once and never shown again. */
export async function setUserWebhook(db: Queryable, input: { userId: string; url: string }): Promise<UserWebhook & { secret: string }> {
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  const { rows } = await db.query<{ created_at: Date }>(
    `insert into user_webhooks (user_id, url, secret) values ($1, $2, $3)
     on conflict (user_id) do update set url = excluded.url, secret = excluded.secret, updated_at = now()
     returning created_at`,
    [input.userId, input.url, secret],
  );
  return { url: input.url, secret, createdAt: rows[0]!.created_at.toISOString() };
}

export async function getUserWebhook(db: Queryable, userId: string): Promise<UserWebhook | undefined> {
  const { rows } = await db.query<{ url: string; created_at: Date }>('select url, created_at from user_webhooks where user_id = $1', [userId]);
  return rows[0] && { url: rows[0].url, createdAt: rows[0].created_at.toISOString() };
}

export async function deleteUserWebhook(db: Queryable, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from user_webhooks where user_id = $1', [userId]);
  return rowCount === 1;
}

export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Sends one generation's end to its owner's webhook; throws (so the job retries) when the receiver does not take it. */
export async function deliverWebhook(deps: ProcessorDeps & { postJson: (url: string, body: string, headers: Record<string, string>) => Promise<number> }, generationId: string): Promise<void> {
  const generation = await findGeneration(deps.pool, generationId);
  if (!generation) return;
  const { rows } = await deps.pool.query<{ url: string; secret: string }>('select url, secret from user_webhooks where user_id = $1', [generation.user_id]);
  const hook = rows[0];
  if (!hook) return;
  const task = await presentTask(deps, generation);
  const body = JSON.stringify({ type: `generation.${generation.status}`, task });
  const status = await deps.postJson(hook.url, body, { 'content-type': 'application/json', 'tally-signature': signWebhook(hook.secret, body, Math.floor(Date.now() / 1000)) });
  if (status < 200 || status >= 300) throw new Error(`the webhook answered ${status}`);
}
