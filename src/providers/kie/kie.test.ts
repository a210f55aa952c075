// Kie quirks the contract suite does not reach: signature edge cases (unsigned, wrong key, stale or
// future timestamps, signing switched off), non-final and state-less callbacks, `resultJson` shapes,
// body codes on HTTP 200 as well as a matching status, the input limits checked before sending.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KIE_FAKE_WEBHOOK_HMAC_KEY, KieFake, startKieFake } from '../../../test/fakes/kie.ts';
import { isProviderError, type CallbackRequest, type ProviderAdapter, type ProviderError, type SubmitRequest } from '../types.ts';
import { kieSignature } from './callback.ts';
import { createKieAdapter, type KieOptions } from './index.ts';

let fake: KieFake;
let adapter: ProviderAdapter;
const NOW = Date.parse('2025-06-01T12:00:00Z');
const nowSeconds = String(NOW / 1000);

beforeAll(async () => {
  fake = await startKieFake();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.reset();
  adapter = kie();
});

const kie = (options: Partial<KieOptions> = {}) =>
  createKieAdapter({ baseUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 2_000, webhookHmacKey: KIE_FAKE_WEBHOOK_HMAC_KEY, now: () => NOW, ...options });

const request = (overrides: Partial<SubmitRequest> = {}): SubmitRequest => ({
  generationId: 'gen_1',
  model: 'google/nano-banana-edit',
  prompt: 'make it brighter',
  imageUrls: ['https://example.com/in.png'],
  images: [],
  ...overrides,
});

const errorOf = (promise: Promise<unknown>): Promise<ProviderError> =>
  promise.then(
    () => {
      throw new Error('expected a ProviderError');
    },
    (error: unknown) => {
      if (!isProviderError(error)) throw error;
      return error;
    },
  );

/** The adapter, its fake now giving this answer to every call. */
function answering(body: string, status = 200): ProviderAdapter {
  fake.answerWith({ status, body });
  return adapter;
}

/** A callback as Kie would POST it, signed with `key` at `timestamp` unless told otherwise. */
function callback(data: Record<string, unknown>, sign: { key?: string; timestamp?: string; taskId?: string } | null = {}, code = 200): CallbackRequest {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (sign) {
    const timestamp = sign.timestamp ?? nowSeconds;
    headers['x-webhook-timestamp'] = timestamp;
    headers['x-webhook-signature'] = kieSignature(sign.key ?? KIE_FAKE_WEBHOOK_HMAC_KEY, sign.taskId ?? String(data.taskId), timestamp);
  }
  return { headers, rawBody: Buffer.from(JSON.stringify({ code, msg: 'ok', data })), query: {} };
}
const success = { taskId: 'kie-1', state: 'success', resultJson: JSON.stringify({ resultUrls: ['https://files.example/1.png'] }) };

describe('submit', () => {
  it('sends the model, the input and the callback URL', async () => {
    fake.set({ callbacks: false });
    await adapter.submit(request({ callbackUrl: 'http://127.0.0.1:1/cb', aspectRatio: '4:3', outputFormat: 'png' }));
    expect(JSON.parse(fake.requests[0]!.body)).toEqual({
      model: 'google/nano-banana-edit',
      callBackUrl: 'http://127.0.0.1:1/cb',
      input: { prompt: 'make it brighter', image_urls: ['https://example.com/in.png'], image_size: '4:3', output_format: 'png' },
    });
  });

  it('refuses inputs over the documented limits without calling Kie', async () => {
    expect((await errorOf(adapter.submit(request({ prompt: 'x'.repeat(5001) })))).kind).toBe('bad_input');
    expect((await errorOf(adapter.submit(request({ imageUrls: Array.from({ length: 11 }, (_, i) => `https://example.com/${i}.png`) })))).kind).toBe(
      'bad_input',
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('reads the fake refusing an invalid request as bad_input', async () => {
    expect((await errorOf(adapter.submit(request({ imageUrls: [] })))).kind).toBe('bad_input');
  });
});

describe('signed callbacks', () => {
  it('accepts a correctly signed callback, whatever the body', async () => {
    expect(await adapter.parseCallback!(callback(success))).toEqual({
      providerTaskId: 'kie-1',
      status: { state: 'completed', outputs: [{ url: 'https://files.example/1.png' }] },
    });
  });

  it.each([
    ['unsigned', callback(success, null)],
    ['signed with another key', callback(success, { key: 'other-key' })],
    ['signed for another task', callback(success, { taskId: 'kie-2' })],
    ['signed 10 minutes ago', callback(success, { timestamp: String(NOW / 1000 - 600) })],
    ['signed 10 minutes ahead', callback(success, { timestamp: String(NOW / 1000 + 600) })],
    ['signed with a non-numeric timestamp', callback(success, { timestamp: 'yesterday' })],
  ])('refuses a callback %s', async (_what, request) => {
    expect((await errorOf(adapter.parseCallback!(request))).kind).toBe('bad_signature');
  });

  it('honours a wider tolerance, and takes unsigned callbacks when no key is configured', async () => {
    const old = callback(success, { timestamp: String(NOW / 1000 - 600) });
    expect((await kie({ webhookToleranceSeconds: 3600 }).parseCallback!(old)).status.state).toBe('completed');
    expect((await kie({ webhookHmacKey: undefined }).parseCallback!(callback(success, null))).status.state).toBe('completed');
  });
});

describe('callback bodies', () => {
  it.each(['waiting', 'queuing', 'generating'])('reads a %s callback as pending', async (state) => {
    expect((await adapter.parseCallback!(callback({ taskId: 'kie-1', state, resultJson: null }))).status).toEqual({ state: 'pending' });
  });

  it('reads a state-less callback by its code', async () => {
    const failed = await adapter.parseCallback!(callback({ taskId: 'kie-1', resultJson: null, failCode: null, failMsg: 'boom' }, {}, 501));
    expect(failed.status.state === 'failed' && failed.status.error.kind).toBe('generation_failed');
    const done = await adapter.parseCallback!(callback({ taskId: 'kie-1', resultJson: success.resultJson }, {}, 200));
    expect(done.status.state).toBe('completed');
  });

  it('reads a content-policy failure as not retryable', async () => {
    const event = await adapter.parseCallback!(callback({ taskId: 'kie-1', state: 'fail', failCode: '400', failMsg: 'flagged' }, {}, 501));
    expect(event.status.state === 'failed' && [event.status.error.kind, event.status.error.retryable]).toEqual(['content_policy', false]);
  });

  it('takes resultJson already parsed, and refuses it malformed', async () => {
    const parsed = await adapter.parseCallback!(callback({ ...success, resultJson: { resultUrls: ['https://files.example/2.png'] } }));
    expect(parsed.status).toEqual({ state: 'completed', outputs: [{ url: 'https://files.example/2.png' }] });
    expect((await errorOf(adapter.parseCallback!(callback({ ...success, resultJson: '{not json' })))).kind).toBe('protocol');
    expect((await errorOf(adapter.parseCallback!(callback({ ...success, resultJson: '{"resultUrls":[]}' })))).kind).toBe('protocol');
  });
});

describe.each(['matching', 'http200'] as const)('body codes carried with %s HTTP status', (mode) => {
  it.each([
    ['bad_input', 'bad_input'],
    ['unauthorized', 'unauthorized'],
    ['insufficient_balance', 'insufficient_balance'],
    ['server_error', 'unavailable'],
    ['maintenance', 'unavailable'],
  ] as const)('%s surfaces as %s', async (failure, kind) => {
    fake.set({ failure });
    fake.errorStatus = mode;
    const error = await errorOf(adapter.submit(request()));
    expect(error.kind).toBe(kind);
    expect(error.detail.status).toBe(mode === 'http200' ? 200 : error.detail.code);
  });

  it('rate limits keep their Retry-After on recordInfo (which says `message`)', async () => {
    fake.set({ callbacks: false });
    const submitted = await adapter.submit(request());
    fake.set({ failure: 'rate_limited', retryAfterSeconds: 4 });
    fake.errorStatus = mode;
    const error = await errorOf(adapter.status(submitted.providerTaskId));
    expect([error.kind, error.retryAfterMs]).toEqual(['rate_limited', 4_000]);
    expect(error.message).toContain('Call frequency is too high');
  });
});

describe('answers', () => {
  it('reads "recordInfo is null" as not_found', async () => {
    expect((await errorOf(adapter.status('kie-unknown'))).kind).toBe('not_found');
  });

  it('reads 505 (feature disabled) as unavailable and 404 as not_found', async () => {
    expect((await errorOf(answering('{"code":505,"msg":"feature disabled"}').submit(request()))).kind).toBe('unavailable');
    expect((await errorOf(answering('{"code":404,"message":"not found"}', 404).status('t'))).kind).toBe('not_found');
  });

  it('turns an unknown state, an HTML page or a missing taskId into protocol errors', async () => {
    expect((await errorOf(answering('{"code":200,"message":"success","data":{"state":"melting"}}').status('t'))).kind).toBe('protocol');
    expect((await errorOf(answering('<html>502</html>', 200).submit(request()))).kind).toBe('protocol');
    expect((await errorOf(answering('{"code":200,"msg":"success","data":{}}').submit(request()))).kind).toBe('protocol');
  });

  it('reads the credit balance as whole credits', async () => {
    fake.set({ balance: 99.9 });
    expect(await adapter.balance!()).toEqual({ amount: 99, unit: 'credit' });
  });
});
