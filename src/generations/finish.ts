// Ending a generation: the status change, the attempt's end, the ledger movement and the user's webhook
// job commit in one transaction, so a crash leaves either all of it or none (and the next processor
// finishes the job). Settling follows SPEC §1.3: post the user's hold and move the pool that paid.
import { withTransaction, type Client } from '../db/pool.ts';
import { isLedgerError } from '../ledger/index.ts';
import { QUEUES } from '../queue/index.ts';
import type { ProcessorDeps } from './deps.ts';
import { endAttempt, finishGeneration, type GenerationRow } from './repository.ts';
import type { RouteCandidate } from './router.ts';

export interface StoredResult {
  key: string;
  mime: string;
}

/** Who did the work that is being paid for. */
export type Payer = { route: RouteCandidate } | { local: true };

export async function completeGeneration(deps: ProcessorDeps, input: { generation: GenerationRow; attemptId?: string; payer: Payer; result: StoredResult }): Promise<boolean> {
  const { generation } = input;
  const provider = 'route' in input.payer ? input.payer.route.provider : 'local';
  return withTransaction(deps.pool, async (client) => {
    let charged = generation.credits_held;
    const settled = await tolerateEndedHold(deps, generation, () => {
      if ('route' in input.payer && input.payer.route.pool) {
        return deps.credits.settle({ hold: generation.hold_key, provider: input.payer.route.pool, units: input.payer.route.units, client });
      }
      return deps.credits.settleWithoutPool({ hold: generation.hold_key, client });
    });
    if (!settled) charged = 0;
    const ended = await finishGeneration(client, generation.id, { status: 'completed', provider, resultKey: input.result.key, resultMime: input.result.mime, creditsCharged: charged });
    if (!ended) throw new AlreadyEnded();
    if (input.attemptId) await endAttempt(client, input.attemptId, { ok: true });
    if (ended.webhook) await enqueueWebhook(deps, client, generation);
    return true;
  }).catch(ignoreAlreadyEnded);
}

/** Every AI provider failed: the local adjustment is delivered, marked degraded, and the hold voided (free). */
export async function completeDegraded(deps: ProcessorDeps, input: { generation: GenerationRow; result: StoredResult; reason: string; cssFilter: string }): Promise<boolean> {
  const { generation } = input;
  return withTransaction(deps.pool, async (client) => {
    await tolerateEndedHold(deps, generation, () => deps.credits.refund({ hold: generation.hold_key, client }));
    const ended = await finishGeneration(client, generation.id, {
      status: 'completed',
      provider: 'local',
      resultKey: input.result.key,
      resultMime: input.result.mime,
      creditsCharged: 0,
      degraded: { reason: input.reason, cssFilter: input.cssFilter },
    });
    if (!ended) throw new AlreadyEnded();
    if (ended.webhook) await enqueueWebhook(deps, client, generation);
    return true;
  }).catch(ignoreAlreadyEnded);
}

/** The work failed: the hold is voided (the user's refund) and the attempt, if one was running, ends. */
export async function failGeneration(deps: ProcessorDeps, input: { generation: GenerationRow; code: string; message: string; provider?: string; attemptId?: string; retryable?: boolean }): Promise<boolean> {
  const { generation } = input;
  return withTransaction(deps.pool, async (client) => {
    await tolerateEndedHold(deps, generation, () => deps.credits.refund({ hold: generation.hold_key, client }));
    const ended = await finishGeneration(client, generation.id, { status: 'failed', errorCode: input.code, errorMessage: input.message, provider: input.provider });
    if (!ended) throw new AlreadyEnded();
    if (input.attemptId) await endAttempt(client, input.attemptId, { ok: false, kind: input.code, message: input.message, retryable: input.retryable ?? false });
    if (ended.webhook) await enqueueWebhook(deps, client, generation);
    return true;
  }).catch(ignoreAlreadyEnded);
}

class AlreadyEnded extends Error {}

function ignoreAlreadyEnded(error: unknown): false {
  if (error instanceof AlreadyEnded) return false;
  throw error;
}

/**
 * Runs a ledger step that may find the hold already ended (it expired, or a sweeper voided it): the
 * generation still ends, and the user is not charged. A ledger refusal is an answer, not an SQL error,
 * so the transaction stays usable. Returns whether the step applied.
 */
async function tolerateEndedHold(deps: ProcessorDeps, generation: GenerationRow, step: () => Promise<void>): Promise<boolean> {
  try {
    await step();
    return true;
  } catch (error) {
    if (!isLedgerError(error)) throw error;
    deps.log.warn({ generationId: generation.id, hold: generation.hold_key, err: error }, 'the credit hold had already ended; the generation ends without charging');
    return false;
  }
}

async function enqueueWebhook(deps: ProcessorDeps, client: Client, generation: GenerationRow): Promise<void> {
  await deps.queue.sendIn(client, QUEUES.webhook, { generationId: generation.id });
}
