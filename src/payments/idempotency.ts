// Idempotency-Key for purchases: the first answer is stored, per caller, and a replay gets it back
// unchanged (even after the balance moved); the same key with another body is refused.
import { createHash } from 'node:crypto';
import type { Pool } from '../db/pool.ts';
import { PaymentsError } from './errors.ts';

/** A retry that arrives while the first request runs waits this long for its answer (then 409, retry later). */
const WAIT_FOR_FIRST_MS = 10_000;

/**
 * A request whose first run died without storing its answer (its process killed, or the database gone
 * between the grant and the answer) may be taken over after this long. Taking over is safe because the
 * work is keyed by the request (see `requestId`): a second run finds the first one's grant and buys nothing.
 */
const ABANDONED_AFTER_SECONDS = 30;

/**
 * Runs `work` once per (caller, key). `work` gets an id stable across retries of one keyed request, to key
 * what it writes, so a takeover of an abandoned run repeats nothing (undefined without a key).
 */
export async function withIdempotencyKey<T>(
  pool: Pool,
  input: { userId: string; key: string | undefined; body: unknown },
  work: (requestId?: string) => Promise<T>,
): Promise<T> {
  if (input.key === undefined) return work();
  const fingerprint = createHash('sha256').update(JSON.stringify(input.body)).digest('hex');
  const claimed = await pool.query(
    `insert into purchase_requests (user_id, key, fingerprint) values ($1, $2, $3)
     on conflict (user_id, key) do update set fingerprint = excluded.fingerprint, created_at = now()
       where purchase_requests.response is null and purchase_requests.created_at < now() - make_interval(secs => $4)
     returning 1`,
    [input.userId, input.key, fingerprint, ABANDONED_AFTER_SECONDS],
  );
  if (claimed.rowCount === 0) return storedAnswer<T>(pool, { ...input, key: input.key, fingerprint });
  try {
    const requestId = `pur_${createHash('sha256')
      .update(JSON.stringify([input.userId, input.key]))
      .digest('hex')
      .slice(0, 26)}`;
    const answer = await work(requestId);
    await pool.query('update purchase_requests set response = $3 where user_id = $1 and key = $2', [input.userId, input.key, JSON.stringify(answer)]);
    return answer;
  } catch (error) {
    // A refused purchase changed nothing: a retry under the key runs again (a refusal the ledger recorded,
    // such as sale_blocked, is answered the same way under the same key; a new key is a new purchase).
    await pool.query('delete from purchase_requests where user_id = $1 and key = $2 and response is null', [input.userId, input.key]);
    throw error;
  }
}

/** The first request's answer; a concurrent retry polls briefly for it rather than buying again. */
async function storedAnswer<T>(pool: Pool, input: { userId: string; key: string; fingerprint: string }): Promise<T> {
  for (const started = Date.now(); ;) {
    const { rows } = await pool.query<{ fingerprint: string; response: T | null }>(
      'select fingerprint, response from purchase_requests where user_id = $1 and key = $2',
      [input.userId, input.key],
    );
    const stored = rows[0];
    if (stored && stored.fingerprint !== input.fingerprint)
      throw new PaymentsError(
        'idempotency_conflict',
        `Idempotency-Key "${input.key}" was already used with a different request body; use a new key for a new purchase.`,
      );
    if (stored?.response != null) return stored.response;
    if (Date.now() - started > WAIT_FOR_FIRST_MS)
      throw new PaymentsError('request_in_progress', `A request with Idempotency-Key "${input.key}" is still running; retry in a moment.`);
    // Gone: the first run failed and released the key, so this one may not claim it silently; the caller retries.
    if (!stored) throw new PaymentsError('request_in_progress', `The first request with Idempotency-Key "${input.key}" failed; retry to try again.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
