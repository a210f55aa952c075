// Generations hardened (issue 11): what users are told when a provider fails, and callbacks that are
// only believed once the provider confirms them. Fakes on 127.0.0.1 speak each provider's protocol.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../src/generations/index.ts';
import { startNanoBananaFake, type NanoBananaFake } from './fakes/nanobanana.ts';
import { waitForTask } from './support/generations.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';

let t: TestApp;
let nano: NanoBananaFake;
let images: ImageServer;
let token: string;
let user = 0;

beforeAll(async () => {
  [nano, images] = await Promise.all([startNanoBananaFake(), startImageServer()]);
  t = await createTestApp(
    { NANOBANANA_BASE_URL: nano.url, NANOBANANA_API_KEY: nano.apiKey, TALLY_URL_ALLOWLIST: '127.0.0.1/32', TALLY_GENERATION_POLL_INTERVAL_MS: '50' },
    {},
    undefined,
    { worker: true, listen: true },
  );
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
});
afterAll(async () => {
  await Promise.all([nano.close(), images.close()]);
});
beforeEach(async () => {
  nano.reset();
  user += 1;
  await t.credits.purchase({ userId: `h${user}`, packageId: 'starter' });
  token = await t.userToken(`h${user}`);
});

async function submit(): Promise<string> {
  const response = await t.request('POST', '/api/enhance-image', {
    auth: token,
    body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting', prompt: 'golden hour' },
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { taskId: string }).taskId;
}

describe('a provider’s own error text', () => {
  it('is not shown to the user, who gets a plain reason; the admin view keeps it', async () => {
    nano.set({ failure: 'bad_input' });
    const task: Task = await waitForTask(t, token, await submit());
    expect(task).toMatchObject({ status: 'failed', errorCode: 'bad_input', creditsCharged: 0 });
    expect(task.errorMessage).not.toMatch(/Validation error|nanobanana|code 4/i);
    expect(task.errorMessage).toMatch(/refunded/);
    const admin = await (await t.request('GET', `/v1/admin/generations/${task.id}`, { auth: t.adminKey })).json();
    expect(admin.attempts[0].errorMessage).toMatch(/Validation error/);
  });
});

/** Waits for a condition the fakes or the database reach on their own (checked every 20 ms). */
async function until<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a provider callback is a wake-up, not the truth', () => {
  it('a forged "completed" callback (valid URL token) does not settle a task the provider still runs', async () => {
    nano.set({ processingMs: 1500, callbacks: false });
    const id = await submit();
    const task = await until(() => [...nano.tasks.values()][0]);
    const forgedResult = `${images.url}/redirect?to=/photo.png`;
    const forged = await fetch(task.callbackUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 200, msg: 'Image generated successfully.', data: { taskId: task.id, info: { resultImageUrl: forgedResult } } }),
    });
    expect(forged.status).toBe(200);
    const done = await waitForTask(t, token, id);
    expect(done.status).toBe('completed');
    // The result is the provider's own, fetched once the provider said so; the forged link was never used.
    expect(images.requests.some((r) => r.startsWith('/redirect'))).toBe(false);
    expect(Date.now() - task.createdAt).toBeGreaterThanOrEqual(1500);
  });

  it('a forged "failed" callback does not refund a task the provider completes', async () => {
    nano.set({ processingMs: 800, callbacks: false });
    const id = await submit();
    const task = await until(() => [...nano.tasks.values()][0]);
    await fetch(task.callbackUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 501, msg: 'Image generation failed', data: { taskId: task.id, info: null } }),
    });
    const done = await waitForTask(t, token, id);
    expect(done).toMatchObject({ status: 'completed', provider: 'nanobanana', creditsCharged: 1 });
  });

  it('callback URLs carry an expiry and are refused once it has passed, or for another generation', async () => {
    nano.set({ processingMs: 600, callbacks: false });
    const id = await submit();
    const task = await until(() => [...nano.tasks.values()][0]);
    const url = new URL(task.callbackUrl!);
    expect(Number(url.searchParams.get('expires'))).toBeGreaterThan(Date.now() / 1000);
    const body = JSON.stringify({ code: 200, msg: 'ok', data: { taskId: task.id, info: { resultImageUrl: 'https://example.com/x.png' } } });
    const post = (u: URL) => fetch(u, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const expired = new URL(url);
    expired.searchParams.set('expires', String(Math.floor(Date.now() / 1000) - 1));
    expect((await post(expired)).status).toBe(401);
    const noExpiry = new URL(url);
    noExpiry.searchParams.delete('expires');
    expect((await post(noExpiry)).status).toBe(401);
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    expect((await post(later)).status).toBe(401); // the expiry is signed: it cannot be pushed back
    await waitForTask(t, token, id);
    // The URL of this generation's attempt does not work for another generation's attempt.
    const other = await submit();
    const otherTask = await until(() => [...nano.tasks.values()].find((task) => task.id !== [...nano.tasks.values()][0]!.id));
    const crossed = new URL(url);
    crossed.searchParams.set('attempt', new URL(otherTask.callbackUrl!).searchParams.get('attempt')!);
    expect((await post(crossed)).status).toBe(401);
    await waitForTask(t, token, other);
  });
});
