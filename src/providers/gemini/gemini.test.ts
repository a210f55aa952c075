// Gemini quirks the contract suite does not reach: both spellings of inline data, both shapes of a
// safety block, RetryInfo delays (fractional, Duration objects, Retry-After only), a bad key that is an
// HTTP 400, and answers this adapter cannot read.
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeProviderServer } from '../../../test/fakes/fake-provider.ts';
import { startGeminiFake } from '../../../test/fakes/gemini.ts';
import { isProviderError, type ProviderAdapter, type ProviderError, type SubmitRequest } from '../types.ts';
import { createGeminiAdapter } from './index.ts';

const request = (overrides: Partial<SubmitRequest> = {}): SubmitRequest => ({
  generationId: 'gen_1',
  model: 'gemini-2.5-flash-image',
  prompt: 'make it dusk',
  imageUrls: [],
  images: [{ mime: 'image/png', data: Buffer.from('not really a png') }],
  ...overrides,
});

const failureOf = (promise: Promise<unknown>): Promise<ProviderError> =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => {
      if (!isProviderError(error)) throw error;
      return error;
    },
  );

describe('gemini adapter against its fake', () => {
  let fake: FakeProviderServer;
  let adapter: ProviderAdapter;
  beforeAll(async () => {
    fake = await startGeminiFake();
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    adapter = createGeminiAdapter({ baseUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 2_000 });
  });

  it('sends the prompt and images inline, with the key header and the aspect ratio', async () => {
    const result = await adapter.submit(request({ model: 'models/gemini-2.5-flash-image', aspectRatio: '16:9' }));
    expect(result.state).toBe('completed');
    expect(result.providerTaskId).toMatch(/^resp-/);
    const sent = fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash-image:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe(fake.apiKey);
    expect(JSON.parse(sent.body)).toEqual({
      contents: [
        {
          role: 'user',
          parts: [{ text: 'make it dusk' }, { inline_data: { mime_type: 'image/png', data: Buffer.from('not really a png').toString('base64') } }],
        },
      ],
      generationConfig: { responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '16:9' } },
    });
  });

  it('reads the image inline in both spellings (inlineData and inline_data)', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await adapter.submit(request());
      if (result.state !== 'completed') throw new Error('expected completion');
      const output = result.outputs[0]!;
      if (!('inline' in output)) throw new Error('expected inline bytes');
      expect(output.inline.mime).toBe('image/png');
      expect((await sharp(output.inline.data).metadata()).format).toBe('png');
    }
  });

  it('takes processingMs to answer, as generateContent holds the connection', async () => {
    fake.set({ processingMs: 200 });
    const started = Date.now();
    await adapter.submit(request());
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('treats a blocked prompt and a withheld image both as content_policy', async () => {
    fake.set({ failure: 'content_policy' });
    const codes = [await failureOf(adapter.submit(request())), await failureOf(adapter.submit(request()))].map((e) => [e.kind, e.detail.code]);
    expect(codes.sort()).toEqual([
      ['content_policy', 'IMAGE_SAFETY'],
      ['content_policy', 'SAFETY'],
    ]);
  });

  it('treats no image without a block (no content, or words only) as generation_failed', async () => {
    fake.set({ failure: 'generation_failed' });
    const errors = [await failureOf(adapter.submit(request())), await failureOf(adapter.submit(request()))];
    expect(errors.map((e) => e.kind)).toEqual(['generation_failed', 'generation_failed']);
    expect(errors.map((e) => e.detail.code).sort()).toEqual(['OTHER', 'STOP']);
  });

  it('refuses an unsupported aspect ratio as bad_input', async () => {
    expect((await failureOf(adapter.submit(request({ aspectRatio: '7:3' })))).kind).toBe('bad_input');
  });

  it('reports a missing key (403 PERMISSION_DENIED) as unauthorized, on health too', async () => {
    const keyless = createGeminiAdapter({ baseUrl: fake.url, apiKey: '', timeoutMs: 2_000 });
    expect((await failureOf(keyless.submit(request()))).detail).toMatchObject({ status: 403, code: 'PERMISSION_DENIED' });
    const wrong = createGeminiAdapter({ baseUrl: fake.url, apiKey: 'nope', timeoutMs: 2_000 });
    const error = await failureOf(wrong.health());
    expect([error.kind, error.detail.status]).toEqual(['unauthorized', 400]);
  });

  it('fails its health probe on a 429 with the delay Gemini asked for', async () => {
    fake.set({ failure: 'rate_limited', retryAfterSeconds: 3 });
    const error = await failureOf(adapter.health());
    expect([error.kind, error.retryAfterMs]).toEqual(['rate_limited', 3_000]);
    expect(fake.requests.at(-1)!.path).toBe('/v1beta/models/gemini-2.5-flash-image');
  });

  it('has no task to poll, no callbacks and no balance', async () => {
    expect((await failureOf(adapter.status('resp-1'))).kind).toBe('not_found');
    expect(adapter.supportsCallbacks).toBe(false);
    expect(adapter.parseCallback).toBeUndefined();
    expect(adapter.balance).toBeUndefined();
  });
});

describe('gemini adapter reading answers', () => {
  let fake: FakeProviderServer;
  beforeAll(async () => {
    fake = await startGeminiFake();
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());
  /** The adapter, its fake now giving this answer to every call. */
  const answering = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    fake.answerWith({ status, body, headers });
    return createGeminiAdapter({ baseUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 2_000 });
  };
  const googleError = (code: number, status: string, details: unknown[] = []) => ({ error: { code, status, message: 'm', details } });
  const retryInfo = (retryDelay: unknown) => ({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay });
  const kindOf = async (status: number, body: unknown, headers?: Record<string, string>) => failureOf(answering(status, body, headers).submit(request()));

  it.each([
    ['"1.5s"', retryInfo('1.5s'), {}, 1_500],
    ['a Duration object', retryInfo({ seconds: '2', nanos: 250_000_000 }), {}, 2_250],
    ['Retry-After alone', undefined, { 'retry-after': '4' }, 4_000],
    ['RetryInfo over Retry-After', retryInfo('7s'), { 'retry-after': '1' }, 7_000],
  ])('reads the 429 delay from %s', async (_name, detail, headers, expected) => {
    const error = await kindOf(429, googleError(429, 'RESOURCE_EXHAUSTED', detail ? [detail] : []), headers);
    expect([error.kind, error.retryAfterMs, error.retryable]).toEqual(['rate_limited', expected, true]);
  });

  it.each([
    [400, 'INVALID_ARGUMENT', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }], 'unauthorized'],
    [400, 'INVALID_ARGUMENT', [], 'bad_input'],
    [400, 'FAILED_PRECONDITION', [], 'unauthorized'],
    [403, 'PERMISSION_DENIED', [], 'unauthorized'],
    [404, 'NOT_FOUND', [], 'not_found'],
    [500, 'INTERNAL', [], 'unavailable'],
    [503, 'UNAVAILABLE', [], 'unavailable'],
    [504, 'DEADLINE_EXCEEDED', [], 'timeout'],
  ])('maps HTTP %i %s to its kind', async (status, canonical, details, kind) => {
    expect((await kindOf(status, googleError(status, canonical, details))).kind).toBe(kind);
  });

  it('falls back on the HTTP status when the body is not Google’s envelope', async () => {
    expect((await kindOf(502, '<html>Bad Gateway</html>')).kind).toBe('unavailable');
    expect((await kindOf(429, '')).kind).toBe('rate_limited');
  });

  it.each([
    ['not JSON', 'oops'],
    ['not an object', [1, 2]],
    ['not a generateContent answer', { hello: 'world' }],
    ['candidates that are not a list', { candidates: 'x' }],
    ['parts that are not a list', { candidates: [{ content: { parts: {} } }] }],
    ['inline data without a mime type', { candidates: [{ content: { parts: [{ inlineData: { data: 'AAAA' } }] } }] }],
    ['inline data that is not base64', { candidates: [{ content: { parts: [{ inlineData: { mimeType: 'image/png', data: '%%%' } }] } }] }],
  ])('refuses an answer that is %s as protocol', async (_name, body) => {
    expect((await kindOf(200, body)).kind).toBe('protocol');
  });

  it('skips draft images shown as thoughts, and generates an id when there is no responseId', async () => {
    const png = Buffer.from('png bytes');
    const parts = [
      { thought: true, inlineData: { mimeType: 'image/png', data: 'AAAA' } },
      { inlineData: { mimeType: 'image/png', data: png.toString('base64') } },
    ];
    const result = await answering(200, { candidates: [{ content: { parts }, finishReason: 'STOP' }] }).submit(request());
    expect(result.providerTaskId).toMatch(/^gemini-/);
    expect(result.state === 'completed' && result.outputs).toEqual([{ inline: { mime: 'image/png', data: png } }]);
  });

  it('reads a block even when candidates are present but empty', async () => {
    const error = await kindOf(200, { candidates: [], promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } });
    expect([error.kind, error.retryable]).toEqual(['content_policy', false]);
  });
});
