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
  const response = await t.request('POST', '/api/enhance-image', { auth: token, body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting', prompt: 'golden hour' } });
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
