// Generations end to end through HTTP with the fake providers on 127.0.0.1: success on the primary,
// fallback with the pools moved as docs/rules.md §3 says, degraded local results when every provider fails,
// non-retryable failures refunded, callbacks (and their duplicates), the circuit and Retry-After.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../src/generations/index.ts';
import type { NanoBananaFake } from './fakes/nanobanana.ts';
import { startNanoBananaFake } from './fakes/nanobanana.ts';
import { startWaveSpeedFake, type WaveSpeedFake } from './fakes/wavespeed.ts';
import { fetchResult, waitForTask } from './support/generations.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';
import { waitFor } from './support/wait.ts';

let t: TestApp;
let nano: NanoBananaFake;
let wave: WaveSpeedFake;
let images: ImageServer;
let token: string;
let user = 0;

beforeAll(async () => {
  [nano, wave, images] = await Promise.all([startNanoBananaFake(), startWaveSpeedFake(), startImageServer()]);
  t = await createTestApp(
    {
      NANOBANANA_BASE_URL: nano.url,
      NANOBANANA_API_KEY: nano.apiKey,
      WAVESPEED_BASE_URL: wave.url,
      WAVESPEED_API_KEY: wave.apiKey,
      WAVESPEED_WEBHOOK_SECRET: wave.webhookSecret,
      TALLY_URL_ALLOWLIST: '127.0.0.1/32',
      TALLY_GENERATION_POLL_INTERVAL_MS: '50',
    },
    // A circuit that opens after 3 failures in a row, so the test can watch it.
    { generations: { circuit: { minAttempts: 3, failureRatePercent: 100, cooldownSeconds: 60, windowSeconds: 600 } } },
    undefined,
    { worker: true, listen: true },
  );
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await t.credits.refill({ provider: 'seedream', amount: 100, reason: 'test' });
});
afterAll(async () => {
  await Promise.all([nano.close(), wave.close(), images.close()]);
});
beforeEach(async () => {
  nano.reset();
  wave.reset();
  // Each test starts with healthy circuits and a fresh user with 10 credits.
  await t.db.pool.query('update provider_settings set cooldown_until = null, probe_until = null, circuit_reset_at = now()');
  user += 1;
  await t.credits.purchase({ userId: `u${user}`, packageId: 'starter' });
  token = await t.userToken(`u${user}`);
});

async function enhance(): Promise<Task> {
  const response = await t.request('POST', '/api/enhance-image', {
    auth: token,
    body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting', prompt: 'golden hour' },
  });
  expect(response.status).toBe(202);
  return waitForTask(t, token, ((await response.json()) as { taskId: string }).taskId);
}

const pools = async () => ({ nano: await t.credits.poolState('nanobanana'), seedream: await t.credits.poolState('seedream') });
const attempts = async (id: string) =>
  (
    await t.db.pool.query<{ provider: string; status: string; error_kind: string | null }>(
      'select provider, status, error_kind from generation_attempts where generation_id = $1 order by started_at',
      [id],
    )
  ).rows;

it('lets an admin reorder and deactivate providers at run time', async () => {
  const admin = { auth: t.adminKey };
  const promoted = await t.request('PATCH', '/v1/admin/providers/wavespeed', { ...admin, body: { priority: 1 } });
  expect(await promoted.json()).toMatchObject({ provider: 'wavespeed', priority: 1, active: true });
  expect((await enhance()).provider).toBe('wavespeed');
  await t.request('PATCH', '/v1/admin/providers/wavespeed', { ...admin, body: { priority: 20, active: false } });
  expect((await enhance()).provider).toBe('nanobanana');
  await t.request('PATCH', '/v1/admin/providers/wavespeed', { ...admin, body: { active: true } });
  const empty = await t.request('PATCH', '/v1/admin/providers/wavespeed', { ...admin, body: {} });
  expect(empty.status).toBe(400);
});

it('skips a provider over its per-minute rate limit, counted across processes', async () => {
  const admin = { auth: t.adminKey };
  await t.request('PATCH', '/v1/admin/providers/nanobanana', { ...admin, body: { rateLimitPerMinute: 5 } });
  try {
    for (;;) {
      // This minute's window full but for one call, as other processes would have left it.
      const { rows } = await t.db.pool.query<{ window_start: Date }>(
        `insert into provider_rate_windows (provider, window_start, calls) values ('nanobanana', date_trunc('minute', now()), 4)
         on conflict (provider, window_start) do update set calls = 4 returning window_start`,
      );
      const [first, second] = [await enhance(), await enhance()];
      const now = await t.db.pool.query<{ window_start: Date }>(`select date_trunc('minute', now()) as window_start`);
      if (now.rows[0]!.window_start.getTime() !== rows[0]!.window_start.getTime()) continue; // a new minute began meanwhile: again
      expect(first.provider).toBe('nanobanana'); // the last call of the minute
      expect(second.provider).toBe('wavespeed'); // nanobanana is at its limit
      break;
    }
  } finally {
    await t.request('PATCH', '/v1/admin/providers/nanobanana', { ...admin, body: { rateLimitPerMinute: 120 } });
  }
});

it('lets an admin set a provider’s cost at run time, and return to the catalogue’s', async () => {
  const admin = { auth: t.adminKey };
  const attemptCost = async (task: Task) => {
    const { attempts } = await (await t.request('GET', `/v1/admin/generations/${task.id}`, admin)).json();
    return (attempts as { costMicroUsd: number }[]).map((a) => a.costMicroUsd);
  };
  // The catalogue's cost of a pool provider: its pool's unit cost × units (docs/rules.md §1: 4 × 0.025 USD).
  expect(await attemptCost(await enhance())).toEqual([100_000]);
  const set = await t.request('PATCH', '/v1/admin/providers/nanobanana', { ...admin, body: { costMicroUsd: 55_000 } });
  expect(await set.json()).toMatchObject({ provider: 'nanobanana', costMicroUsd: 55_000 });
  expect(await attemptCost(await enhance())).toEqual([55_000]);
  const { providers } = await (await t.request('GET', '/v1/admin/providers', admin)).json();
  expect(providers.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({
    costMicroUsd: 55_000,
    active: true,
    priority: 10,
    configured: true,
  });
  expect(providers.find((p: { provider: string }) => p.provider === 'fal')).toMatchObject({ configured: false }); // no key set here
  expect(providers.map((p: { provider: string }) => p.provider)).toEqual(['nanobanana', 'wavespeed', 'kie', 'fal', 'gemini']); // in routing order
  const bad = await t.request('PATCH', '/v1/admin/providers/nanobanana', { ...admin, body: { costMicroUsd: -1 } });
  expect(bad.status).toBe(400);
  expect((await bad.json()).errors[0].path).toBe('body.costMicroUsd');
  await t.request('PATCH', '/v1/admin/providers/nanobanana', { ...admin, body: { costMicroUsd: null } });
  expect(await attemptCost(await enhance())).toEqual([100_000]);
});

it('completes on the primary provider: the user pays one credit, its backing is consumed', async () => {
  const before = await pools();
  const task = await enhance();
  expect(task).toMatchObject({ status: 'completed', provider: 'nanobanana', degraded: false, creditsCharged: 1 });
  // The result was downloaded from the provider at once and is served from our store.
  expect(new URL(task.resultUrl!).pathname).toMatch(new RegExp(`^/files/u${user}/lighting/${task.id}\\.png$`));
  expect((await fetchResult(t, task.resultUrl!)).type).toBe('image/png');
  const after = await pools();
  expect(after.nano.reserved).toBe(before.nano.reserved - 4);
  expect(after.nano.consumed).toBe(before.nano.consumed + 4);
  expect(after.seedream).toEqual(before.seedream);
  expect((await t.credits.balance(`u${user}`)).balance).toBe(9);
  // The provider was given our own signed link to the input, and a callback URL with a token.
  const submit = JSON.parse(nano.requests.find((r) => r.method === 'POST')!.body);
  expect(submit.imageUrls[0]).toMatch(/\/files\/u\d+\/inputs\/gen_.*\.png\?expires=\d+&signature=/);
  expect(submit.callBackUrl).toMatch(/\/api\/webhooks\/providers\/nanobanana\?attempt=att_.*&token=/);
});

it('falls back to the next provider on a retryable failure, moving the pools as docs/rules.md §3 says', async () => {
  nano.set({ failure: 'server_error' });
  const before = await pools();
  const task = await enhance();
  expect(task).toMatchObject({ status: 'completed', provider: 'wavespeed', creditsCharged: 1 });
  expect(await attempts(task.id)).toEqual([
    { provider: 'nanobanana', status: 'failed', error_kind: 'unavailable' },
    { provider: 'wavespeed', status: 'succeeded', error_kind: null },
  ]);
  const adminView = await (await t.request('GET', `/v1/admin/generations/${task.id}`, { auth: t.adminKey })).json();
  expect(adminView.attempts.map((a: { provider: string; costUnits: number }) => [a.provider, a.costUnits])).toEqual([
    ['nanobanana', 4],
    ['wavespeed', 2],
  ]);
  const after = await pools();
  // The primary's backing returns to available; the fallback's 2 units are consumed from its pool.
  expect(after.nano.reserved).toBe(before.nano.reserved - 4);
  expect(after.nano.available).toBe(before.nano.available + 4);
  expect(after.nano.consumed).toBe(before.nano.consumed);
  expect(after.seedream.available).toBe(before.seedream.available - 2);
  expect(after.seedream.consumed).toBe(before.seedream.consumed + 2);
  expect((await t.ledger.checkInvariants(t.credits.invariantChecks())).ok).toBe(true);
});

it('delivers a degraded local adjustment, free, when every provider fails', async () => {
  nano.set({ failure: 'server_error' });
  wave.set({ failure: 'maintenance' });
  const task = await enhance();
  expect(task).toMatchObject({
    status: 'completed',
    provider: 'local',
    degraded: true,
    creditsCharged: 0,
    cssFilter: 'brightness(1.2) contrast(1.1) saturate(1.1)',
  });
  expect(task.degradedReason).toMatch(/nanobanana: unavailable.*wavespeed: unavailable/);
  expect((await fetchResult(t, task.resultUrl!)).status).toBe(200);
  expect((await t.credits.balance(`u${user}`)).balance).toBe(10);
});

it('fails and refunds on a non-retryable error, without trying another provider', async () => {
  nano.set({ failure: 'content_policy' });
  const task = await enhance();
  expect(task).toMatchObject({ status: 'failed', provider: 'nanobanana', creditsCharged: 0, errorCode: 'content_policy' });
  expect(task.errorMessage).toMatch(/content rules.*refunded/);
  expect(wave.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  expect((await t.credits.balance(`u${user}`)).balance).toBe(10);
});

it('retries a failed download of an expired result link at the next provider', async () => {
  nano.expireResults();
  const task = await enhance();
  expect(task.provider).toBe('wavespeed');
  expect((await attempts(task.id))[0]).toMatchObject({ provider: 'nanobanana', error_kind: 'not_found' });
});

describe('callbacks', () => {
  let slowPolling: TestApp;
  beforeAll(async () => {
    // Polls only once a minute: a quick finish can only come from the callback.
    slowPolling = await createTestApp(
      { NANOBANANA_BASE_URL: nano.url, NANOBANANA_API_KEY: nano.apiKey, TALLY_URL_ALLOWLIST: '127.0.0.1/32', TALLY_GENERATION_POLL_INTERVAL_MS: '60000' },
      {},
      undefined,
      { worker: true, listen: true },
    );
    await slowPolling.credits.refill({ provider: 'nanobanana', amount: 100, reason: 'test' });
    await slowPolling.credits.purchase({ userId: 'cb', packageId: 'starter' });
  });

  it('finishes on the provider’s callback, and takes a duplicate without changing anything', async () => {
    nano.set({ processingMs: 200 });
    const cbToken = await slowPolling.userToken('cb');
    const submitted = await slowPolling.request('POST', '/api/enhance-image', {
      auth: cbToken,
      body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'style' },
    });
    const task = await waitForTask(slowPolling, cbToken, ((await submitted.json()) as { taskId: string }).taskId);
    expect(task).toMatchObject({ status: 'completed', provider: 'nanobanana' });
    // It ended long before the first timed poll (a minute away): the callback woke the processor, which
    // asked the provider once to confirm what the callback said before settling.
    const polls = nano.requests.filter((r) => r.path.startsWith('/api/v1/nanobanana/record-info'));
    expect(polls).toHaveLength(1);
    await until(() => nano.callbacksSent.length > 0);
    const delivered = nano.callbacksSent[0]!;
    expect(delivered.status).toBe(200);
    const replay = await fetch(delivered.url, { method: 'POST', headers: delivered.headers, body: delivered.body });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ received: false });
    expect((await slowPolling.credits.balance('cb')).balance).toBe(9);
  });

  it('takes a failure callback arriving after the success without refunding or changing the task', async () => {
    nano.set({ processingMs: 100 });
    const cbToken = await slowPolling.userToken('cb');
    const before = (await slowPolling.credits.balance('cb')).balance;
    const submitted = await slowPolling.request('POST', '/api/enhance-image', {
      auth: cbToken,
      body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'mood' },
    });
    const taskId = ((await submitted.json()) as { taskId: string }).taskId;
    const task = await waitForTask(slowPolling, cbToken, taskId);
    expect(task).toMatchObject({ status: 'completed', creditsCharged: 1 });
    await until(() => nano.callbacksSent.length > 0);
    const delivered = nano.callbacksSent.at(-1)!;
    // The same callback URL (our token for that attempt), now saying the generation failed.
    const sent = JSON.parse(delivered.body) as { data: { taskId: string } };
    const late = await fetch(delivered.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 501, msg: 'generation failed', data: { taskId: sent.data.taskId, info: {} } }),
    });
    expect(late.status).toBe(200);
    expect(await late.json()).toEqual({ received: false });
    const after = await slowPolling.request('GET', `/api/enhance-image?taskId=${taskId}`, { auth: cbToken });
    expect(((await after.json()) as { task: Task }).task).toMatchObject({ status: 'completed', creditsCharged: 1, errorMessage: null });
    expect((await slowPolling.credits.balance('cb')).balance).toBe(before - 1);
  });

  it('refuses a callback without our token', async () => {
    const response = await t.request('POST', '/api/webhooks/providers/nanobanana?attempt=att_x&token=forged', { body: { code: 200, data: { taskId: 'x' } } });
    expect(response.status).toBe(401);
  });

  it('refuses a WaveSpeed callback whose signature does not verify, even with our token', async () => {
    nano.set({ failure: 'server_error' });
    wave.set({ processingMs: 200 });
    const task = await enhance();
    expect(task.provider).toBe('wavespeed');
    await until(() => wave.callbacksSent.length > 0);
    const delivered = wave.callbacksSent[0]!;
    const forged = await fetch(delivered.url, { method: 'POST', headers: delivered.headers, body: delivered.body.replace('"completed"', '"failed"') });
    expect(forged.status).toBe(401);
  });
});

/** Waits for a condition the fakes reach on their own schedule. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('router health', () => {
  it('opens the circuit after repeated failures and stops calling the provider', async () => {
    nano.set({ failure: 'server_error' });
    for (let i = 0; i < 3; i++) expect((await enhance()).provider).toBe('wavespeed');
    const calls = nano.requests.length;
    expect((await enhance()).provider).toBe('wavespeed');
    expect(nano.requests.length).toBe(calls); // skipped while cooling down
    const { rows } = await t.db.pool.query<{ open: boolean; last_error: string }>(
      "select cooldown_until > now() as open, last_error from provider_settings where provider = 'nanobanana'",
    );
    expect(rows[0]).toMatchObject({ open: true, last_error: expect.stringMatching(/^unavailable/) });
    // Operators see it: unhealthy in the provider view and in the original design's credit stats.
    const { providers } = await (await t.request('GET', '/v1/admin/providers', { auth: t.adminKey })).json();
    expect(providers.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({ isHealthy: false, coolingDownUntil: expect.any(String) });
    const stats = await (await t.request('GET', '/api/admin/credit-stats', { auth: t.adminKey })).json();
    expect(stats.providers.find((p: { name: string }) => p.name === 'nanobanana').isHealthy).toBe(false);
    expect(stats.dailyUsage).toBeGreaterThan(0);
    expect(Number(stats.monthlyCost)).toBeGreaterThan(0);
  });

  it('lets one probe through once the cooldown is over (two requests at once: one probes, one goes elsewhere); its success closes the circuit', async () => {
    await t.db.pool.query("update provider_settings set cooldown_until = now() - interval '1 second' where provider = 'nanobanana'");
    nano.set({ processingMs: 4_000 }); // the probe is still running when the second request is routed, even on a loaded machine
    const [first, second] = await Promise.all([enhance(), enhance()]);
    expect([first.provider, second.provider].sort()).toEqual(['nanobanana', 'wavespeed']);
    expect(nano.tasks.size).toBe(1);
    // The worker closes the circuit just after it completes the generation, so the test waits for it.
    const cooldown = async () =>
      (await t.db.pool.query<{ cooldown_until: Date | null }>("select cooldown_until from provider_settings where provider = 'nanobanana'")).rows[0]!
        .cooldown_until;
    expect(await waitFor(cooldown, (until) => until === null, { what: 'the circuit closed' })).toBeNull();
  });

  it('a failed probe opens the circuit again for a new cooldown', async () => {
    await t.db.pool.query("update provider_settings set cooldown_until = now() - interval '1 second' where provider = 'nanobanana'");
    nano.set({ failure: 'server_error' });
    expect((await enhance()).provider).toBe('wavespeed');
    const submits = nano.requests.filter((r) => r.method === 'POST').length;
    expect(submits).toBe(1);
    const { rows } = await t.db.pool.query<{ seconds: number }>(
      "select extract(epoch from cooldown_until - now())::int as seconds from provider_settings where provider = 'nanobanana'",
    );
    expect(rows[0]!.seconds).toBeGreaterThan(50); // the configured 60 s cooldown, begun just now
    expect((await enhance()).provider).toBe('wavespeed');
    expect(nano.requests.filter((r) => r.method === 'POST').length).toBe(submits); // not called while cooling down
  });

  it('honours Retry-After from a 429: the provider rests that long', async () => {
    nano.set({ failure: 'rate_limited', retryAfterSeconds: 120 });
    expect((await enhance()).provider).toBe('wavespeed');
    const { rows } = await t.db.pool.query<{ seconds: number }>(
      "select extract(epoch from cooldown_until - now())::int as seconds from provider_settings where provider = 'nanobanana'",
    );
    expect(rows[0]!.seconds).toBeGreaterThan(100);
    expect(rows[0]!.seconds).toBeLessThanOrEqual(120);
  });
});

describe('provider health checks', () => {
  const probesOf = (fake: NanoBananaFake | WaveSpeedFake) => fake.requests.filter((r) => r.method === 'GET' && /credit|balance/.test(r.path)).length;

  it('probes every configured provider; a failed probe shows, and opens the circuit so work goes elsewhere', async () => {
    const admin = { auth: t.adminKey };
    const healthy = await (await t.request('POST', '/v1/admin/providers/health-checks', admin)).json();
    expect(healthy.checks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ provider: 'nanobanana', ok: true, error: null }),
        expect.objectContaining({ provider: 'wavespeed', ok: true }),
      ]),
    );
    nano.set({ failure: 'server_error' });
    const failing = await (await t.request('POST', '/v1/admin/providers/health-checks', admin)).json();
    expect(failing.checks.find((c: { provider: string }) => c.provider === 'nanobanana')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^unavailable: /),
    });
    const { providers } = await (await t.request('GET', '/v1/admin/providers', admin)).json();
    expect(providers.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({
      isHealthy: false,
      coolingDownUntil: expect.any(String),
      lastError: expect.stringMatching(/^health check: unavailable/),
      healthCheck: { ok: false, checkedAt: expect.any(String), error: expect.stringMatching(/^health check: unavailable/) },
    });
    nano.set({ failure: null });
    const submitsBefore = nano.requests.filter((r) => r.method === 'POST').length;
    expect((await enhance()).provider).toBe('wavespeed'); // skipped while its circuit is open
    expect(nano.requests.filter((r) => r.method === 'POST')).toHaveLength(submitsBefore);
  });

  it('on the workers’ clock, each provider is probed once per interval however many workers ask', async () => {
    await t.db.pool.query('update provider_settings set health_checked_at = null');
    const before = [probesOf(nano), probesOf(wave)];
    const rounds = await Promise.all(Array.from({ length: 4 }, () => t.services.generations.checkProviderHealth()));
    expect(
      rounds
        .flat()
        .map((c) => c.provider)
        .sort(),
    ).toEqual(['nanobanana', 'wavespeed']);
    expect([probesOf(nano) - before[0]!, probesOf(wave) - before[1]!]).toEqual([1, 1]);
    expect(await t.services.generations.checkProviderHealth()).toEqual([]); // not due again yet
  });
});

describe('the user’s result webhook', () => {
  it('POSTs the ended task to the user’s URL, signed with the secret shown once', async () => {
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const set = await t.request('PUT', '/v1/webhook', { auth: token, body: { url } });
      expect(set.status).toBe(200);
      const { secret } = await set.json();
      expect(secret).toMatch(/^whsec_/);
      expect(await (await t.request('GET', '/v1/webhook', { auth: token })).json()).toEqual({
        url,
        createdAt: expect.any(String),
        failures: 0,
        failingSince: null,
        lastError: null,
        nextAttemptAt: null,
        undelivered: 0,
      });

      const task = await enhance();
      await until(() => received.length > 0);
      const delivery = received[0]!;
      const payload = JSON.parse(delivery.body);
      expect(payload).toMatchObject({ type: 'generation.completed', task: { id: task.id, status: 'completed' } });
      const [, timestamp, signature] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(delivery.headers['tally-signature']))!;
      expect(signature).toBe(createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest('hex'));

      expect((await t.request('DELETE', '/v1/webhook', { auth: token })).status).toBe(204);
      expect((await t.request('GET', '/v1/webhook', { auth: token })).status).toBe(404);
    } finally {
      receiver.close();
    }
  });
});

describe('provider balances', () => {
  it('syncs a pool against the provider’s own balance endpoint', async () => {
    const admin = { auth: t.adminKey };
    const database = (await t.credits.poolState('nanobanana')).balance;
    nano.set({ balance: database + 12 });
    const response = await t.request('POST', '/api/admin/sync-credits', { ...admin, body: { provider: 'nanobanana' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ real: database + 12, database, drift: 12 });
  });

  it('converts WaveSpeed’s USD balance to the seedream pool’s credits (0.025 USD each) before the drift', async () => {
    const database = (await t.credits.poolState('seedream')).balance;
    // 20 credits more than the database, plus a cent that buys no whole credit (rounded down).
    wave.set({ balance: Number(((database + 20) * 0.025 + 0.01).toFixed(2)) });
    const sync = await t.credits.sync('seedream');
    expect(sync).toMatchObject({ real: database + 20, database, drift: 20 });
    expect((await t.services.alerts.list({ type: 'sync_drift', open: true })).find((a) => a.subject === 'seedream')).toMatchObject({ data: { drift: 20 } });
    expect((await t.credits.poolState('seedream')).balance).toBe(database); // never booked without an admin
  });
});
