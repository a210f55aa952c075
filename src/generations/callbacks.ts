// Provider callbacks: POST /api/webhooks/providers/{provider}?attempt=ID&expires=E&token=T. The token
// (our own HMAC of provider, generation, attempt and expiry, put in the callback URL we gave) is
// checked for every provider; where a provider signs, its signature is checked too. A callback only
// records news on its attempt and wakes the processor waiting on it, which confirms the news with the
// provider before settling; polling covers callbacks that never come.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CallbackRequest, ProviderName } from '../providers/types.ts';
import { isProviderError } from '../providers/types.ts';
import { toStored } from './attempt.ts';
import type { ProcessorDeps } from './deps.ts';
import { GenerationError } from './errors.ts';
import { CALLBACK_CHANNEL } from './notifier.ts';
import { findAttempt, recordCallback } from './repository.ts';

/** How long after the generation's deadline its callback URLs still work (a late word is still news). */
const CALLBACK_GRACE_MS = 15 * 60_000;

export interface CallbackScope {
  provider: ProviderName;
  generationId: string;
  attemptId: string;
  /** Unix seconds after which the URL is refused. */
  expires: number;
}

/** Our HMAC over everything the URL is good for: one provider, one generation's attempt, until `expires`. */
export function callbackToken(secret: string, scope: CallbackScope): string {
  return createHmac('sha256', secret).update(`callback:v2:${scope.provider}:${scope.generationId}:${scope.attemptId}:${scope.expires}`).digest('base64url');
}

export function callbackUrl(input: {
  publicUrl: string;
  secret: string;
  provider: ProviderName;
  generationId: string;
  attemptId: string;
  deadline: Date;
}): string {
  const expires = Math.ceil((input.deadline.getTime() + CALLBACK_GRACE_MS) / 1000);
  const url = new URL(`/api/webhooks/providers/${input.provider}`, input.publicUrl);
  url.searchParams.set('attempt', input.attemptId);
  url.searchParams.set('expires', String(expires));
  url.searchParams.set(
    'token',
    callbackToken(input.secret, { provider: input.provider, generationId: input.generationId, attemptId: input.attemptId, expires }),
  );
  return url.toString();
}

export type CallbackOutcome = 'recorded' | 'ignored';

/**
 * A callback only wakes the processor: what it says is recorded on the attempt, and the processor
 * settles nothing until the provider's own status endpoint confirms it (see awaitTask). So a callback
 * forged with a leaked URL, or a provider signature that does not cover the body, cannot complete or
 * refund a task on its own.
 */
export async function receiveCallback(
  deps: ProcessorDeps & { signingSecret: string },
  input: { provider: ProviderName; request: CallbackRequest },
): Promise<CallbackOutcome> {
  const { attempt: attemptId, token, expires } = input.request.query;
  const refused = () => new GenerationError('bad_callback', 'The callback does not carry a valid, unexpired token for this provider.');
  if (!attemptId || !token || !expires || !/^\d{1,12}$/.test(expires) || Number(expires) * 1000 < Date.now()) throw refused();
  const attempt = await findAttempt(deps.pool, attemptId);
  const scope = attempt && { provider: input.provider, generationId: attempt.generation_id, attemptId, expires: Number(expires) };
  if (!attempt || attempt.provider !== input.provider || !safeEqual(token, callbackToken(deps.signingSecret, scope!))) throw refused();
  const adapter = deps.adapters.get(input.provider);
  if (!adapter?.parseCallback) throw new GenerationError('not_found', `${input.provider} callbacks are not accepted here.`);
  let event;
  try {
    event = await adapter.parseCallback(input.request);
  } catch (error) {
    if (isProviderError(error, 'bad_signature')) throw new GenerationError('bad_callback', `The ${input.provider} callback signature does not verify.`);
    if (isProviderError(error)) throw new GenerationError('bad_input', `The ${input.provider} callback could not be read: ${error.message}`);
    throw error;
  }
  if (attempt.provider_task_id && attempt.provider_task_id !== event.providerTaskId)
    throw new GenerationError('bad_input', 'The callback is for another task than this attempt.');
  if (event.status.state === 'pending') return 'ignored';
  const recorded = await recordCallback(deps.pool, attemptId, toStored(event.status), event.providerTaskId);
  if (recorded) {
    await deps.pool.query('select pg_notify($1, $2)', [CALLBACK_CHANNEL, attemptId]);
    deps.notifier.wake(attemptId);
  }
  return recorded ? 'recorded' : 'ignored';
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
