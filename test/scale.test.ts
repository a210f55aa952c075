// Scale-out on PostgreSQL alone, as a user deploys it: two `tally serve` and two `tally worker` OS
// processes against one database URL (the suite's PostgreSQL, started apart from them like a user's
// own server). Purchases and generations go through both APIs; afterwards every balance is exact, the
// ledger check passes, and every scheduled job ran each of its slots once across both workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_NAMES } from '../src/config/ops.ts';
import { freePort } from '../src/db/embedded.ts';
import { runCli, startCli, stopAllClis } from './support/cli.ts';
import { waitForTask } from './support/generations.ts';
import { createTestApp, type TestApp, processEnv } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';
import { waitFor } from './support/wait.ts';

const USERS = 8;
const GENERATIONS_EACH = 3;
let images: ImageServer;

beforeAll(async () => {
  images = await startImageServer();
});
afterAll(async () => {
  await stopAllClis();
  await images.close();
});

describe('two API and two worker processes on one PostgreSQL', () => {
  it('sell, generate and run the schedule with exact balances, each job slot once, and a clean ledger', async () => {
    const t: TestApp = await createTestApp();
    await t.credits.refill({ provider: 'nanobanana', amount: 10_000, reason: 'scale test' });
    // Every job's schedule known since long ago, with no worker up since: each has a missed slot that
    // exactly one of the two workers must run when they start.
    await t.db.pool.query(
      `insert into job_schedules (name, since) select unnest($1::text[]), now() - interval '40 days' on conflict (name) do update set since = excluded.since`,
      [[...JOB_NAMES]],
    );
    const env = processEnv(t, {
      TALLY_URL_ALLOWLIST: '127.0.0.1/32',
      TALLY_RATE_LIMIT_ENABLED: 'false',
      TALLY_DEV_PURCHASES: 'true',
      TALLY_DB_POOL_SIZE: '6',
      TALLY_JOBS_TICK_SECONDS: '1',
    });
    const ports = [await freePort(), await freePort()];
    const serves = ports.map((port) => startCli(['serve'], { ...env, PORT: String(port) }));
    const workers = [startCli(['worker'], env), startCli(['worker'], env)];
    await Promise.all([...serves.map((s) => s.waitFor(/HTTP API listening/)), ...workers.map((w) => w.waitFor(/job scheduler started/))]);
    const api = (i: number) => `http://127.0.0.1:${ports[i % 2]}`;

    const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => t.userToken(`scaled-${i}`)));
    const bought = await Promise.all(
      tokens.map((token, i) =>
        fetch(`${api(i)}/v1/credits/purchases`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ packageId: 'starter' }),
        }),
      ),
    );
    expect(bought.map((r) => r.status)).toEqual(tokens.map(() => 200));

    const submitted = await Promise.all(
      tokens.flatMap((token, i) =>
        Array.from({ length: GENERATIONS_EACH }, async (_, k) => {
          const response = await fetch(`${api(i + k)}/v1/generations`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting' }),
          });
          expect(response.status).toBe(202);
          return { token, id: ((await response.json()) as { task: { id: string } }).task.id, via: api(i + k + 1) }; // read back through the other API
        }),
      ),
    );
    const tasks = await Promise.all(
      submitted.map(({ token, id, via }) =>
        waitForTask({ request: (method, p, o = {}) => fetch(`${via}${p}`, { method, headers: { authorization: `Bearer ${o.auth}` } }) }, token, id, 60_000),
      ),
    );
    expect(tasks.map((task) => task.status)).toEqual(submitted.map(() => 'completed'));

    for (let i = 0; i < USERS; i++)
      expect(await t.credits.balance(`scaled-${i}`)).toMatchObject({ purchased: 10 - GENERATIONS_EACH, balance: 10 - GENERATIONS_EACH });

    // Each job's missed slot ran once, by one of the workers; no slot of any job ran twice.
    const runs = await waitFor(
      async () =>
        (
          await t.db.pool.query<{ name: string; runs: number; slots: number; succeeded: number }>(
            `select name, count(*)::int as runs, count(distinct scheduled_for)::int as slots, count(*) filter (where outcome = 'succeeded')::int as succeeded
           from job_runs where trigger = 'schedule' group by name order by name`,
          )
        ).rows,
      (rows) => rows.length === JOB_NAMES.length && rows.every((r) => r.succeeded === r.runs),
      { timeoutMs: 60_000, what: 'every job to run its missed slot' },
    );
    for (const run of runs) expect(run.runs, run.name).toBe(run.slots);

    const check = await runCli(['ledger', 'check'], env);
    expect(check.code, check.output).toBe(0);
  });
});
