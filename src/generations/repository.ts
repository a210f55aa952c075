// The generations tables, in SQL beside its callers. Status moves only by conditional UPDATEs, so two
// processors (or a processor and the sweeper) can never both finish one generation.
import type { ChargeSplit } from '../credits/index.ts';
import type { Queryable } from '../db/pool.ts';
import type { ProviderName } from '../providers/types.ts';

export type GenerationStatus = 'queued' | 'processing' | 'completed' | 'failed';

export interface GenerationRow {
  id: string;
  user_id: string;
  model_id: string;
  enhancement_type: string | null;
  prompt: string;
  strength: number | null;
  input_url: string | null;
  input_key: string | null;
  input_mime: string | null;
  moodboard_id: string | null;
  params: Record<string, unknown>;
  status: GenerationStatus;
  degraded: boolean;
  degraded_reason: string | null;
  css_filter: string | null;
  provider: string | null;
  result_key: string | null;
  result_mime: string | null;
  error_code: string | null;
  error_message: string | null;
  credits_held: number;
  credits_charged: number | null;
  hold_key: string;
  /** Which buckets the hold took its credits from (null on rows written before it was kept). */
  hold_split: ChargeSplit | null;
  lease_until: Date | null;
  deadline_at: Date;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export interface AttemptRow {
  id: string;
  generation_id: string;
  provider: ProviderName;
  provider_model: string;
  provider_task_id: string | null;
  status: 'running' | 'succeeded' | 'failed';
  error_kind: string | null;
  error_message: string | null;
  retryable: boolean | null;
  cost_units: number;
  cost_micro_usd: number;
  callback_status: StoredStatus | null;
  started_at: Date;
  ended_at: Date | null;
  latency_ms: number | null;
}

/** A provider's task status as kept in the database (errors flattened, only URL outputs). */
export type StoredStatus =
  { state: 'pending' } | { state: 'completed'; urls: string[] } | { state: 'failed'; error: { kind: string; message: string; retryable: boolean } };

export type NewGeneration = Pick<
  GenerationRow,
  | 'id'
  | 'user_id'
  | 'model_id'
  | 'enhancement_type'
  | 'prompt'
  | 'strength'
  | 'input_url'
  | 'input_key'
  | 'input_mime'
  | 'moodboard_id'
  | 'params'
  | 'credits_held'
  | 'hold_key'
  | 'hold_split'
  | 'deadline_at'
>;

/**
 * Writes a new generation: queued, or with `claimForSeconds` already processing under a lease held by
 * the caller (the sync API runs it at once, so no claim is needed and no worker may take it meanwhile).
 */
export async function insertGeneration(db: Queryable, row: NewGeneration, options: { claimForSeconds?: number } = {}): Promise<GenerationRow> {
  const claim = options.claimForSeconds;
  const { rows } = await db.query<GenerationRow>(
    `insert into generations (id, user_id, model_id, enhancement_type, prompt, strength, input_url, input_key, input_mime, moodboard_id, params, credits_held, hold_key, hold_split, deadline_at, status, lease_until)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
             case when $16::int is null then 'queued' else 'processing' end, now() + make_interval(secs => $16::int))
     returning *`,
    [
      row.id,
      row.user_id,
      row.model_id,
      row.enhancement_type,
      row.prompt,
      row.strength,
      row.input_url,
      row.input_key,
      row.input_mime,
      row.moodboard_id,
      JSON.stringify(row.params),
      row.credits_held,
      row.hold_key,
      row.hold_split && JSON.stringify(row.hold_split),
      row.deadline_at,
      claim ?? null,
    ],
  );
  return rows[0]!;
}

export async function findGeneration(db: Queryable, id: string, userId?: string): Promise<GenerationRow | undefined> {
  const { rows } = await db.query<GenerationRow>(
    `select * from generations where id = $1 ${userId === undefined ? '' : 'and user_id = $2'}`,
    userId === undefined ? [id] : [id, userId],
  );
  return rows[0];
}

export async function listGenerations(db: Queryable, userId: string, limit: number): Promise<GenerationRow[]> {
  const { rows } = await db.query<GenerationRow>('select * from generations where user_id = $1 order by created_at desc, id desc limit $2', [userId, limit]);
  return rows;
}

/**
 * Takes a generation for processing: queued ones, or processing ones whose processor's lease ran out
 * (it crashed or stalled). Returns undefined when it is finished or another processor holds it.
 */
export async function claimGeneration(db: Queryable, id: string, leaseSeconds: number): Promise<(GenerationRow & { resumed: boolean }) | undefined> {
  // `resumed`: it was already processing (a processor before this one had started on it), so it may
  // have attempts to pick up; a queued one has none, and reading them can be skipped.
  const { rows } = await db.query<GenerationRow & { resumed: boolean }>(
    `update generations g set status = 'processing', lease_until = now() + make_interval(secs => $2), updated_at = now()
       from (select id, status = 'processing' as resumed from generations where id = $1) before
      where g.id = before.id and g.status in ('queued', 'processing') and (g.lease_until is null or g.lease_until < now())
      returning g.*, before.resumed`,
    [id, leaseSeconds],
  );
  return rows[0];
}

/** Gives a generation back (the process is stopping): the next processor may claim it at once. */
export async function releaseLease(db: Queryable, id: string): Promise<void> {
  await db.query(`update generations set lease_until = null where id = $1 and status = 'processing'`, [id]);
}

export async function renewLease(db: Queryable, id: string, leaseSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query(`update generations set lease_until = now() + make_interval(secs => $2) where id = $1 and status = 'processing'`, [
    id,
    leaseSeconds,
  ]);
  return rowCount === 1;
}

/** Open generations nobody is working on (the job was lost, or its processor died): the safety net. */
export async function orphanedGenerations(db: Queryable, olderThanSeconds: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select id from generations
      where (status in ('queued', 'processing') and (lease_until is null or lease_until < now())
             and updated_at < now() - make_interval(secs => $1))
         -- handed back by a processor that stopped (releaseLease): resume at once
         or (status = 'processing' and lease_until is null)
      order by created_at limit $2`,
    [olderThanSeconds, limit],
  );
  return rows.map((r) => r.id);
}

/** Open generations past their deadline whose processor is gone (lease run out): the sweeper fails them. */
export async function overdueGenerations(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select id from generations
      where status in ('queued', 'processing') and deadline_at < now() and (lease_until is null or lease_until < now())
      order by deadline_at limit $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

export type Finish =
  | { status: 'completed'; provider: string; resultKey: string; resultMime: string; creditsCharged: number; degraded?: { reason: string; cssFilter: string } }
  | { status: 'failed'; errorCode: string; errorMessage: string; provider?: string };

/**
 * Ends a generation exactly once, and the attempt that ended it (if any) in the same statement.
 * Returns undefined when it had already ended; otherwise the ended row and whether its owner has a
 * result webhook (read in the same statement, to save a round trip).
 */
export async function finishGeneration(
  db: Queryable,
  id: string,
  finish: Finish,
  attempt?: AttemptEnd,
): Promise<{ row: GenerationRow; webhook: boolean } | undefined> {
  const set =
    finish.status === 'completed'
      ? `status = 'completed', provider = $2, result_key = $3, result_mime = $4, credits_charged = $5, degraded = $6, degraded_reason = $7, css_filter = $8`
      : `status = 'failed', error_code = $2, error_message = $3, provider = coalesce($4, provider), credits_charged = 0`;
  const values =
    finish.status === 'completed'
      ? [
          finish.provider,
          finish.resultKey,
          finish.resultMime,
          finish.creditsCharged,
          finish.degraded !== undefined,
          finish.degraded?.reason ?? null,
          finish.degraded?.cssFilter ?? null,
        ]
      : [finish.errorCode, finish.errorMessage, finish.provider ?? null];
  const { rows } = await db.query<GenerationRow & { webhook: boolean }>(
    `with ended as (
       update generations set ${set}, lease_until = null, updated_at = now(), completed_at = now()
        where id = $1 and status in ('queued', 'processing')
        returning *),
     attempt as (${endAttemptSql(values.length + 2)} and exists (select 1 from ended))
     select ended.*, exists (select 1 from user_webhooks w where w.user_id = ended.user_id) as webhook from ended`,
    [id, ...values, ...attemptValues(attempt)],
  );
  const ended = rows[0];
  if (!ended) return undefined;
  const { webhook, ...row } = ended;
  return { row, webhook };
}

export async function insertAttempt(
  db: Queryable,
  attempt: Pick<AttemptRow, 'id' | 'generation_id' | 'provider' | 'provider_model' | 'cost_units' | 'cost_micro_usd'>,
): Promise<void> {
  await db.query('insert into generation_attempts (id, generation_id, provider, provider_model, cost_units, cost_micro_usd) values ($1, $2, $3, $4, $5, $6)', [
    attempt.id,
    attempt.generation_id,
    attempt.provider,
    attempt.provider_model,
    attempt.cost_units,
    attempt.cost_micro_usd,
  ]);
}

export async function setAttemptTask(db: Queryable, attemptId: string, providerTaskId: string): Promise<void> {
  await db.query('update generation_attempts set provider_task_id = $2 where id = $1', [attemptId, providerTaskId]);
}

export type AttemptEnd = { id: string; ok: true } | { id: string; ok: false; kind: string; message: string; retryable: boolean };

/** The update that ends an attempt, its parameters from `$first`: the attempt (null: none), status, error kind, message, retryable. */
function endAttemptSql(first: number): string {
  const [id, status, kind, message, retryable] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  return `update generation_attempts set status = ${status}, error_kind = ${kind}, error_message = ${message}, retryable = ${retryable}, ended_at = now(),
            latency_ms = (extract(epoch from now() - started_at) * 1000)::int
      where id = ${id} and status = 'running'`;
}

function attemptValues(attempt: AttemptEnd | undefined): unknown[] {
  if (!attempt) return [null, null, null, null, null];
  return attempt.ok ? [attempt.id, 'succeeded', null, null, null] : [attempt.id, 'failed', attempt.kind, attempt.message.slice(0, 1000), attempt.retryable];
}

export async function endAttempt(db: Queryable, attempt: AttemptEnd): Promise<void> {
  await db.query(endAttemptSql(1), attemptValues(attempt));
}

export async function attemptsOf(db: Queryable, generationId: string): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>('select * from generation_attempts where generation_id = $1 order by started_at, id', [generationId]);
  return rows;
}

export async function findAttempt(db: Queryable, attemptId: string): Promise<AttemptRow | undefined> {
  const { rows } = await db.query<AttemptRow>('select * from generation_attempts where id = $1', [attemptId]);
  return rows[0];
}

/**
 * Keeps a callback's news on its attempt. A final status is kept once: a duplicate, or a late
 * "still running" arriving after the end (callbacks come out of order), changes nothing.
 */
export async function recordCallback(db: Queryable, attemptId: string, status: StoredStatus, providerTaskId?: string): Promise<boolean> {
  // The task id too when the submit's answer was lost: the processor needs it to confirm the news.
  const { rowCount } = await db.query(
    `update generation_attempts set callback_status = $2, provider_task_id = coalesce(provider_task_id, $3)
      where id = $1 and status = 'running' and (callback_status is null or callback_status->>'state' = 'pending')`,
    [attemptId, JSON.stringify(status), providerTaskId ?? null],
  );
  return rowCount === 1;
}
