// What happens when work outlives its time: /api/infer answers 504 with the id to poll while the work
// goes on, a generation past its deadline is failed and refunded by the worker's sweep, and the
// process-tasks trigger voids holds that expired with nobody to end them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNanoBananaFake, type NanoBananaFake } from './fakes/nanobanana.ts';
import { createTestApp, JOB_TOKEN, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';
import { waitFor } from './support/wait.ts';

let t: TestApp;
let nano: NanoBananaFake;
let images: ImageServer;

const TIMEOUT_SECONDS = 5; // the smallest deadline the config allows

beforeAll(async () => {
  [nano, images] = await Promise.all([startNanoBananaFake(), startImageServer()]);
  t = await createTestApp(
    {
      NANOBANANA_BASE_URL: nano.url,
      NANOBANANA_API_KEY: nano.apiKey,
      TALLY_URL_ALLOWLIST: '127.0.0.1/32',
      TALLY_GENERATION_POLL_INTERVAL_MS: '50',
    },
    { generations: { syncWaitSeconds: 1, timeoutSeconds: TIMEOUT_SECONDS, maintenanceSeconds: 1 } },
    undefined,
    { worker: true, listen: true },
  );
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
});
afterAll(async () => {
  await Promise.all([nano.close(), images.close()]);
});

async function userWithStarter(userId: string): Promise<string> {
  await t.credits.purchase({ userId, packageId: 'starter' });
  return t.userToken(userId);
}

const generation = (token: string, id: string) => async () =>
  (await (await t.request('GET', `/v1/generations/${id}`, { auth: token })).json()) as { status: string; errorMessage: string | null };

describe('deadlines', () => {
  it('/api/infer answers 504 with the id to poll when the provider is slower than the wait; the work finishes and is charged once', async () => {
    nano.set({ processingMs: 2_500, callbacks: false });
    const token = await userWithStarter('slow-infer');
    const started = Date.now();
    const response = await t.request('POST', '/api/infer', {
      auth: token,
      body: { modelId: 'enhance', inputs: { prompt: 'warm', imageUrl: `${images.url}/photo.png` } },
    });
    expect(response.status).toBe(504);
    const problem = (await response.json()) as { code: string; generationId: string };
    expect(problem.code).toBe('gateway_timeout');
    expect(Date.now() - started).toBeLessThan(2_500); // answered before the provider finished
    const done = await waitFor(generation(token, problem.generationId), (g) => g.status === 'completed' || g.status === 'failed', {
      what: 'the generation to end',
    });
    expect(done.status).toBe('completed');
    expect((await t.credits.balance('slow-infer')).balance).toBe(9);
  });

  it('a generation past its deadline is failed and its credit refunded, with nothing left held', async () => {
    nano.set({ processingMs: 10 * 60_000, callbacks: false }); // the provider never finishes in time
    const token = await userWithStarter('overdue');
    const submitted = await t.request('POST', '/v1/generations', {
      auth: token,
      body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting' },
    });
    expect(submitted.status).toBe(202);
    const { task } = (await submitted.json()) as { task: { id: string } };
    expect((await t.credits.balance('overdue')).balance).toBe(9); // held while it runs
    const failed = await waitFor(generation(token, task.id), (g) => g.status !== 'queued' && g.status !== 'processing', {
      timeoutMs: (TIMEOUT_SECONDS + 10) * 1000,
      what: 'the deadline sweep',
    });
    expect(failed.status).toBe('failed');
    expect(failed.errorMessage).toBeTruthy();
    expect((await t.credits.balance('overdue')).balance).toBe(10);
    const pending = await t.db.pool.query<{ n: number }>(
      "select count(*)::int as n from ledger_transfers where state = 'pending' and debit_account_id like '%overdue%'",
    );
    expect(pending.rows[0]!.n).toBe(0);
    expect((await t.ledger.checkInvariants(t.credits.invariantChecks())).ok).toBe(true);
  });

  it('POST /api/background/process-tasks voids a hold that expired with nobody left to end it', async () => {
    await userWithStarter('stranded');
    const expiresAt = new Date(Date.now() + 300);
    await t.credits.chargeHold({ userId: 'stranded', credits: 3, key: 'stranded-hold', expiresAt });
    expect((await t.credits.balance('stranded')).balance).toBe(7);
    await waitFor(async () => (await t.db.pool.query<{ past: boolean }>('select now() > $1::timestamptz as past', [expiresAt])).rows[0]!.past, Boolean, {
      what: 'the hold to expire',
    });
    const response = await t.request('POST', '/api/background/process-tasks', { auth: JOB_TOKEN });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ success: true, expiredHolds: 1 });
    expect((await t.credits.balance('stranded')).balance).toBe(10);
    const again = await t.request('POST', '/api/background/process-tasks', { auth: JOB_TOKEN });
    expect(await again.json()).toMatchObject({ expiredHolds: 0 });
  });
});
