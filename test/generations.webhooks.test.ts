// Users' result webhooks cannot hold generations back (issue 11, item 3): deliveries run on their own
// few slots with a short timeout, and an endpoint that keeps failing is backed off in the database and
// gets its deliveries once it answers again. Receivers are real HTTP servers on 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedAddress } from '../src/net/safe-fetch.ts';
import { waitForTask } from './support/generations.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';
import { waitFor } from './support/wait.ts';

const WEBHOOK_SLOTS = 2;
let t: TestApp;
let images: ImageServer;
const servers: Server[] = [];
const lookup = async (host: string): Promise<ResolvedAddress[]> => (host.endsWith('.test') ? [{ address: '127.0.0.1', family: 4 }] : []);

async function startReceiver(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => handle(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  images = await startImageServer();
  t = await createTestApp(
    {
      TALLY_URL_ALLOWLIST: 'images.test,hooks.test',
      TALLY_GENERATION_CONCURRENCY: '4',
      TALLY_WEBHOOK_CONCURRENCY: String(WEBHOOK_SLOTS),
      TALLY_WEBHOOK_TIMEOUT_MS: '5000',
      TALLY_WEBHOOK_BACKOFF_MS: '300',
    },
    { generations: { webhookMaxBackoffMs: 1200, webhookMaxPasses: 200 } },
    undefined,
    { worker: true, lookup },
  );
  await t.credits.refill({ provider: 'nanobanana', amount: 10_000, reason: 'test' });
  for (const user of ['bob', 'mallory', 'carol']) {
    await t.credits.purchase({ userId: user, packageId: 'starter' });
    await t.credits.purchase({ userId: user, packageId: 'starter' });
  }
});
afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await images.close();
});

async function enhance(token: string): Promise<string> {
  const response = await t.request('POST', '/v1/generations', {
    auth: token,
    body: { inputImageUrl: `http://images.test:${images.port}/photo.png`, enhancementType: 'lighting' },
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { task: { id: string } }).task.id;
}

async function timeOneGeneration(token: string): Promise<number> {
  const started = performance.now();
  const task = await waitForTask(t, token, await enhance(token), 30_000);
  expect(task.status).toBe('completed');
  return performance.now() - started;
}

describe('user webhook deliveries', () => {
  it('a webhook that never answers does not slow another user’s generation', async () => {
    const bob = await t.userToken('bob');
    const mallory = await t.userToken('mallory');
    await timeOneGeneration(bob); // warm up (sharp, the first connections)
    const baseline = await timeOneGeneration(bob);

    let hung = 0;
    const port = await startReceiver(() => (hung += 1)); // takes the request, never answers
    expect((await t.request('PUT', '/v1/webhook', { auth: mallory, body: { url: `http://hooks.test:${port}/hang` } })).status).toBe(200);
    const ids = [];
    for (let i = 0; i < 8; i++) ids.push(await enhance(mallory));
    for (const id of ids) await waitForTask(t, mallory, id, 30_000);
    // Every webhook slot is now held by a hanging delivery.
    await waitFor(
      async () => hung,
      (n) => n >= WEBHOOK_SLOTS,
      { what: 'deliveries reaching the hanging endpoint' },
    );

    const loaded = await timeOneGeneration(bob);
    expect(loaded).toBeLessThan(Math.max(4 * baseline, baseline + 1500));
    // The hanging receiver was not hammered: one slot's worth, then one probe per backoff window.
    expect(hung).toBeLessThanOrEqual(WEBHOOK_SLOTS + 1);
    const status = await (await t.request('GET', '/v1/webhook', { auth: mallory })).json();
    expect(status).toMatchObject({ failures: expect.any(Number), failingSince: null });
    await t.request('DELETE', '/v1/webhook', { auth: mallory });
  });

  it('backs a failing endpoint off, tells the user, and delivers everything once it answers again', async () => {
    const carol = await t.userToken('carol');
    let healthy = false;
    const attempts: string[] = [];
    const delivered = new Set<string>();
    const port = await startReceiver((_req, res, body) => {
      const { task } = JSON.parse(body) as { task: { id: string } };
      attempts.push(task.id);
      if (!healthy) return void res.writeHead(500).end('down');
      delivered.add(task.id);
      res.writeHead(204).end();
    });
    expect((await t.request('PUT', '/v1/webhook', { auth: carol, body: { url: `http://hooks.test:${port}/hook` } })).status).toBe(200);
    const ids = [];
    for (let i = 0; i < 10; i++) ids.push(await enhance(carol));
    for (const id of ids) expect((await waitForTask(t, carol, id, 30_000)).status).toBe('completed');

    type Status = { failures: number; failingSince: string | null; lastError: string | null; nextAttemptAt: string | null; undelivered: number };
    const read = async () => (await (await t.request('GET', '/v1/webhook', { auth: carol })).json()) as Status;
    const failing = await waitFor(read, (s) => s.failures >= 4, { what: 'four consecutive failures', timeoutMs: 20_000 });
    expect(failing).toMatchObject({
      failingSince: expect.any(String),
      lastError: 'The webhook answered 500.',
      nextAttemptAt: expect.any(String),
      undelivered: 0,
    });
    // Ten deliveries are waiting, yet the endpoint was tried about once per failure, not ten times each.
    expect(attempts.length).toBeLessThanOrEqual(failing.failures + WEBHOOK_SLOTS + 1);
    expect(new Set(attempts).size).toBeLessThan(ids.length);

    healthy = true;
    await waitFor(
      async () => delivered.size,
      (n) => n === ids.length,
      { what: 'every delivery after recovery', timeoutMs: 20_000 },
    );
    expect([...delivered].sort()).toEqual([...ids].sort());
    expect(await waitFor(read, (s) => s.failures === 0)).toMatchObject({ failingSince: null, lastError: null, nextAttemptAt: null, undelivered: 0 });
  });
});
