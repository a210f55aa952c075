// Provider callbacks: POST /api/webhooks/providers/{provider}?attempt=ID&token=T. The token (our own
// HMAC of provider and attempt, put in the callback URL we gave) authenticates providers that do not
// sign; where a provider signs, its signature is checked too. A callback only records news on its
// attempt and wakes the processor waiting on it; polling covers callbacks that never come.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CallbackRequest, ProviderName } from '../providers/types.ts';
import { isProviderError } from '../providers/types.ts';
import { toStored } from './attempt.ts';
import type { ProcessorDeps } from './deps.ts';
import { GenerationError } from './errors.ts';
import { CALLBACK_CHANNEL } from './notifier.ts';
import { findAttempt, recordCallback } from './repository.ts';

export function callbackToken(secret: string, provider: string, attemptId: string): string {
  return createHmac('sha256', secret).update(`callback:${provider}:${attemptId}`).digest('base64url');
}

export function callbackUrl(input: { publicUrl: string; secret: string; provider: ProviderName; attemptId: string }): string {
  const url = new URL(`/api/webhooks/providers/${input.provider}`, input.publicUrl);
  url.searchParams.set('attempt', input.attemptId);
  url.searchParams.set('token', callbackToken(input.secret, input.provider, input.attemptId));
  return url.toString();
}

export type CallbackOutcome = 'recorded' | 'ignored';

export async function receiveCallback(deps: ProcessorDeps & { signingSecret: string }, input: { provider: ProviderName; request: CallbackRequest }): Promise<CallbackOutcome> {
  const { attempt: attemptId, token } = input.request.query;
  if (!attemptId || !token || !safeEqual(token, callbackToken(deps.signingSecret, input.provider, attemptId))) {
    throw new GenerationError('bad_callback', 'The callback does not carry a valid token for this provider.');
  }
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
  const attempt = await findAttempt(deps.pool, attemptId);
  if (!attempt || attempt.provider !== input.provider) throw new GenerationError('not_found', 'No such attempt.');
  if (attempt.provider_task_id && attempt.provider_task_id !== event.providerTaskId) throw new GenerationError('bad_input', 'The callback is for another task than this attempt.');
  if (event.status.state === 'pending') return 'ignored';
  const recorded = await recordCallback(deps.pool, attemptId, toStored(event.status));
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
