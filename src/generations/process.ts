// Running one generation to its end (docs/rules.md §5): claim it, resume an attempt left running, try the
// providers the router admits in priority order (a retryable failure moves on, a non-retryable one
// fails the generation), and when no AI provider could do it, deliver the local adjustment, degraded
// and free. Every path ends in finish.ts, exactly once.
import { adjustImage, cssFilterFor, ENHANCEMENT_TYPES, type EnhancementType } from '../providers/local/adjust.ts';
import { ProviderError } from '../providers/types.ts';
import { attemptProvider, resumeAttempt, type AttemptOutcome } from './attempt.ts';
import type { ProcessorDeps } from './deps.ts';
import { InputUnusableError, loadInput, storeImage, type InputImage } from './files.ts';
import { completeDegraded, completeGeneration, failGeneration } from './finish.ts';
import { StoppingError } from './errors.ts';
import { attemptsOf, claimGeneration, endAttempt, releaseLease, renewLease, type GenerationRow } from './repository.ts';
import type { RouteCandidate } from './router.ts';

/**
 * How processing ended: skipped (another processor holds it, or it had ended), or ended here, with
 * the ended row (undefined when someone else ended it first, e.g. the sweeper).
 */
export type ProcessResult = { outcome: 'skipped' } | { outcome: 'completed' | 'failed'; row: GenerationRow | undefined };

/**
 * Claims the generation and runs it to its end. `claimed`: the caller already holds its lease (a
 * generation submitted for the sync API is written claimed), so there is nothing to claim.
 */
export async function processGeneration(deps: ProcessorDeps, generationId: string, claimed?: GenerationRow): Promise<ProcessResult> {
  const { leaseSeconds } = deps.config.generations;
  const generation = claimed ? { ...claimed, resumed: false } : await claimGeneration(deps.pool, generationId, leaseSeconds);
  if (!generation) return { outcome: 'skipped' };
  // Keep the lease while working; if this process dies, it runs out and another processor resumes.
  const renewal = setInterval(() => void renewLease(deps.pool, generationId, leaseSeconds).catch(() => undefined), (leaseSeconds * 1000) / 3);
  renewal.unref();
  try {
    return await run(deps, generation);
  } catch (error) {
    if (!(error instanceof StoppingError)) throw error;
    // Stopping: hand the generation back at once (its attempt is recorded) for the next processor.
    await releaseLease(deps.pool, generationId);
    return { outcome: 'skipped' };
  } finally {
    clearInterval(renewal);
  }
}

const OUT_OF_TIME = { code: 'timeout', message: 'The generation did not finish in time; the credit was refunded.' } as const;

function pastDeadline(generation: GenerationRow): boolean {
  return generation.deadline_at.getTime() <= Date.now();
}

async function run(deps: ProcessorDeps, generation: GenerationRow & { resumed: boolean }): Promise<ProcessResult> {
  if (pastDeadline(generation)) return fail(deps, generation, OUT_OF_TIME);
  let input: Promise<InputImage | undefined> | undefined;
  const lazyInput = () => (input ??= loadInput(deps, generation));
  const failures: ProviderError[] = [];

  const attempts = generation.resumed ? await attemptsOf(deps.pool, generation.id) : [];
  const tried = new Set<string>(attempts.map((a) => a.provider));
  for (const a of attempts)
    if (a.status === 'failed') failures.push(new ProviderError(a.provider, (a.error_kind ?? 'unavailable') as ProviderError['kind'], a.error_message ?? ''));
  const running = attempts.find((a) => a.status === 'running');
  if (running) {
    const route = deps.router.routeFor(generation.model_id, running.provider);
    const decided = await conclude(deps, generation, route, await resumeAttempt(deps, { generation, attempt: running }), failures);
    if (decided) return decided;
  }

  if (deps.localOnly) return runLocal(deps, generation, lazyInput, { charged: true });

  for (;;) {
    const candidates = await deps.router.candidates(generation.model_id, tried);
    let chosen;
    for (const candidate of candidates) {
      const admission = await deps.router.admit(candidate);
      if (admission.admitted) {
        chosen = candidate;
        break;
      }
      deps.log.debug({ generationId: generation.id, provider: candidate.provider, reason: admission.reason }, 'provider skipped');
    }
    if (!chosen) break;
    if (pastDeadline(generation)) return fail(deps, generation, OUT_OF_TIME);
    tried.add(chosen.provider);
    const outcome = await attemptProvider(deps, { generation, route: chosen, input: lazyInput });
    const decided = await conclude(deps, generation, chosen, outcome, failures);
    if (decided) return decided;
  }
  // Work that ran out of time (a provider still busy at the deadline) is failed and refunded, as every
  // deadline is: the free local fallback is for providers that failed, not for ones that were slow.
  if (pastDeadline(generation)) return fail(deps, generation, OUT_OF_TIME);
  const reason = failures.length
    ? `Every AI provider failed (${failures.map((f) => `${f.provider}: ${f.kind}`).join('; ')}); a basic local adjustment was applied instead, free of charge.`
    : 'No AI provider could take the work (unavailable, cooling down or out of credit); a basic local adjustment was applied instead, free of charge.';
  return runLocal(deps, generation, lazyInput, { charged: false, reason });
}

/** Records a finished attempt; returns the generation's end when the attempt decided it. */
async function conclude(
  deps: ProcessorDeps,
  generation: GenerationRow,
  route: RouteCandidate | undefined,
  outcome: AttemptOutcome,
  failures: ProviderError[],
): Promise<ProcessResult | undefined> {
  if (outcome.ok) {
    const row = await completeGeneration(deps, {
      generation,
      attemptId: outcome.attemptId,
      payer: route ? { route } : { local: true },
      result: outcome.result,
    });
    if (route) await deps.router.recordOutcome(route.provider);
    return { outcome: 'completed', row };
  }
  const { error } = outcome;
  if (!error.retryable) {
    const row = await failGeneration(deps, {
      generation,
      code: error.kind,
      message: userMessage(error),
      detail: error.message,
      provider: error.provider,
      attemptId: outcome.attemptId,
      retryable: false,
    });
    return { outcome: 'failed', row };
  }
  await endAttempt(deps.pool, { id: outcome.attemptId, ok: false, kind: error.kind, message: error.message, retryable: true });
  if (route) await deps.router.recordOutcome(route.provider, error);
  failures.push(error);
  return undefined;
}

async function runLocal(
  deps: ProcessorDeps,
  generation: GenerationRow,
  input: () => Promise<InputImage | undefined>,
  mode: { charged: true } | { charged: false; reason: string },
): Promise<ProcessResult> {
  let image: InputImage | undefined;
  try {
    image = await input();
  } catch (error) {
    if (error instanceof InputUnusableError) return fail(deps, generation, { code: 'bad_input', message: error.message });
    throw error;
  }
  if (!image) {
    const message = mode.charged
      ? 'The local provider adjusts an input image and this request has none. Configure an AI provider to generate from a prompt alone; the credit was refunded.'
      : `${mode.reason.replace(/; a basic local.*$/, '')}. There is no input image for a local adjustment; the credit was refunded.`;
    return fail(deps, generation, { code: mode.charged ? 'no_input' : 'providers_failed', message });
  }
  const type: EnhancementType = (ENHANCEMENT_TYPES as readonly string[]).includes(generation.enhancement_type ?? '')
    ? (generation.enhancement_type as EnhancementType)
    : 'custom';
  // No strength given: the full recipe (the CSS filter then reads exactly as docs/rules.md §5 shows it).
  const strength = generation.strength ?? 1;
  const adjusted = await adjustImage(image.data, type, strength, { maxPixels: deps.config.generations.maxImagePixels });
  const result = await storeImage(deps, { generation, data: adjusted.image, provider: 'local' });
  const row = mode.charged
    ? await completeGeneration(deps, { generation, payer: { local: true }, result })
    : await completeDegraded(deps, { generation, result, reason: mode.reason, cssFilter: cssFilterFor(type, strength) });
  return { outcome: 'completed', row };
}

async function fail(deps: ProcessorDeps, generation: GenerationRow, input: { code: string; message: string }): Promise<ProcessResult> {
  return { outcome: 'failed', row: await failGeneration(deps, { generation, ...input }) };
}

/**
 * What the user is told: a plain reason by kind, never the provider's own text (it can carry internal
 * details, and is not written for end users). Admins read that text on the attempt, in
 * GET /v1/admin/generations/{id}.
 */
export function userMessage(error: Pick<ProviderError, 'kind'>): string {
  if (error.kind === 'content_policy') return 'The provider refused this prompt or image under its content rules; the credit was refunded.';
  if (error.kind === 'bad_input') return 'The provider could not use this image or prompt (check its format, size and length); the credit was refunded.';
  return 'The provider could not complete the generation; the credit was refunded.';
}
