// A worker killed (SIGKILL, no goodbye) while generations are in flight at a slow provider, then a new
// worker started: every generation ends, each provider task is picked up again rather than paid twice,
// no credit is lost or charged twice, and the ledger check passes. The same for an API process killed
// while it runs sync (/api/infer) generations itself: their leases run out and a worker resumes them.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../src/db/embedded.ts';
import { startNanoBananaFake, type NanoBananaFake } from './fakes/nanobanana.ts';
import { startCli, stopAllClis } from './support/cli.ts';
import { createTestApp, type TestApp, processEnv } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';

const IN_FLIGHT = 6;
let t: TestApp;
let nano: NanoBananaFake;
let images: ImageServer;
let env: Record<string, string>;

beforeAll(async () => {
  [nano, images] = await Promise.all([startNanoBananaFake(), startImageServer()]);
  const settings = {
    NANOBANANA_BASE_URL: nano.url,
    NANOBANANA_API_KEY: nano.apiKey,
    TALLY_URL_ALLOWLIST: '127.0.0.1/32',
    TALLY_FILE_SIGNING_SECRET: 'crash-test-signing-secret-0123456789',
    TALLY_GENERATION_POLL_INTERVAL_MS: '200',
    TALLY_GENERATION_LEASE_SECONDS: '2',
    TALLY_GENERATION_MAINTENANCE_SECONDS: '1',
  };
  // The API runs here (it also takes the provider's callbacks); the workers are OS processes.
  t = await createTestApp(settings, {}, undefined, { listen: true });
  // Callbacks and file links name the in-process app, which takes the providers' callbacks.
  env = processEnv(t, { ...settings, TALLY_PUBLIC_URL: t.config.publicUrl });
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await t.credits.purchase({ userId: 'victim', packageId: 'starter' });
  await t.credits.purchase({ userId: 'sync-victim', packageId: 'starter' });
});
afterAll(async () => {
  await stopAllClis();
  await Promise.all([nano.close(), images.close()]);
});

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the child processes move on their own clock
  }
}

it('loses nothing when a worker is killed mid-flight and another takes over', async () => {
  nano.set({ processingMs: 4_000, callbacks: true });
  const token = await t.userToken('victim');
  const ids: string[] = [];
  for (let i = 0; i < IN_FLIGHT; i++) {
    const response = await t.request('POST', '/api/enhance-image', {
      auth: token,
      body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting' },
    });
    expect(response.status).toBe(202);
    ids.push(((await response.json()) as { taskId: string }).taskId);
  }

  const doomed = startCli(['worker'], env);
  await doomed.waitFor(/worker started/);
  // Every generation is at the provider (a task id recorded) and none has finished.
  await until(
    async () => (await t.db.pool.query<{ n: number }>('select count(*)::int as n from generation_attempts where provider_task_id is not null')).rows[0]!.n,
    (n) => n === IN_FLIGHT,
    20_000,
  );
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  const open = await t.db.pool.query<{ n: number }>("select count(*)::int as n from generations where status in ('queued', 'processing')");
  expect(open.rows[0]!.n).toBe(IN_FLIGHT);

  startCli(['worker'], env);
  await expectTakenOverAndPaidOnce(ids, 'victim');
});

/** A new worker finishes every generation, resuming each provider task (one submit each), charging each once. */
async function expectTakenOverAndPaidOnce(ids: string[], userId: string) {
  const statuses = await until(
    async () => (await t.db.pool.query<{ status: string }>('select status from generations where id = any($1)', [ids])).rows.map((r) => r.status),
    (all) => all.every((s) => s === 'completed' || s === 'failed'),
    60_000,
  );
  expect(statuses).toEqual(ids.map(() => 'completed'));
  // Each provider task was resumed, not submitted again (the platform paid the provider once each).
  expect(nano.requests.filter((r) => r.method === 'POST' && r.path.includes('/generate'))).toHaveLength(ids.length);
  const attempts = await t.db.pool.query<{ n: number }>('select count(*)::int as n from generation_attempts where generation_id = any($1)', [ids]);
  expect(attempts.rows[0]!.n).toBe(ids.length);
  // Charged exactly once each, nothing left held, the books balance.
  expect((await t.credits.balance(userId)).balance).toBe(10 - ids.length);
  const pending = await t.db.pool.query<{ n: number }>("select count(*)::int as n from ledger_transfers where state = 'pending'");
  expect(pending.rows[0]!.n).toBe(0);
  const report = await t.ledger.checkInvariants(t.credits.invariantChecks());
  expect(report.ok, JSON.stringify(report)).toBe(true);
}

it('loses nothing when an API process is killed while it runs sync generations', async () => {
  nano.reset();
  nano.set({ processingMs: 4_000, callbacks: true });
  const port = await freePort();
  const api = startCli(['serve'], { ...env, PORT: String(port) });
  await api.waitFor(/HTTP API listening/);
  const token = await t.userToken('sync-victim');
  const calls = Array.from({ length: IN_FLIGHT }, () =>
    fetch(`http://127.0.0.1:${port}/api/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ modelId: 'nano_banana_image', inputs: { prompt: 'a lighthouse', imageUrl: `${images.url}/photo.png` } }),
    }).then(
      (response) => response.status,
      () => 'cut off',
    ),
  );
  const inFlight = async () =>
    (
      await t.db.pool.query<{ id: string }>(
        `select g.id from generations g join generation_attempts a on a.generation_id = g.id
          where g.user_id = 'sync-victim' and a.provider_task_id is not null`,
      )
    ).rows.map((r) => r.id);
  const ids = await until(inFlight, (found) => found.length === IN_FLIGHT, 20_000);
  api.child.kill('SIGKILL');
  await api.exited;
  expect(await Promise.all(calls)).toEqual(ids.map(() => 'cut off'));
  expect((await t.credits.balance('sync-victim')).balance).toBe(10 - IN_FLIGHT); // still held

  startCli(['worker'], env);
  await expectTakenOverAndPaidOnce(ids, 'sync-victim');
});
