// One try at one provider: record the attempt, submit, then wait for the end — by the provider's
// callback (woken through the notifier) or by polling its status — and keep the result. A task a crashed
// processor left running is resumed here too, from the provider task id recorded on the attempt.
import { newId } from '../lib/id.ts';
import { isProviderError, ProviderError, type ProviderAdapter, type ProviderName, type SubmitRequest, type TaskStatus } from '../providers/types.ts';
import type { ProcessorDeps } from './deps.ts';
import { StoppingError } from './errors.ts';
import { InputUnusableError, storeOutput, type InputImage } from './files.ts';
import type { StoredResult } from './finish.ts';
import { findAttempt, insertAttempt, setAttemptTask, type AttemptRow, type GenerationRow, type StoredStatus } from './repository.ts';
import type { RouteCandidate } from './router.ts';

export type AttemptOutcome = { ok: true; attemptId: string; result: StoredResult } | { ok: false; attemptId: string; error: ProviderError };

/** Providers that take input images only inline; every other one gets URLs. */
const INLINE_ONLY: ReadonlySet<ProviderName> = new Set(['gemini']);

export async function attemptProvider(
  deps: ProcessorDeps,
  input: { generation: GenerationRow; route: RouteCandidate; input: () => Promise<InputImage | undefined> },
): Promise<AttemptOutcome> {
  const { generation, route } = input;
  const adapter = deps.adapters.get(route.provider)!;
  const attemptId = newId('att');
  const recorded = insertAttempt(deps.pool, {
    id: attemptId,
    generation_id: generation.id,
    provider: route.provider,
    provider_model: route.model,
    cost_units: route.units,
    cost_micro_usd: route.costMicroUsd,
  });
  // The row is written before the provider is called, so a processor that dies leaves a trace of the
  // task to resume. A synchronous provider leaves no task to resume: its row is written alongside the
  // call (a round trip off the way) and awaited before the attempt can end.
  if (adapter.synchronous) recorded.catch(() => undefined);
  else await recorded;
  try {
    const request = await buildRequest(deps, { generation, route, adapter, attemptId, input: input.input });
    const submitted = await adapter.submit(request);
    await recorded;
    let status: TaskStatus;
    if (submitted.state === 'completed') {
      status = { state: 'completed', outputs: submitted.outputs };
    } else {
      await setAttemptTask(deps.pool, attemptId, submitted.providerTaskId);
      status = await awaitTask(deps, { generation, adapter, attemptId, providerTaskId: submitted.providerTaskId });
    }
    return { ok: true, attemptId, result: await resultOf(deps, generation, route.provider, status) };
  } catch (error) {
    await recorded;
    return { ok: false, attemptId, error: asProviderError(route.provider, error) };
  }
}

/** Picks up an attempt a previous processor left running. */
export async function resumeAttempt(deps: ProcessorDeps, input: { generation: GenerationRow; attempt: AttemptRow }): Promise<AttemptOutcome> {
  const { generation, attempt } = input;
  const adapter = deps.adapters.get(attempt.provider);
  try {
    if (!adapter) throw new ProviderError(attempt.provider, 'unavailable', `${attempt.provider} is no longer configured`);
    if (!attempt.provider_task_id && !isFinal(attempt.callback_status)) {
      // The processor stopped between submitting and hearing back: whether the provider took the task is unknown.
      throw new ProviderError(attempt.provider, 'unavailable', 'the processor stopped before the provider acknowledged the task');
    }
    const status = await awaitTask(deps, { generation, adapter, attemptId: attempt.id, providerTaskId: attempt.provider_task_id ?? undefined });
    return { ok: true, attemptId: attempt.id, result: await resultOf(deps, generation, attempt.provider, status) };
  } catch (error) {
    return { ok: false, attemptId: attempt.id, error: asProviderError(attempt.provider, error) };
  }
}

async function resultOf(deps: ProcessorDeps, generation: GenerationRow, provider: ProviderName, status: TaskStatus): Promise<StoredResult> {
  if (status.state === 'failed') throw status.error;
  if (status.state !== 'completed' || status.outputs.length === 0)
    throw new ProviderError(provider, 'protocol', 'the provider reported completion without an output');
  return storeOutput(deps, { generation, provider, output: status.outputs[0]! });
}

async function buildRequest(
  deps: ProcessorDeps,
  input: { generation: GenerationRow; route: RouteCandidate; adapter: ProviderAdapter; attemptId: string; input: () => Promise<InputImage | undefined> },
): Promise<SubmitRequest> {
  const { generation, route, adapter } = input;
  const inline = INLINE_ONLY.has(route.provider) && (generation.input_url || generation.input_key) ? await input.input() : undefined;
  const imageUrls = INLINE_ONLY.has(route.provider) ? [] : await inputUrls(deps, generation);
  return {
    generationId: generation.id,
    model: route.model,
    prompt: generation.prompt,
    imageUrls,
    images: inline ? [inline] : [],
    callbackUrl: adapter.supportsCallbacks
      ? deps.callbackUrl({ provider: route.provider, generationId: generation.id, attemptId: input.attemptId, deadline: generation.deadline_at })
      : undefined,
    aspectRatio: typeof generation.params.aspectRatio === 'string' ? generation.params.aspectRatio : undefined,
  };
}

/** URL-only providers fetch inputs themselves: a signed, expiring link to the copy we keep (the user's URL only if we have none). */
async function inputUrls(deps: ProcessorDeps, generation: GenerationRow): Promise<string[]> {
  if (generation.input_key) return [await deps.store.url({ key: generation.input_key, expiresInSeconds: deps.config.storage.linkTtlSeconds })];
  if (generation.input_url) return [generation.input_url];
  return [];
}

/**
 * Waits for a task's end until the generation's deadline: each round looks for a callback's news on
 * the attempt, asks the provider when a poll is due, and sleeps until the next poll or a callback.
 * A callback is only a wake-up: its news makes a poll due at once, and only the provider's own answer
 * settles the task (a callback that says more than the provider does is not believed).
 */
async function awaitTask(
  deps: ProcessorDeps,
  input: { generation: GenerationRow; adapter: ProviderAdapter; attemptId: string; providerTaskId?: string },
): Promise<TaskStatus> {
  const { adapter, attemptId } = input;
  const interval = deps.config.generations.pollIntervalMs;
  let nextPoll = Date.now() + (adapter.supportsCallbacks ? interval : Math.min(interval, 250));
  let newsSeen = false;
  let confirming = false;
  for (;;) {
    if (deps.stopping.aborted) throw new StoppingError();
    const attempt = await findAttempt(deps.pool, attemptId);
    const providerTaskId = input.providerTaskId ?? attempt?.provider_task_id ?? undefined;
    if (attempt && isFinal(attempt.callback_status) && !newsSeen) {
      newsSeen = confirming = true; // ask at once; then the usual polls until the provider agrees
      nextPoll = Date.now();
    }
    const now = Date.now();
    if (now >= input.generation.deadline_at.getTime())
      throw new ProviderError(adapter.name, 'timeout', 'the provider did not finish before the generation deadline');
    if (providerTaskId && now >= nextPoll) {
      try {
        const status = await adapter.status(providerTaskId, { signal: deps.stopping });
        if (status.state !== 'pending') return status;
        if (confirming)
          deps.log.warn({ attemptId, provider: adapter.name }, 'a callback reported an end the provider does not confirm: waiting for the provider');
        confirming = false;
      } catch (error) {
        if (deps.stopping.aborted) throw new StoppingError();
        // A hiccup while polling is not the task failing: keep waiting until the deadline. Nor is a
        // task the provider does not know yet right after submit (Kie's 422 "recordInfo is null"):
        // abandoning it would pay a second provider for work the first one bills.
        const notVisibleYet =
          isProviderError(error, 'not_found') &&
          attempt !== undefined &&
          Date.now() - attempt.started_at.getTime() < deps.config.generations.taskVisibilityGraceSeconds * 1000;
        if (!notVisibleYet && (!isProviderError(error) || !['unavailable', 'timeout', 'rate_limited'].includes(error.kind))) throw error;
      }
      nextPoll = Date.now() + interval;
    }
    await deps.notifier.wait(attemptId, Math.min(nextPoll, input.generation.deadline_at.getTime()) - Date.now(), deps.stopping);
  }
}

function isFinal(status: StoredStatus | null): status is Exclude<StoredStatus, { state: 'pending' }> {
  return status !== null && status.state !== 'pending';
}

/** A provider status as the database keeps it (inline bytes are never sent by callback). */
export function toStored(status: TaskStatus): StoredStatus {
  if (status.state === 'pending') return { state: 'pending' };
  if (status.state === 'failed')
    return { state: 'failed', error: { kind: status.error.kind, message: status.error.message, retryable: status.error.retryable } };
  return { state: 'completed', urls: status.outputs.flatMap((o) => ('url' in o ? [o.url] : [])) };
}

function asProviderError(provider: ProviderName, error: unknown): ProviderError {
  if (error instanceof StoppingError) throw error;
  if (error instanceof ProviderError) return error;
  if (error instanceof InputUnusableError) return new ProviderError(provider, 'bad_input', error.message);
  throw error;
}
