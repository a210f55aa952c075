// Provider answers the fakes did not produce before issue 11, each taught to its fake and driven
// through the whole app (submit, poll, callbacks on the real route): Kie's "recordInfo is null" right
// after submit, Kie callbacks naming `task_id`, WaveSpeed's terminal `cancelled` / `timeout`, and
// NanoBanana callbacks in the record shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KIE_FAKE_WEBHOOK_HMAC_KEY, startKieFake, type KieFake } from './fakes/kie.ts';
import { startNanoBananaFake, type NanoBananaFake } from './fakes/nanobanana.ts';
import { startWaveSpeedFake, type WaveSpeedFake } from './fakes/wavespeed.ts';
import type { FakeProviderServer } from './fakes/fake-provider.ts';
import { waitForTask } from './support/generations.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';

let images: ImageServer;
let kie: KieFake;
let wave: WaveSpeedFake;
let nano: NanoBananaFake;
beforeAll(async () => {
  [images, kie, wave, nano] = await Promise.all([startImageServer(), startKieFake(), startWaveSpeedFake(), startNanoBananaFake()]);
});
afterAll(() => Promise.all([images.close(), kie.close(), wave.close(), nano.close()]));

/** An app whose only AI provider is the one under test, processing and listening for callbacks. */
async function appWith(env: Record<string, string>): Promise<TestApp> {
  const t = await createTestApp({ ...env, TALLY_URL_ALLOWLIST: '127.0.0.1/32', TALLY_GENERATION_POLL_INTERVAL_MS: '50' }, {}, undefined, {
    worker: true,
    listen: true,
  });
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await t.credits.refill({ provider: 'seedream', amount: 1000, reason: 'test' });
  return t;
}

let users = 0;
async function enhance(t: TestApp): Promise<{ id: string; token: string }> {
  const user = `edge${++users}`;
  await t.credits.purchase({ userId: user, packageId: 'starter' });
  const token = await t.userToken(user);
  const response = await t.request('POST', '/api/enhance-image', {
    auth: token,
    body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting', prompt: 'dusk' },
  });
  expect(response.status).toBe(202);
  return { id: ((await response.json()) as { taskId: string }).taskId, token };
}

/** Waits for the fake's n-th callback delivery to be answered (checked every 20 ms). */
async function delivered(fake: FakeProviderServer, count = 1): Promise<FakeProviderServer['callbacksSent']> {
  const deadline = Date.now() + 10_000;
  while (fake.callbacksSent.filter((c) => c.status !== undefined).length < count) {
    if (Date.now() > deadline) throw new Error('callback not delivered');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return fake.callbacksSent;
}

const attemptsOf = async (t: TestApp, id: string) =>
  (
    await t.db.pool.query<{ provider: string; status: string; error_kind: string | null; callback_status: { state: string } | null }>(
      'select provider, status, error_kind, callback_status from generation_attempts where generation_id = $1 order by started_at',
      [id],
    )
  ).rows;

describe('Kie', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await appWith({ KIE_BASE_URL: kie.url, KIE_API_KEY: kie.apiKey, KIE_WEBHOOK_HMAC_KEY: KIE_FAKE_WEBHOOK_HMAC_KEY });
  });

  it('a task not visible yet right after submit ({code: 422, "recordInfo is null"}) is pending, not abandoned', async () => {
    kie.reset();
    kie.invisibleMs = 400;
    kie.set({ processingMs: 600 });
    const { id, token } = await enhance(t);
    const task = await waitForTask(t, token, id);
    expect(task).toMatchObject({ status: 'completed', provider: 'kie', degraded: false, creditsCharged: 1 });
    expect(kie.requests.filter((r) => r.method === 'POST')).toHaveLength(1); // submitted (and billed) once
  });

  it('a callback naming the task in data.task_id is taken', async () => {
    kie.reset();
    kie.callbackTaskIdField = 'task_id';
    const { id, token } = await enhance(t);
    const [sent] = await delivered(kie);
    expect(JSON.parse(sent!.body).data.task_id).toBeDefined();
    expect(sent!.status).toBe(200);
    expect(await waitForTask(t, token, id)).toMatchObject({ status: 'completed', provider: 'kie' });
  });
});

describe('WaveSpeed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await appWith({ WAVESPEED_BASE_URL: wave.url, WAVESPEED_API_KEY: wave.apiKey, WAVESPEED_WEBHOOK_SECRET: wave.webhookSecret });
  });

  for (const status of ['cancelled', 'timeout'] as const) {
    it(`a prediction ending "${status}" is a failure (its webhook answered 2xx), not a protocol error`, async () => {
      wave.reset();
      wave.failedStatus = status;
      wave.set({ failure: 'generation_failed' });
      const { id, token } = await enhance(t);
      const [sent] = await delivered(wave);
      expect(JSON.parse(sent!.body).status).toBe(status);
      expect(sent!.status).toBe(200);
      const task = await waitForTask(t, token, id);
      expect(task).toMatchObject({ provider: 'local', degraded: true, creditsCharged: 0 }); // the only provider failed: free local result
      expect(await attemptsOf(t, id)).toMatchObject([{ provider: 'wavespeed', status: 'failed', error_kind: 'generation_failed' }]);
    });
  }
});

describe('NanoBanana', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await appWith({ NANOBANANA_BASE_URL: nano.url, NANOBANANA_API_KEY: nano.apiKey });
  });

  it('reads callbacks in the record shape (code 200, outcome in data.successFlag / data.response)', async () => {
    nano.reset();
    nano.callbackShape = 'record';
    const { id, token } = await enhance(t);
    const [sent] = await delivered(nano);
    expect(JSON.parse(sent!.body)).toMatchObject({ code: 200, data: { successFlag: 1 } });
    expect(sent!.status).toBe(200);
    expect(await waitForTask(t, token, id)).toMatchObject({ status: 'completed', provider: 'nanobanana' });
    expect(await attemptsOf(t, id)).toMatchObject([{ callback_status: { state: 'completed' } }]);
  });

  it('a record-shaped callback of a failed task is read as the failure it is, though its code is 200', async () => {
    nano.reset();
    nano.callbackShape = 'record';
    nano.set({ failure: 'generation_failed' });
    const { id, token } = await enhance(t);
    const [sent] = await delivered(nano);
    expect(JSON.parse(sent!.body)).toMatchObject({ code: 200, data: { successFlag: 3 } });
    expect(sent!.status).toBe(200);
    await waitForTask(t, token, id);
    expect(await attemptsOf(t, id)).toMatchObject([{ status: 'failed', error_kind: 'generation_failed', callback_status: { state: 'failed' } }]);
  });
});
