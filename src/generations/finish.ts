// Ending a generation: the status change, the attempt's end, the ledger movement and the user's webhook
// job commit in one transaction, so a crash leaves either all of it or none (and the next processor
// finishes the job). The transaction may run twice (credits.transaction), so it does only database work. Settling follows docs/rules.md §3: post the user's hold and move the pool that paid.
import type { Client } from '../db/pool.ts';
import { isLedgerError } from '../ledger/index.ts';
import { QUEUES } from '../queue/index.ts';
import type { ProcessorDeps } from './deps.ts';
import { finishGeneration, type AttemptEnd, type GenerationRow } from './repository.ts';
import type { RouteCandidate } from './router.ts';

export interface StoredResult {
  key: string;
  mime: string;
}

/** Who did the work that is being paid for. */
export type Payer = { route: RouteCandidate } | { local: true };

/** Each returns the ended row, or undefined when the generation had already ended (someone else finished it). */
type Ended = Promise<GenerationRow | undefined>;

export async function completeGeneration(
  deps: ProcessorDeps,
  input: { generation: GenerationRow; attemptId?: string; payer: Payer; result: StoredResult },
): Ended {
  const { generation } = input;
  const provider = 'route' in input.payer ? input.payer.route.provider : 'local';
  const split = generation.hold_split ?? undefined;
  return deps.credits
    .transaction(async (client) => {
      let charged = generation.credits_held;
      const settled = await tolerateEndedHold(deps, generation, () => {
        if ('route' in input.payer && input.payer.route.pool) {
          return deps.credits.settle({ hold: generation.hold_key, provider: input.payer.route.pool, units: input.payer.route.units, client, split });
        }
        return deps.credits.settleWithoutPool({ hold: generation.hold_key, client, split });
      });
      if (!settled) charged = 0;
      const attempt: AttemptEnd | undefined = input.attemptId ? { id: input.attemptId, ok: true } : undefined;
      const ended = await finishGeneration(
        client,
        generation.id,
        { status: 'completed', provider, resultKey: input.result.key, resultMime: input.result.mime, creditsCharged: charged },
        attempt,
      );
      if (!ended) throw new AlreadyEnded();
      if (ended.webhook) await enqueueWebhook(deps, client, generation);
      return ended.row;
    })
    .catch(ignoreAlreadyEnded);
}

/** Every AI provider failed: the local adjustment is delivered, marked degraded, and the hold voided (free). */
export async function completeDegraded(
  deps: ProcessorDeps,
  input: { generation: GenerationRow; result: StoredResult; reason: string; cssFilter: string },
): Ended {
  const { generation } = input;
  return deps.credits
    .transaction(async (client) => {
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
      return ended.row;
    })
    .catch(ignoreAlreadyEnded);
}

/** The work failed: the hold is voided (the user's refund) and the attempt, if one was running, ends. */
/** `message` is what the user reads; `detail` (the provider's own words, for admins) goes on the attempt. */
export async function failGeneration(
  deps: ProcessorDeps,
  input: { generation: GenerationRow; code: string; message: string; detail?: string; provider?: string; attemptId?: string; retryable?: boolean },
): Ended {
  const { generation } = input;
  return deps.credits
    .transaction(async (client) => {
      await tolerateEndedHold(deps, generation, () => deps.credits.refund({ hold: generation.hold_key, client }));
      const attempt: AttemptEnd | undefined = input.attemptId
        ? { id: input.attemptId, ok: false, kind: input.code, message: input.detail ?? input.message, retryable: input.retryable ?? false }
        : undefined;
      const ended = await finishGeneration(
        client,
        generation.id,
        { status: 'failed', errorCode: input.code, errorMessage: input.message, provider: input.provider },
        attempt,
      );
      if (!ended) throw new AlreadyEnded();
      if (ended.webhook) await enqueueWebhook(deps, client, generation);
      return ended.row;
    })
    .catch(ignoreAlreadyEnded);
}

class AlreadyEnded extends Error {}

function ignoreAlreadyEnded(error: unknown): undefined {
  if (error instanceof AlreadyEnded) return undefined;
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
    deps.log.warn(
      { generationId: generation.id, hold: generation.hold_key, err: error },
      'the credit hold had already ended; the generation ends without charging',
    );
    return false;
  }
}

async function enqueueWebhook(deps: ProcessorDeps, client: Client, generation: GenerationRow): Promise<void> {
  await deps.queue.sendIn(client, QUEUES.webhook, { generationId: generation.id });
}
