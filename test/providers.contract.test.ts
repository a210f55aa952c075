// One contract suite run against every provider adapter and its fake (STYLE §8): success, each failure
// class, timeout, 429 with Retry-After, bad input, wrong key, callbacks (signed where the provider
// signs, duplicated), balance and health. Fixtures: test/providers/<name>.fixture.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  isProviderError,
  type CallbackRequest,
  type ProviderAdapter,
  type ProviderError,
  type SubmitRequest,
  type TaskStatus,
} from '../src/providers/types.ts';
import type { FakeProviderServer } from './fakes/fake-provider.ts';
import type { ContractFixture } from './providers/fixture.ts';

const fixturesDir = new URL('./providers/', import.meta.url);
const fixtures: ContractFixture[] = await Promise.all(
  readdirSync(fixturesDir)
    .filter((file) => file.endsWith('.fixture.ts'))
    .sort()
    .map(async (file) => ((await import(new URL(file, fixturesDir).href)) as { default: ContractFixture }).default),
);
const inputPng = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } })
  .png()
  .toBuffer();
const NOT_RETRYABLE = new Set(['bad_input', 'content_policy', 'bad_signature']);

it('has a fixture for every AI provider', () => {
  expect(fixtures.map((f) => f.name).sort()).toEqual(['fal', 'gemini', 'kie', 'nanobanana', 'wavespeed']);
});

describe.each(fixtures)('$name adapter against its fake', (fixture) => {
  let fake: FakeProviderServer;
  let adapter: ProviderAdapter;
  let receiver: CallbackReceiver;

  beforeAll(async () => {
    fake = await fixture.startFake();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await fake.close();
    await receiver.close();
  });
  beforeEach(() => {
    fake.reset();
    receiver.clear();
    adapter = fixture.adapter(fake, { timeoutMs: 2_000 });
  });

  const request = (overrides: Partial<SubmitRequest> = {}): SubmitRequest => ({
    generationId: 'gen_contract',
    model: fixture.model,
    prompt: 'warm golden hour lighting',
    imageUrls: [`${fake.url}/files/input.png?expires=${Date.now() + 60_000}`],
    images: [{ mime: 'image/png', data: inputPng }],
    ...overrides,
  });

  it('completes a task and hands back a real image', async () => {
    const { status } = await runToEnd(adapter, request());
    expect(status.state).toBe('completed');
    if (status.state !== 'completed') return;
    expect(status.outputs.length).toBeGreaterThan(0);
    const bytes = await outputBytes(status.outputs[0]!);
    expect((await sharp(bytes).metadata()).format).toBe('png');
  });

  it('reports a running task as pending until it ends', async () => {
    fake.set({ processingMs: 300 });
    const submitted = await adapter.submit(request());
    if (submitted.state === 'completed') {
      // A synchronous provider answers with the result itself.
      expect(adapter.supportsCallbacks).toBe(false);
      return;
    }
    expect(await adapter.status(submitted.providerTaskId)).toEqual({ state: 'pending' });
    const { status } = await runToEnd(adapter, request(), submitted.providerTaskId);
    expect(status.state).toBe('completed');
  });

  for (const [failure, kind] of Object.entries(fixture.failures)) {
    it(`surfaces ${failure} as a ${kind} error`, async () => {
      fake.set({ failure: failure as never });
      const error = await failureOf(adapter, request());
      expect(error.kind).toBe(kind);
      expect(error.provider).toBe(fixture.name);
      expect(error.retryable).toBe(!NOT_RETRYABLE.has(kind));
    });
  }

  it('honours Retry-After on 429', async () => {
    fake.set({ failure: 'rate_limited', retryAfterSeconds: 7 });
    const error = await failureOf(adapter, request());
    expect(error.kind).toBe('rate_limited');
    expect(error.retryAfterMs).toBe(7_000);
  });

  it('gives up on a provider that does not answer, within its time limit', async () => {
    adapter = fixture.adapter(fake, { timeoutMs: 300 });
    fake.set({ failure: 'hang' });
    const started = Date.now();
    const error = await failureOf(adapter, request());
    expect(error.kind).toBe('timeout');
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports a refused key as unauthorized', async () => {
    adapter = fixture.adapter(fake, { timeoutMs: 2_000, apiKey: 'wrong-key' });
    const error = await failureOf(adapter, request());
    expect(error.kind).toBe('unauthorized');
  });

  it('passes a health probe when up and fails it when down', async () => {
    await expect(adapter.health()).resolves.toBeUndefined();
    fake.set({ failure: 'server_error' });
    const error = await adapter.health().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isProviderError(error)).toBe(true);
  });

  it('reads the balance as an exact integer, where the provider has one', async () => {
    if (!fixture.balanceUnit) {
      expect(adapter.balance).toBeUndefined();
      return;
    }
    fake.set({ balance: 42 });
    expect(await adapter.balance!()).toEqual({ amount: fixture.balanceUnit === 'credit' ? 42 : 42_000_000, unit: fixture.balanceUnit });
  });

  // Registered only where the protocol has callbacks (a skipped test would hide nothing useful).
  if (fixture.name !== 'gemini')
    describe('callbacks', () => {
      it('parses a completion callback, the same way twice', async () => {
        const submitted = await adapter.submit(request({ callbackUrl: `${receiver.url}/callback?generation=gen_contract` }));
        expect(submitted.state).toBe('pending');
        const callback = await receiver.next();
        const event = await adapter.parseCallback!(callback);
        expect(event.providerTaskId).toBe(submitted.providerTaskId);
        expect(event.status.state).toBe('completed');
        if (event.status.state === 'completed') expect((await sharp(await outputBytes(event.status.outputs[0]!)).metadata()).format).toBe('png');
        // Providers retry callbacks: a duplicate parses to the same event (the generation applies it once).
        expect(await adapter.parseCallback!(callback)).toEqual(event);
      });

      it('parses a failure callback as a typed failure', async () => {
        fake.set({ failure: 'generation_failed' });
        const submitted = await adapter.submit(request({ callbackUrl: `${receiver.url}/callback` }));
        const event = await adapter.parseCallback!(await receiver.next());
        expect(event.providerTaskId).toBe(submitted.state === 'pending' ? submitted.providerTaskId : undefined);
        expect(event.status.state).toBe('failed');
        if (event.status.state === 'failed') expect(event.status.error.retryable).toBe(true);
      });

      if (fixture.signsCallbacks)
        it('refuses a callback whose signature does not verify', async () => {
          await adapter.submit(request({ callbackUrl: `${receiver.url}/callback` }));
          const tampered = fixture.tamper!(await receiver.next());
          const error = await adapter.parseCallback!(tampered).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isProviderError(error, 'bad_signature')).toBe(true);
        });
    });

  it('hands out result links that expire, as the real provider does', async () => {
    const { status } = await runToEnd(adapter, request());
    if (status.state !== 'completed') throw new Error('expected completion');
    const output = status.outputs[0]!;
    if (!('url' in output)) return expect(fixture.name).toBe('gemini'); // inline bytes never expire
    fake.expireResults();
    expect((await fetch(output.url)).status).toBe(404);
  });
});

async function runToEnd(adapter: ProviderAdapter, request: SubmitRequest, taskId?: string): Promise<{ status: TaskStatus }> {
  let providerTaskId = taskId;
  if (!providerTaskId) {
    const submitted = await adapter.submit(request);
    if (submitted.state === 'completed') return { status: { state: 'completed', outputs: submitted.outputs } };
    providerTaskId = submitted.providerTaskId;
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await adapter.status(providerTaskId);
    if (status.state !== 'pending') return { status };
    if (Date.now() > deadline) throw new Error('task did not end');
    await sleep(25); // polling is the protocol here
  }
}

async function failureOf(adapter: ProviderAdapter, request: SubmitRequest): Promise<ProviderError> {
  try {
    const { status } = await runToEnd(adapter, request);
    if (status.state === 'failed') return status.error;
  } catch (error) {
    if (isProviderError(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

async function outputBytes(output: { url: string } | { inline: { data: Buffer } }): Promise<Buffer> {
  if ('inline' in output) return output.inline.data;
  const response = await fetch(output.url);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

interface CallbackReceiver {
  url: string;
  received: CallbackRequest[];
  next(): Promise<CallbackRequest>;
  clear(): void;
  close(): Promise<void>;
}

/** A real HTTP endpoint for the fakes' callbacks, keeping each exactly as it arrived. */
async function startReceiver(): Promise<CallbackReceiver> {
  const received: CallbackRequest[] = [];
  const waiting: (() => void)[] = [];
  let taken = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    received.push({ headers, rawBody: Buffer.concat(chunks), query: Object.fromEntries(url.searchParams) });
    res.writeHead(200).end('ok');
    waiting.splice(0).forEach((wake) => wake());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    async next() {
      const deadline = Date.now() + 10_000;
      while (received.length <= taken) {
        if (Date.now() > deadline) throw new Error('no callback arrived');
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 100).unref();
        });
      }
      return received[taken++]!;
    },
    clear() {
      received.length = 0;
      taken = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
