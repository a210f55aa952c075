// NanoBanana quirks the contract suite does not reach: the three result-link shapes, body codes on
// HTTP 200 as well as on a matching status, the misspelt submit types, unreadable answers.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NanoBananaFake, startNanoBananaFake, type ResultShape } from '../../../test/fakes/nanobanana.ts';
import { isProviderError, type ProviderAdapter, type ProviderError, type SubmitRequest, type TaskStatus } from '../types.ts';
import { createNanoBananaAdapter } from './index.ts';

let fake: NanoBananaFake;
let adapter: ProviderAdapter;
beforeAll(async () => {
  fake = await startNanoBananaFake();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.reset();
  adapter = createNanoBananaAdapter({ baseUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 2_000 });
});

const request = (overrides: Partial<SubmitRequest> = {}): SubmitRequest => ({
  generationId: 'gen_1',
  model: 'nano-banana-edit',
  prompt: 'make it brighter',
  imageUrls: [`${fake.url}/files/input.png?expires=${Date.now() + 60_000}`],
  images: [],
  ...overrides,
});

async function finish(taskId: string): Promise<TaskStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await adapter.status(taskId);
    if (status.state !== 'pending') return status;
    await sleep(10);
  }
  throw new Error('task did not end');
}

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

describe('submit', () => {
  it('sends IMAGETOIAMGE with the input images and the callback URL, TEXTTOIAMGE without images', async () => {
    await adapter.submit(request({ callbackUrl: 'http://127.0.0.1:1/cb', aspectRatio: '16:9' }));
    await adapter.submit(request({ imageUrls: [] }));
    const [edit, text] = fake.requests.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(edit).toMatchObject({
      type: 'IMAGETOIAMGE',
      imageUrls: request().imageUrls.map(() => expect.any(String)),
      callBackUrl: 'http://127.0.0.1:1/cb',
      image_size: '16:9',
      numImages: 1,
    });
    expect(text).toMatchObject({ type: 'TEXTTOIAMGE' });
    expect(text).not.toHaveProperty('imageUrls');
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
  });

  it('sends the fallback callback URL when the request has none', async () => {
    adapter = createNanoBananaAdapter({ baseUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 2_000, fallbackCallbackUrl: 'http://127.0.0.1:1/ignored' });
    fake.set({ callbacks: false });
    await adapter.submit(request());
    expect(JSON.parse(fake.requests[0]!.body)).toMatchObject({ callBackUrl: 'http://127.0.0.1:1/ignored' });
  });
});

describe.each<ResultShape>(['string', 'array', 'resultUrls'])('a result link given as %s', (shape) => {
  it('is read from record-info, preferred over the short-lived origin link', async () => {
    fake.resultShape = shape;
    const submitted = await adapter.submit(request());
    const status = await finish(submitted.providerTaskId);
    expect(status.state).toBe('completed');
    if (status.state !== 'completed') return;
    const task = fake.tasks.get(submitted.providerTaskId)!;
    expect(status.outputs).toEqual([{ url: fake.resultUrl(task) }]);
    expect((await fetch(fake.resultUrl(task))).status).toBe(200);
  });

  it('is read from the callback', async () => {
    fake.resultShape = shape;
    const receiver = await startReceiver();
    try {
      const submitted = await adapter.submit(request({ callbackUrl: receiver.url }));
      const event = await adapter.parseCallback!({ headers: {}, rawBody: await receiver.next(), query: {} });
      expect(event).toEqual({
        providerTaskId: submitted.providerTaskId,
        status: { state: 'completed', outputs: [{ url: fake.resultUrl(fake.tasks.get(submitted.providerTaskId)!) }] },
      });
    } finally {
      await receiver.close();
    }
  });
});

/** A one-callback endpoint: the body of the first POST it gets. */
async function startReceiver(): Promise<{ url: string; next(): Promise<Buffer>; close(): Promise<void> }> {
  let resolveBody!: (body: Buffer) => void;
  const body = new Promise<Buffer>((resolve) => (resolveBody = resolve));
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    res.end('ok');
    resolveBody(Buffer.concat(chunks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    next: () => body,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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

  it('rate limits keep their Retry-After, on submit and on the credit endpoint', async () => {
    fake.set({ failure: 'rate_limited', retryAfterSeconds: 3 });
    fake.errorStatus = mode;
    for (const error of [await errorOf(adapter.submit(request())), await errorOf(adapter.balance!())]) {
      expect(error.kind).toBe('rate_limited');
      expect(error.retryAfterMs).toBe(3_000);
    }
  });
});

describe('answers', () => {
  it('reads an unknown task as not_found', async () => {
    expect((await errorOf(adapter.status('nb-unknown'))).kind).toBe('not_found');
  });

  it('reads 505 (feature disabled) as unavailable and a request-level 501 as generation_failed', async () => {
    expect((await errorOf(answering(JSON.stringify({ code: 505, msg: 'feature disabled', data: null })).health())).kind).toBe('unavailable');
    expect((await errorOf(answering(JSON.stringify({ code: 501, msg: 'failed' }), 501).submit(request()))).kind).toBe('generation_failed');
  });

  it.each([
    ['an HTML page', '<html>bad gateway</html>'],
    ['JSON without a code', '{"data":{"taskId":"x"}}'],
    ['a success without a taskId', '{"code":200,"msg":"success","data":{}}'],
  ])('turns %s into a protocol error', async (_what, body) => {
    expect((await errorOf(answering(body).submit(request()))).kind).toBe('protocol');
  });

  it.each([
    ['an unknown successFlag', { successFlag: 9 }],
    ['a success without a link', { successFlag: 1, response: { resultImageUrl: '' } }],
  ])('turns a record with %s into a protocol error', async (_what, data) => {
    expect((await errorOf(answering(JSON.stringify({ code: 200, msg: 'success', data })).status('t'))).kind).toBe('protocol');
  });

  it('falls back on the origin link when no result link is given', async () => {
    const data = { successFlag: '1', response: { originImageUrl: 'https://cdn.example/origin.png', resultImageUrl: null } };
    expect(await answering(JSON.stringify({ code: 200, msg: 'success', data })).status('t')).toEqual({
      state: 'completed',
      outputs: [{ url: 'https://cdn.example/origin.png' }],
    });
  });

  it('reads create and generate failures by their error code', async () => {
    const record = (successFlag: number, errorCode: number, errorMessage: string) =>
      answering(JSON.stringify({ code: 200, msg: 'success', data: { successFlag, errorCode, errorMessage } })).status('t');
    const policy = await record(2, 400, 'flagged');
    const failed = await record(3, 500, 'internal error');
    expect(policy.state === 'failed' && policy.error.kind).toBe('content_policy');
    expect(failed.state === 'failed' && failed.error.kind).toBe('generation_failed');
  });

  it('reads the credit balance as whole credits, from a number or a numeric string', async () => {
    expect(await answering('{"code":200,"msg":"success","data":12.5}').balance!()).toEqual({ amount: 12, unit: 'credit' });
    expect(await answering('{"code":200,"msg":"success","data":"7"}').balance!()).toEqual({ amount: 7, unit: 'credit' });
    expect((await errorOf(answering('{"code":200,"msg":"success","data":null}').balance!())).kind).toBe('protocol');
  });
});

describe('callbacks', () => {
  const callback = (payload: unknown) => adapter.parseCallback!({ headers: {}, rawBody: Buffer.from(JSON.stringify(payload)), query: {} });

  it.each([
    [400, 'content_policy', false],
    [500, 'generation_failed', true],
    [501, 'generation_failed', true],
  ] as const)('code %i is a %s failure', async (code, kind, retryable) => {
    const event = await callback({ code, msg: 'no', data: { taskId: 't1', info: null } });
    expect(event.providerTaskId).toBe('t1');
    expect(event.status.state === 'failed' && [event.status.error.kind, event.status.error.retryable]).toEqual([kind, retryable]);
  });

  it('refuses unreadable callbacks as protocol errors', async () => {
    const garbage = adapter.parseCallback!({ headers: {}, rawBody: Buffer.from('not json'), query: {} });
    expect((await errorOf(garbage)).kind).toBe('protocol');
    expect((await errorOf(callback({ code: 200, msg: 'ok', data: { info: {} } }))).kind).toBe('protocol');
    expect((await errorOf(callback({ code: 200, msg: 'ok', data: { taskId: 't', info: {} } }))).kind).toBe('protocol');
  });
});

it('fails only the given share of submits', async () => {
  fake.set({ failure: 'server_error', failureRate: 0 });
  expect((await adapter.submit(request())).state).toBe('pending');
});
