// A database restart (a managed database's failover or maintenance) must not take Tally down: with
// its own embedded PostgreSQL, this test stops the server under a running app and worker, checks that
// requests meanwhile get 503 with Retry-After and /readyz says why, starts it again, and checks that
// work resumes by itself with nothing lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config/index.ts';
import { freePort, openEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { createApp } from '../src/http/app.ts';
import { migrateQueue } from '../src/queue/index.ts';
import { createServices, httpDependencies, type Services } from '../src/services.ts';
import { waitForTask } from './support/generations.ts';
import { JWT_SECRET, AUDIENCE } from './support/http.ts';
import { testPng } from './support/images.ts';
import { SignJWT } from 'jose';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const dataDir = mkdtempSync(path.join(tmpdir(), 'tally-restart-'));
let port: number;
let server: EmbeddedServer;
let pool: Pool;
let services: Services;
let config: Config;
let app: ReturnType<typeof createApp>;
let token: string;

const request = (method: string, p: string, body?: BodyInit) =>
  Promise.resolve(app.request(p, { method, body, headers: { authorization: `Bearer ${token}` } }));
const startServer = () => openEmbeddedPostgres({ dataDir, port, log });

beforeAll(async () => {
  port = await freePort();
  server = await startServer();
  config = loadConfig({
    env: {
      JWT_SECRET,
      JWT_AUDIENCE: AUDIENCE,
      TALLY_RATE_LIMIT_ENABLED: 'false',
      TALLY_DATA_DIR: dataDir,
      DATABASE_URL: server.url,
      TALLY_GENERATION_MAINTENANCE_SECONDS: '1',
    },
  });
  pool = createPool(server.url, 5);
  await migrate(pool);
  await migrateQueue(pool);
  services = createServices({ config, pool, log });
  await services.credits.openPlatformAccounts();
  await services.start({ worker: true });
  app = createApp(httpDependencies(services, { config, pool, log }));
  await services.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await services.credits.purchase({ userId: 'alice', packageId: 'starter' });
  token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setAudience(AUDIENCE)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
});
afterAll(async () => {
  await services?.stop();
  await pool?.end();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function submit(): Promise<string> {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(await testPng())], { type: 'image/png' }), 'in.png');
  form.set('enhancementType', 'lighting');
  const response = await request('POST', '/api/enhance-image', form);
  expect(response.status).toBe(202);
  return ((await response.json()) as { taskId: string }).taskId;
}

describe('a database restart under a running app and worker', () => {
  it('answers 503 with Retry-After meanwhile, /readyz says why, and work resumes by itself', async () => {
    expect((await request('GET', '/v1/me')).status).toBe(200);
    expect((await waitForTask({ request: (m, p) => request(m, p) }, token, await submit())).status).toBe('completed');

    // A connection checked out of the pool when the server goes (as a transaction or the ledger's batch
    // holds one): its 'error' event must not be unhandled, which would end the process.
    const held = await pool.connect();
    const heldLost = new Promise((resolve) => held.once('error', resolve));
    await server.stop(); // every connection is terminated ("administrator command")
    await heldLost;
    held.release(true);
    for (const p of ['/v1/me', '/v1/credits/balance', '/api/enhance-image?limit=5']) {
      const response = await request('GET', p);
      expect(response.status, p).toBe(503);
      expect(response.headers.get('retry-after'), p).toMatch(/^\d+$/);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
    const ready = await request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await ready.json()).detail).toMatch(/database/i);
    // Let the worker's loops meet the outage (the queue fetch, the notifier, the sweeper) before it ends.
    await new Promise((resolve) => setTimeout(resolve, 1500));

    server = await startServer();
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && (status = (await request('GET', '/readyz')).status) !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(status).toBe(200);

    // Work submitted after the restart is taken and finished without restarting anything.
    const task = await waitForTask({ request: (m, p) => request(m, p) }, token, await submit());
    expect(task).toMatchObject({ status: 'completed', creditsCharged: 1 });
    expect((await services.credits.balance('alice')).balance).toBe(8);
    expect((await services.ledger.checkInvariants(services.credits.invariantChecks())).ok).toBe(true);
  });
});
