// fal quirks the contract suite does not reach: queue URLs under the app only, both error shapes,
// webhook signature edge cases, the JWKS cache, and result-stage failures.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFalFake, type FalFake } from '../../../test/fakes/fal.ts';
import { isProviderError, type CallbackRequest, type ProviderAdapter, type ProviderError, type SubmitRequest } from '../types.ts';
import { createFalAdapter, FAL_APP_QUERY_KEY, type FalOptions } from './index.ts';

let fake: FalFake;
beforeAll(async () => (fake = await startFalFake()));
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const adapterFor = (overrides: Partial<FalOptions> = {}): ProviderAdapter =>
  createFalAdapter({
    baseUrl: fake.url,
    apiBaseUrl: fake.url,
    jwksUrl: fake.jwksUrl,
    apiKey: fake.apiKey,
    adminKey: fake.adminKey,
    timeoutMs: 2_000,
    ...overrides,
  });
const request = (overrides: Partial<SubmitRequest> = {}): SubmitRequest => ({
  generationId: 'gen_1',
  model: 'fal-ai/nano-banana/edit',
  prompt: 'a lighthouse at dusk',
  imageUrls: [`${fake.url}/files/input.png?expires=${Date.now() + 60_000}`],
  images: [],
  ...overrides,
});
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected a failure'),
    (error: unknown) => error as ProviderError,
  );

/** A webhook as it reaches our route: fal's signed body, with the query our URL carried. */
function webhook(
  body: Record<string, unknown>,
  options: { query?: Record<string, string>; timestamp?: number; headers?: Record<string, string> } = {},
): CallbackRequest {
  const rawBody = JSON.stringify(body);
  return {
    rawBody: Buffer.from(rawBody),
    query: options.query ?? {},
    headers: { ...fake.signWebhook(rawBody, String(body.request_id), options.timestamp), ...options.headers },
  };
}
const okBody = (requestId: string) => ({
  request_id: requestId,
  gateway_request_id: requestId,
  status: 'OK',
  payload: { images: [{ url: `${fake.url}/files/x.png`, content_type: 'image/png' }] },
  error: null,
});

describe('fal queue URLs', () => {
  it('submits under the model id and polls under the app the answer names', async () => {
    const adapter = adapterFor();
    const submitted = await adapter.submit(request({ callbackUrl: 'https://tally.example/api/webhooks/providers/fal?attempt=a1&token=t' }));
    if (submitted.state !== 'pending') throw new Error('expected pending');
    expect(submitted.providerTaskId).toMatch(/^fal-ai\/nano-banana\/requests\/[\w-]+$/);
    const submit = fake.requests.find((r) => r.method === 'POST')!;
    expect(submit.path.startsWith('/fal-ai/nano-banana/edit?fal_webhook=')).toBe(true);
    const webhookUrl = new URL(new URL(submit.path, fake.url).searchParams.get('fal_webhook')!);
    expect(Object.fromEntries(webhookUrl.searchParams)).toEqual({ attempt: 'a1', token: 't', [FAL_APP_QUERY_KEY]: 'fal-ai/nano-banana' });
    expect(JSON.parse(submit.body)).toMatchObject({ prompt: 'a lighthouse at dusk', num_images: 1, output_format: 'png' });
    expect((await adapter.status(submitted.providerTaskId)).state).toBe('completed');
  });

  it('is a fake a naive adapter fails on: the status URL under the full model id is unknown', async () => {
    const submitted = await adapterFor().submit(request());
    const requestId = submitted.providerTaskId.split('/').pop();
    const naive = await fetch(`${fake.url}/fal-ai/nano-banana/edit/requests/${requestId}/status`, { headers: { authorization: `Key ${fake.apiKey}` } });
    expect(naive.status).toBe(404);
  });
});

describe('fal errors', () => {
  it('reads both 422 shapes, typed items and a plain string, as bad_input', async () => {
    fake.set({ failure: 'bad_input' });
    const errors = [await failure(adapterFor().submit(request())), await failure(adapterFor().submit(request()))];
    expect(errors.map((e) => e.kind)).toEqual(['bad_input', 'bad_input']);
    expect(errors.map((e) => e.retryable)).toEqual([false, false]);
    // One message came from `detail[].msg`, the other from the `detail` string.
    expect(new Set(errors.map((e) => e.message)).size).toBe(2);
  });

  it('tells an exhausted balance from a refused key, both 403', async () => {
    fake.answerWith({ status: 403, body: { detail: 'User is locked. Reason: Exhausted balance. Top up.' } });
    expect((await failure(adapterFor().submit(request()))).kind).toBe('insufficient_balance');
    fake.answerWith({ status: 403, body: { detail: 'Forbidden' } });
    expect((await failure(adapterFor().submit(request()))).kind).toBe('unauthorized');
  });

  it('a stored model error is the task failing; a bare gateway error on the result is only a hiccup', async () => {
    const taskId = 'fal-ai/nano-banana/requests/r1';
    fake.answerWith({ path: /\/requests\/r1\/status$/, status: 200, body: { status: 'COMPLETED', request_id: 'r1' } });
    /** The status route keeps answering COMPLETED; the result route answers this. */
    const result = (status: number, body: unknown) => {
      fake.answerWith({ path: /\/requests\/r1$/, status, body });
      return adapterFor();
    };
    expect(await result(503, { detail: 'boom', error_type: 'runner_disconnected' }).status(taskId)).toMatchObject({
      state: 'failed',
      error: { kind: 'generation_failed' },
    });
    const refused = result(422, { detail: [{ loc: ['body'], msg: 'no', type: 'content_policy_violation' }] });
    expect(await refused.status(taskId)).toMatchObject({ state: 'failed', error: { kind: 'content_policy', retryable: false } });
    expect((await failure(result(502, '<html>Bad Gateway</html>').status(taskId))).kind).toBe('unavailable');
    expect((await failure(result(200, { images: [] }).status(taskId))).kind).toBe('protocol');
  });

  it('an unreadable status answer is a protocol error, not a TypeError', async () => {
    fake.answerWith({ status: 200, body: 'not json' });
    const adapter = adapterFor();
    expect((await failure(adapter.status('fal-ai/nano-banana/requests/r1'))).kind).toBe('protocol');
    expect((await failure(adapter.submit(request()))).kind).toBe('protocol');
    expect((await failure(adapter.balance!())).kind).toBe('protocol');
  });

  it('health asks the queue (any key may), refusing a wrong key', async () => {
    await expect(adapterFor({ adminKey: undefined }).health()).resolves.toBeUndefined();
    expect(fake.requests.at(-1)!.path).toMatch(/^\/fal-ai\/nano-banana\/requests\/[\w-]+\/status$/);
    expect((await failure(adapterFor({ apiKey: 'wrong' }).health())).kind).toBe('unauthorized');
  });

  it('reads the balance with the ADMIN-scoped key (FAL_ADMIN_KEY); the API key is refused there', async () => {
    fake.set({ balance: 7 });
    expect(await adapterFor().balance!()).toEqual({ amount: 7_000_000, unit: 'micro_usd' });
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Key ${fake.adminKey}`);
    expect((await failure(adapterFor({ adminKey: fake.apiKey }).balance!())).kind).toBe('unauthorized');
    expect((await failure(adapterFor({ adminKey: undefined }).balance!())).message).toMatch(/FAL_ADMIN_KEY/);
  });

  it('a health probe notices a locked account, though its status URLs still answer', async () => {
    await expect(adapterFor().health()).resolves.toBeUndefined();
    fake.locked = true;
    expect((await failure(adapterFor().submit(request()))).kind).toBe('insufficient_balance');
    const probed = await failure(adapterFor().health());
    expect(probed.kind).toBe('insufficient_balance');
    expect(probed.message).toMatch(/locked/);
  });
});

describe('fal webhooks', () => {
  it('takes the default model’s app when our callback route dropped fal_app', async () => {
    const event = await adapterFor().parseCallback!(webhook(okBody('r-1')));
    expect(event.providerTaskId).toBe('fal-ai/nano-banana/requests/r-1');
    const other = await adapterFor().parseCallback!(webhook(okBody('r-1'), { query: { [FAL_APP_QUERY_KEY]: 'fal-ai/flux' } }));
    expect(other.providerTaskId).toBe('fal-ai/flux/requests/r-1');
  });

  it('refuses stale, future, unsigned and foreign-key deliveries as bad_signature', async () => {
    const adapter = adapterFor();
    const now = Math.floor(Date.now() / 1000);
    for (const delivery of [
      webhook(okBody('r-2'), { timestamp: now - 301 }),
      webhook(okBody('r-2'), { timestamp: now + 301 }),
      webhook(okBody('r-2'), { headers: { 'x-fal-webhook-signature': '' } }),
      webhook(okBody('r-2'), { headers: { 'x-fal-webhook-user-id': 'someone-else' } }),
      webhook(okBody('r-2'), { headers: { 'x-fal-webhook-signature': 'ab'.repeat(64) } }),
    ]) {
      expect(isProviderError(await failure(adapter.parseCallback!(delivery)), 'bad_signature')).toBe(true);
    }
    await expect(adapter.parseCallback!(webhook(okBody('r-2'), { timestamp: now - 299 }))).resolves.toMatchObject({ status: { state: 'completed' } });
  });

  it('fetches the JWKS once and keeps it', async () => {
    const adapter = adapterFor();
    await adapter.parseCallback!(webhook(okBody('r-3')));
    await adapter.parseCallback!(webhook(okBody('r-4')));
    expect(fake.requests.filter((r) => r.path === '/.well-known/jwks.json')).toHaveLength(1);
  });

  it('maps ERROR payloads and a missing payload', async () => {
    const adapter = adapterFor();
    const error = (payload: unknown, message: string) =>
      adapter.parseCallback!(webhook({ request_id: 'r-5', gateway_request_id: 'r-5', status: 'ERROR', payload, error: message }));
    expect(await error({ detail: [{ loc: ['body', 'prompt'], msg: 'flagged', type: 'content_policy_violation' }] }, 'Invalid status code: 422')).toMatchObject({
      status: { state: 'failed', error: { kind: 'content_policy' } },
    });
    expect(await error({ detail: [{ loc: ['body', 'image_urls'], msg: 'bad image', type: 'image_load_error' }] }, 'Invalid status code: 422')).toMatchObject({
      status: { state: 'failed', error: { kind: 'bad_input' } },
    });
    expect(await error({ detail: 'runner crashed' }, 'Invalid status code: 500')).toMatchObject({
      status: { state: 'failed', error: { kind: 'generation_failed', retryable: true } },
    });
    // Too large to attach: fal completed the request, polling fetches the result.
    const unattached = await adapter.parseCallback!(webhook({ request_id: 'r-6', status: 'OK', payload: null, payload_error: 'Response payload too large' }));
    expect(unattached.status).toEqual({ state: 'pending' });
  });
});
