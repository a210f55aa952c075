// 500 submissions at once from a user with 10 credits: exactly 10 are accepted, 490 get 402, and the
// ledger agrees afterwards — in one process, and in the scale-out shape (two `tally serve` and two
// `tally worker` OS processes sharing only PostgreSQL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/db/embedded.ts';
import { startCli, stopAllClis } from './support/cli.ts';
import { waitForTask } from './support/generations.ts';
import { createTestApp, type TestApp, processEnv } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';

const SUBMISSIONS = 500;
let images: ImageServer;

beforeAll(async () => {
  images = await startImageServer();
});
afterAll(async () => {
  await stopAllClis();
  await images.close();
});

async function fundedUser(t: TestApp, userId: string): Promise<string> {
  await t.credits.purchase({ userId, packageId: 'starter' }); // 10 credits
  return t.userToken(userId);
}

async function expectSettled(t: TestApp, userId: string, taskIds: string[], token: string, request: TestApp['request']) {
  const tasks = await Promise.all(taskIds.map((id) => waitForTask({ request }, token, id, 60_000)));
  expect(tasks.map((task) => task.status)).toEqual(taskIds.map(() => 'completed'));
  const balance = await t.credits.balance(userId);
  expect(balance.balance).toBe(0);
  const report = await t.ledger.checkInvariants(t.credits.invariantChecks());
  expect(report.ok, JSON.stringify(report)).toBe(true);
  // Every hold of this user ended: posted, none left pending.
  const { rows } = await t.db.pool.query<{ pending: number }>(
    `select count(*)::int as pending from ledger_transfers where state = 'pending' and debit_account_id like $1`,
    [`user:${userId}:%`],
  );
  expect(rows[0]!.pending).toBe(0);
}

describe('one process', () => {
  it(`accepts exactly 10 of ${SUBMISSIONS} concurrent submissions and refuses the rest with 402`, async () => {
    const t = await createTestApp({ TALLY_URL_ALLOWLIST: '127.0.0.1/32' }, {}, undefined, { worker: true });
    await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
    const token = await fundedUser(t, 'racer');
    const responses = await Promise.all(
      Array.from({ length: SUBMISSIONS }, () =>
        t.request('POST', '/api/enhance-image', { auth: token, body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting' } }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(10);
    expect(statuses.filter((s) => s === 402)).toHaveLength(SUBMISSIONS - 10);
    const accepted = await Promise.all(responses.filter((r) => r.status === 202).map(async (r) => ((await r.json()) as { taskId: string }).taskId));
    await expectSettled(t, 'racer', accepted, token, t.request);
  });
});

describe('two serve and two worker processes on one PostgreSQL', () => {
  it(`accepts exactly 10 of ${SUBMISSIONS} submissions spread over both API processes, and the workers finish them`, async () => {
    const t = await createTestApp({ TALLY_URL_ALLOWLIST: '127.0.0.1/32' });
    await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
    const token = await fundedUser(t, 'scaled');
    const env = processEnv(t, {
      TALLY_URL_ALLOWLIST: '127.0.0.1/32',
      TALLY_RATE_LIMIT_ENABLED: 'false',
      TALLY_DB_POOL_SIZE: '8',
    });
    const ports = [await freePort(), await freePort()];
    const serves = ports.map((port) => startCli(['serve'], { ...env, PORT: String(port) }));
    const workers = [startCli(['worker'], env), startCli(['worker'], env)];
    await Promise.all(serves.map((s) => s.waitFor(/HTTP API listening/)));
    await Promise.all(workers.map((w) => w.waitFor(/worker started/)));

    const responses = await Promise.all(
      Array.from({ length: SUBMISSIONS }, (_, i) =>
        fetch(`http://127.0.0.1:${ports[i % 2]}/api/enhance-image`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ inputImageUrl: `${images.url}/photo.png`, enhancementType: 'style' }),
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(10);
    expect(statuses.filter((s) => s === 402)).toHaveLength(SUBMISSIONS - 10);
    const accepted = await Promise.all(responses.filter((r) => r.status === 202).map(async (r) => ((await r.json()) as { taskId: string }).taskId));
    const viaServe: TestApp['request'] = async (method, path, options = {}) =>
      fetch(`http://127.0.0.1:${ports[0]}${path}`, { method, headers: options.auth ? { authorization: `Bearer ${options.auth}` } : {} });
    await expectSettled(t, 'scaled', accepted, token, viaServe);
    // Each accepted generation ended completed and charged exactly its one credit, whichever process ran it.
    const { rows } = await t.db.pool.query<{ id: string; status: string; charged: number }>(
      `select id, status, credits_charged as charged from generations where user_id = 'scaled' order by id collate "C"`,
    );
    expect(rows.map((r) => [r.id, r.status, r.charged])).toEqual([...accepted].sort().map((id) => [id, 'completed', 1]));
  });
});
