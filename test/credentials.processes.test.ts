// Provider credentials across processes (src/credentials/README.md, "Without a restart"): a key an admin
// stores through one process's API is used by a separate worker process that started without any
// provider key, and a changed key reaches it too, with neither process restarted.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startKieFake, type KieFake } from './fakes/kie.ts';
import { startCli, stopAllClis, type RunningCli } from './support/cli.ts';
import { enhanceAs as enhance } from './support/generations.ts';
import { createTestApp, processEnv, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';

const ENCRYPTION_KEY = randomBytes(32).toString('base64');
const FIRST = 'kie-first-process-key-0123456789-P1';
const SECOND = 'kie-second-process-key-9876543210-P2';
let t: TestApp;
let kie: KieFake;
let images: ImageServer;
let worker: RunningCli;

beforeAll(async () => {
  [kie, images] = await Promise.all([startKieFake(), startImageServer()]);
  const settings = { TALLY_ENCRYPTION_KEY: ENCRYPTION_KEY, TALLY_URL_ALLOWLIST: '127.0.0.1/32', TALLY_GENERATION_POLL_INTERVAL_MS: '100' };
  // This process serves the API and takes Kie's callbacks; it runs no worker, so all work is the other process's.
  t = await createTestApp(settings, {}, undefined, { listen: true });
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  worker = startCli(['worker'], processEnv(t, { ...settings, TALLY_PUBLIC_URL: t.config.publicUrl }));
  await worker.waitFor(/worker started/);
});
afterAll(async () => {
  await stopAllClis();
  await Promise.all([kie.close(), images.close()]);
});

const enhanceAs = (user: string) => enhance(t, user, `${images.url}/photo.png`);

it('a worker process started without provider keys uses a key stored through another process, and then its replacement', async () => {
  kie.apiKey = FIRST;
  const put = async (apiKey: string) => {
    const response = await t.request('PUT', '/v1/admin/providers/kie/credentials', { auth: t.adminKey, body: { apiKey, baseUrl: kie.url } });
    // Other processes look for changed credentials at most once a second (the promised bound; nothing
    // signals the look), so the next generation is submitted past it.
    await sleep(1_100);
    return response;
  };
  expect((await put(FIRST)).status).toBe(200);
  // Kie's stand-in accepts only its current key, so a task there proves the worker sent that key.
  expect(await enhanceAs('pia')).toMatchObject({ status: 'completed', degraded: false, provider: 'kie' });
  expect(kie.tasks.size).toBe(1);

  kie.apiKey = SECOND;
  expect((await put(SECOND)).status).toBe(200);
  expect(await enhanceAs('quin')).toMatchObject({ status: 'completed', degraded: false, provider: 'kie' });
  expect(kie.tasks.size).toBe(2);
  expect(worker.output().match(/provider credentials changed; adapters rebuilt/g)).toHaveLength(2);
});
