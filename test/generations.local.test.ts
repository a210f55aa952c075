// Generations with no AI provider configured: the local provider does the work and is charged, so the
// whole credit flow runs out of the box. Input safety (SSRF, content checks) is proven here too.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedAddress } from '../src/net/safe-fetch.ts';
import { fetchResult, waitForTask } from './support/generations.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { startImageServer, testPng, type ImageServer } from './support/images.ts';

let t: TestApp;
let images: ImageServer;
let alice: string;
let bob: string;
const photo = () => `http://images.test:${images.port}/photo.png`;

// Host names under .test resolve to 127.0.0.1; only images.test is allowlisted, like a private
// deployment that names the one internal host it trusts.
const lookup = async (host: string): Promise<ResolvedAddress[]> => (host.endsWith('.test') ? [{ address: '127.0.0.1', family: 4 }] : []);

beforeAll(async () => {
  images = await startImageServer();
  t = await createTestApp({ TALLY_URL_ALLOWLIST: 'images.test' }, {}, undefined, { worker: true, lookup });
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  for (const user of ['alice', 'bob']) await t.credits.purchase({ userId: user, packageId: 'starter' });
  alice = await t.userToken('alice');
  bob = await t.userToken('bob');
});
afterAll(() => images.close());

describe('the local provider, charged when no AI provider is configured', () => {
  it('takes a submission at once, processes it, stores a real image, and charges one credit', async () => {
    const submitted = await t.request('POST', '/api/enhance-image', {
      auth: alice,
      body: { inputImageUrl: photo(), enhancementType: 'lighting', prompt: 'warm light', strength: 0.8 },
    });
    expect(submitted.status).toBe(202);
    const accepted = await submitted.json();
    expect(accepted).toMatchObject({ status: 'queued', creditsCharged: 1, remainingBalance: 9 });

    const task = await waitForTask(t, alice, accepted.taskId);
    expect(task).toMatchObject({ status: 'completed', provider: 'local', degraded: false, creditsCharged: 1, errorMessage: null });
    const result = await fetchResult(t, task.resultUrl!);
    expect(result.status).toBe(200);
    expect(result.type).toBe('image/png');
    const meta = await sharp(result.data).metadata();
    expect([meta.width, meta.height]).toEqual([40, 30]);
    // The adjustment is real: lighting brightens the picture.
    const [before, after] = await Promise.all([sharp(images.png).stats(), sharp(result.data).stats()]);
    expect(after.channels[0]!.mean).toBeGreaterThan(before.channels[0]!.mean);

    expect((await t.credits.balance('alice')).balance).toBe(9);
    expect((await t.ledger.checkInvariants(t.credits.invariantChecks())).ok).toBe(true);
  });

  it('accepts an uploaded image (multipart) and stores it under the user, type and generation', async () => {
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(await testPng('#aa5522'))], { type: 'image/png' }), 'in.png');
    form.set('enhancementType', 'mood');
    const response = await t.app.request('/v1/generations', { method: 'POST', body: form, headers: { authorization: `Bearer ${alice}` } });
    expect(response.status).toBe(202);
    const { task } = await response.json();
    const done = await waitForTask(t, alice, task.id);
    expect(done.status).toBe('completed');
    expect(new URL(done.resultUrl!).pathname).toBe(`/files/alice/mood/${task.id}.png`);
  });

  it('lists the caller’s tasks newest first and hides everyone else’s', async () => {
    const list = await (await t.request('GET', '/api/enhance-image?limit=10', { auth: alice })).json();
    expect(list.tasks.length).toBeGreaterThanOrEqual(2);
    const times = list.tasks.map((task: { createdAt: string }) => task.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    const someone = list.tasks[0].id;
    expect((await t.request('GET', `/api/enhance-image?taskId=${someone}`, { auth: bob })).status).toBe(404);
    expect((await t.request('GET', `/v1/generations/${someone}`, { auth: bob })).status).toBe(404);
    expect((await (await t.request('GET', '/api/enhance-image', { auth: bob })).json()).tasks).toEqual([]);
  });

  it('answers 402 to a free user without credits, telling them to upgrade, and holds nothing', async () => {
    const carol = await t.userToken('carol');
    const response = await t.request('POST', '/api/enhance-image', { auth: carol, body: { inputImageUrl: photo(), enhancementType: 'style' } });
    expect(response.status).toBe(402);
    const problem = await response.json();
    expect(problem.error).toMatch(/upgrade/i);
    expect(problem).toMatchObject({ needed: 1, available: 0, upgrade: true });
    expect((await (await t.request('GET', '/api/enhance-image', { auth: carol })).json()).tasks).toEqual([]);
  });

  it('answers /api/infer with the stored result, and 404 for an unknown model', async () => {
    const before = (await t.credits.balance('bob')).balance;
    const response = await t.request('POST', '/api/infer', { auth: bob, body: { modelId: 'enhance', inputs: { prompt: 'brighter', imageUrl: photo() } } });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ status: 'success', creditsUsed: 1, balance: before - 1 });
    expect((await fetchResult(t, body.url)).status).toBe(200);
    const unknown = await t.request('POST', '/api/infer', { auth: bob, body: { modelId: 'no-such-model', inputs: { prompt: 'x' } } });
    expect(unknown.status).toBe(404);
  });

  it('fails a prompt-only request the local provider cannot do, with a 502, and refunds it', async () => {
    const before = (await t.credits.balance('bob')).balance;
    const response = await t.request('POST', '/api/infer', { auth: bob, body: { modelId: 'seedream_image', inputs: { prompt: 'a majestic dragon' } } });
    expect(response.status).toBe(502);
    const problem = await response.json();
    expect(problem.detail).toMatch(/input image/);
    expect(problem.generationId).toMatch(/^gen_/);
    expect((await t.credits.balance('bob')).balance).toBe(before);
  });
});

describe('input safety', () => {
  const refused = async (inputImageUrl: string) => {
    const response = await t.request('POST', '/api/enhance-image', { auth: alice, body: { inputImageUrl, enhancementType: 'lighting' } });
    const body = await response.json();
    return { status: response.status, body };
  };

  it.each([
    ['loopback', () => `http://127.0.0.1:${images.port}/photo.png`],
    ['a private network', () => 'http://10.0.0.1/photo.png'],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ['IPv6 loopback', () => `http://[::1]:${images.port}/photo.png`],
    ['a DNS name resolving to loopback', () => `http://evil.test:${images.port}/photo.png`],
    ['a redirect to loopback', () => `http://images.test:${images.port}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${images.port}/photo.png`)}`],
  ])('refuses %s with a clear 400 naming the field, and charges nothing', async (_name, url) => {
    const balance = (await t.credits.balance('alice')).balance;
    const { status, body } = await refused(url());
    expect(status).toBe(400);
    expect(body.errors[0].path).toBe('body.inputImageUrl');
    expect(body.detail).toMatch(/private|local|reserved/);
    expect((await t.credits.balance('alice')).balance).toBe(balance);
  });

  it('refuses a file that claims to be an image but is not', async () => {
    const { status, body } = await refused(`http://images.test:${images.port}/fake.png`);
    expect(status).toBe(400);
    expect(body.detail).toMatch(/not a usable image/);
  });

  it('refuses an upload that is not an image, judged by its bytes', async () => {
    const form = new FormData();
    form.set('image', new Blob(['GIF89a but not really'], { type: 'image/gif' }), 'x.gif');
    form.set('enhancementType', 'style');
    const response = await t.app.request('/api/enhance-image', { method: 'POST', body: form, headers: { authorization: `Bearer ${alice}` } });
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].path).toBe('body.image');
  });

  it('refuses a result webhook pointing at a private address', async () => {
    const response = await t.request('PUT', '/v1/webhook', { auth: alice, body: { url: 'http://127.0.0.1:9/hook' } });
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].path).toBe('body.url');
  });

  it('serves result links only with a valid signature', async () => {
    const { tasks } = await (await t.request('GET', '/api/enhance-image?limit=1', { auth: alice })).json();
    const link = new URL(tasks[0].resultUrl);
    expect((await t.request('GET', link.pathname + link.search)).status).toBe(200);
    link.searchParams.set('signature', 'forged');
    expect((await t.request('GET', link.pathname + link.search)).status).toBe(404);
    expect((await t.request('GET', link.pathname)).status).toBe(404);
  });
});
