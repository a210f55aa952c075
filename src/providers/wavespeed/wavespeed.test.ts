// WaveSpeed quirks the contract suite does not reach: the code under HTTP 200 and under its own
// status, failures that are still `code: 200`, the webhook signature's edge cases, and `size`.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startWaveSpeedFake, type WaveSpeedFake } from '../../../test/fakes/wavespeed.ts';
import { isProviderError, type CallbackRequest, type ProviderAdapter, type ProviderError, type SubmitRequest } from '../types.ts';
import { createWaveSpeedAdapter, sizeFor, type WaveSpeedOptions } from './index.ts';

let fake: WaveSpeedFake;
beforeAll(async () => (fake = await startWaveSpeedFake()));
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const adapterFor = (overrides: Partial<WaveSpeedOptions> = {}): ProviderAdapter =>
  createWaveSpeedAdapter({ baseUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 2_000, webhookSecret: fake.webhookSecret, ...overrides });
const request = (overrides: Partial<SubmitRequest> = {}): SubmitRequest => ({
  generationId: 'gen_1',
  model: 'bytedance/seedream-v4/edit',
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
/** An adapter whose fake now gives this answer to every call. */
function answering(status: number, body: unknown, headers: Record<string, string> = {}): ProviderAdapter {
  fake.answerWith({ status, body, headers });
  return adapterFor();
}

function webhook(prediction: Record<string, unknown>, options: { timestamp?: number; headers?: Record<string, string> } = {}): CallbackRequest {
  const rawBody = JSON.stringify(prediction);
  return { rawBody: Buffer.from(rawBody), query: {}, headers: { ...fake.signWebhook(rawBody, String(prediction.id), options.timestamp), ...options.headers } };
}
const completed = { id: 'p1', status: 'completed', outputs: ['https://cdn.example/p1.png'], error: '' };

describe('WaveSpeed envelope codes', () => {
  it('reads the code under its own HTTP status and under HTTP 200 alike', async () => {
    fake.set({ failure: 'insufficient_balance' });
    const errors = [await failure(adapterFor().submit(request())), await failure(adapterFor().submit(request()))];
    expect(errors.map((e) => e.kind)).toEqual(['insufficient_balance', 'insufficient_balance']);
    expect(errors.map((e) => e.detail.status).sort()).toEqual([200, 402]);
  });

  it('keeps Retry-After on a 429 either way', async () => {
    fake.set({ failure: 'rate_limited', retryAfterSeconds: 3 });
    const errors = [await failure(adapterFor().submit(request())), await failure(adapterFor().submit(request()))];
    expect(errors.map((e) => [e.kind, e.retryAfterMs])).toEqual([
      ['rate_limited', 3_000],
      ['rate_limited', 3_000],
    ]);
  });

  it('knows balance and content refusals by their message when the code is generic', async () => {
    expect((await failure(answering(400, { code: 400, message: 'Your balance is not enough', data: null }).submit(request()))).kind).toBe(
      'insufficient_balance',
    );
    expect((await failure(answering(200, { code: 400, message: 'Prompt flagged as sensitive content', data: null }).submit(request()))).kind).toBe(
      'content_policy',
    );
  });

  it('a failed prediction is still code 200: the task fails, the call does not', async () => {
    const failed = answering(200, { code: 200, message: 'success', data: { id: 'p1', status: 'failed', outputs: [], error: 'Internal error' } });
    expect(await failed.status('p1')).toMatchObject({ state: 'failed', error: { kind: 'generation_failed', retryable: true } });
  });

  it('takes a lone output URL string, and calls an unreadable answer a protocol error', async () => {
    const lone = answering(200, { code: 200, data: { id: 'p1', status: 'completed', outputs: 'https://cdn.example/p1.png' } });
    expect(await lone.status('p1')).toEqual({ state: 'completed', outputs: [{ url: 'https://cdn.example/p1.png' }] });
    for (const body of ['<html>', { code: 200, data: { id: 'p1', status: 'weird' } }]) {
      expect((await failure(answering(200, body).status('p1'))).kind).toBe('protocol');
    }
  });

  it('the fake serves both result and balance paths', async () => {
    const submitted = await adapterFor().submit(request());
    const headers = { authorization: `Bearer ${fake.apiKey}` };
    const plain = (await (await fetch(`${fake.url}/api/v3/predictions/${submitted.providerTaskId}`, { headers })).json()) as { data: { status: string } };
    expect(plain.data.status).toBe('completed');
    const account = (await (await fetch(`${fake.url}/api/v3/account/balance`, { headers })).json()) as { data: { balance: number } };
    expect(account.data.balance).toBe(1000);
  });
});

describe('WaveSpeed webhooks', () => {
  it('signs with the secret text after whsec_, not base64-decoded', async () => {
    const delivery = webhook(completed);
    const { 'webhook-id': id, 'webhook-timestamp': timestamp } = delivery.headers;
    const expected = createHmac('sha256', fake.webhookSecret.slice('whsec_'.length)).update(`${id}.${timestamp}.${delivery.rawBody.toString()}`).digest('hex');
    expect(delivery.headers['webhook-signature']).toBe(`v3,${expected}`);
    expect(await adapterFor().parseCallback!(delivery)).toEqual({
      providerTaskId: 'p1',
      status: { state: 'completed', outputs: [{ url: 'https://cdn.example/p1.png' }] },
    });
  });

  it('refuses every callback when no secret is configured, rather than trusting it', async () => {
    const error = await failure(adapterFor({ webhookSecret: undefined }).parseCallback!(webhook(completed)));
    expect(isProviderError(error, 'bad_signature')).toBe(true);
  });

  it('refuses stale, future, unversioned and missing signatures', async () => {
    const now = Math.floor(Date.now() / 1000);
    const signature = webhook(completed).headers['webhook-signature']!;
    for (const delivery of [
      webhook(completed, { timestamp: now - 301 }),
      webhook(completed, { timestamp: now + 301 }),
      webhook(completed, { headers: { 'webhook-signature': signature.replace('v3,', 'v1,') } }),
      webhook(completed, { headers: { 'webhook-signature': '' } }),
      webhook(completed, { headers: { 'webhook-id': 'another' } }),
    ]) {
      expect(isProviderError(await failure(adapterFor().parseCallback!(delivery)), 'bad_signature')).toBe(true);
    }
  });

  it('accepts one good signature among several, and an enveloped body', async () => {
    const good = webhook(completed);
    const several = { ...good, headers: { ...good.headers, 'webhook-signature': `v3,${'0'.repeat(64)} ${good.headers['webhook-signature']}` } };
    expect((await adapterFor().parseCallback!(several)).providerTaskId).toBe('p1');
    const enveloped = webhook({ code: 200, message: 'success', data: completed });
    expect((await adapterFor().parseCallback!(enveloped)).status.state).toBe('completed');
  });

  it('maps unfinished and refused predictions', async () => {
    expect((await adapterFor().parseCallback!(webhook({ id: 'p2', status: 'processing', outputs: [] }))).status).toEqual({ state: 'pending' });
    const refused = await adapterFor().parseCallback!(webhook({ id: 'p3', status: 'failed', outputs: [], error: 'Content flagged as NSFW' }));
    expect(refused.status).toMatchObject({ state: 'failed', error: { kind: 'content_policy', retryable: false } });
  });
});

describe('Seedream size', () => {
  it('maps aspect ratios to about 2048² pixels, sides in 1024–4096', () => {
    expect(sizeFor('1:1')).toBe('2048*2048');
    expect(sizeFor('16:9')).toBe('2752*1536');
    expect(sizeFor('9:16')).toBe('1536*2752');
    expect(sizeFor('auto')).toBeUndefined();
  });

  it('sends size and the images, with no sync mode', async () => {
    await adapterFor().submit(request({ aspectRatio: '4:3' }));
    expect(JSON.parse(fake.requests.find((r) => r.method === 'POST')!.body)).toMatchObject({
      size: '2368*1792',
      enable_sync_mode: false,
      images: [expect.any(String)],
    });
  });
});
