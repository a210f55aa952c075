// Emergency controls (src/controls/README.md): pauses refuse submissions before any hold and purchases
// before any sale, a paused provider is skipped by routing, purchases pause by themselves while the pool
// is empty, every pause and resume is audited and alerted, and a pause made through one `tally serve`
// process is obeyed by another within a second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/db/embedded.ts';
import { startCli, stopAllClis } from './support/cli.ts';
import { AUDIENCE, createTestApp, JWT_SECRET, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';

let t: TestApp;
let images: ImageServer;
let user: string;

beforeAll(async () => {
  images = await startImageServer();
  t = await createTestApp({ TALLY_URL_ALLOWLIST: '127.0.0.1/32', TALLY_DEV_PURCHASES: 'true' });
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await t.credits.purchase({ userId: 'carol', packageId: 'starter' });
  user = await t.userToken('carol');
});
afterAll(async () => {
  await stopAllClis();
  await images.close();
});

const pauseVia = async (request: TestApp['request'], body: unknown) => request('POST', '/v1/admin/pauses', { auth: t.adminKey, body });
const submissions = () =>
  [
    ['/api/enhance-image', { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting' }],
    ['/v1/generations', { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'style' }],
    ['/api/infer', { modelId: 'enhance', inputs: { prompt: 'brighter', imageUrl: `${images.url}/photo.png` } }],
    ['/v1/infer', { modelId: 'enhance', inputs: { prompt: 'brighter', imageUrl: `${images.url}/photo.png` } }],
  ] as const;

async function heldAndWritten(userId: string) {
  const { rows } = await t.db.pool.query<{ generations: number; pending: number }>(
    `select (select count(*)::int from generations where user_id = $1) as generations,
            (select count(*)::int from ledger_transfers where state = 'pending' and debit_account_id like $2) as pending`,
    [userId, `user:${userId}:%`],
  );
  return rows[0]!;
}

describe('a generations pause', () => {
  it('refuses every submit route with 503 and the message, holding and writing nothing; audited and alerted; resume reopens', async () => {
    const created = await pauseVia(t.request, { scope: 'generations', reason: 'upstream outage at the provider' });
    expect(created.status).toBe(201);
    const pause = await created.json();
    expect(pause).toMatchObject({
      scope: 'generations',
      provider: null,
      message: 'Enhancement temporarily unavailable',
      reason: 'upstream outage at the provider',
      active: true,
      createdBy: expect.stringMatching(/^api-key:/),
    });

    const before = await t.credits.balance('carol');
    for (const [path, body] of submissions()) {
      const response = await t.request('POST', path, { auth: user, body });
      expect(response.status, path).toBe(503);
      const problem = await response.json();
      expect(problem).toMatchObject({ code: 'unavailable', detail: 'Enhancement temporarily unavailable', paused: { scope: 'generations', automatic: false } });
      if (path.startsWith('/api/')) expect(problem.error).toBe('Enhancement temporarily unavailable');
      expect(JSON.stringify(problem)).not.toContain('upstream outage');
    }
    expect(await heldAndWritten('carol')).toEqual({ generations: 0, pending: 0 });
    expect((await t.credits.balance('carol')).balance).toBe(before.balance);

    // Users see the message (not the reason) on the public status.
    const status = await (await t.request('GET', '/v1/status')).json();
    expect(status).toEqual({
      purchases: { paused: false, message: null, automatic: false },
      generations: { paused: true, message: 'Enhancement temporarily unavailable' },
    });

    const resumed = await t.request('DELETE', `/v1/admin/pauses/${pause.id}?reason=provider%20back`, { auth: t.adminKey });
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toMatchObject({ id: pause.id, active: false, resumedBy: pause.createdBy, resumeReason: 'provider back' });
    expect((await t.request('DELETE', `/v1/admin/pauses/${pause.id}`, { auth: t.adminKey })).status).toBe(409);

    const { rows: audit } = await t.db.pool.query('select action, actor, reason from control_audit where subject = $1 order by at, id', [pause.id]);
    expect(audit).toEqual([
      { action: 'pause', actor: pause.createdBy, reason: 'upstream outage at the provider' },
      { action: 'resume', actor: pause.createdBy, reason: 'provider back' },
    ]);
    const { rows: alerts } = await t.db.pool.query<{ level: string; resolved: boolean; kinds: string[] }>(
      `select a.level, a.resolved_at is not null as resolved, array_agg(n.kind order by n.created_at) as kinds
         from alerts a join alert_notifications n on n.alert_id = a.id where a.type = 'pause' and a.subject = $1 group by a.id`,
      [pause.id],
    );
    expect(alerts).toEqual([{ level: 'critical', resolved: true, kinds: ['raised', 'recovered'] }]);

    const accepted = await t.request('POST', '/api/enhance-image', { auth: user, body: submissions()[0][1] });
    expect(accepted.status).toBe(202);
  });

  it('for one provider takes it out of routing, and leaves submissions open', async () => {
    const pause = await (await pauseVia(t.request, { scope: 'generations', provider: 'kie', reason: 'kie double-charges' })).json();
    const route = { provider: 'kie' as const, model: 'x', units: 0, costMicroUsd: 1 };
    expect(await t.services.generations.router.admit(route)).toEqual({ admitted: false, reason: 'kie is paused by an operator' });
    expect((await (await t.request('GET', '/v1/status')).json()).generations.paused).toBe(false);
    await t.request('DELETE', `/v1/admin/pauses/${pause.id}`, { auth: t.adminKey });
    expect(await t.services.generations.router.admit(route)).toMatchObject({ admitted: true });
  });
});

describe('a purchases pause', () => {
  it('refuses both purchase routes with 503 and the operator’s message; nothing is sold', async () => {
    const pause = await (await pauseVia(t.request, { scope: 'purchases', message: 'Sales reopen at noon', reason: 'price change' })).json();
    const before = await t.credits.poolState('nanobanana');
    for (const path of ['/api/credits/purchase', '/v1/credits/purchases']) {
      const response = await t.request('POST', path, { auth: user, body: { packageId: 'starter' } });
      expect(response.status, path).toBe(503);
      expect(await response.json()).toMatchObject({ detail: 'Sales reopen at noon', paused: { scope: 'purchases', automatic: false } });
    }
    expect(await t.credits.poolState('nanobanana')).toEqual(before);
    expect((await (await t.request('GET', '/v1/status')).json()).purchases).toEqual({ paused: true, message: 'Sales reopen at noon', automatic: false });
    await t.request('DELETE', `/v1/admin/pauses/${pause.id}`, { auth: t.adminKey });
    expect((await t.request('POST', '/v1/credits/purchases', { auth: user, body: { packageId: 'starter' } })).status).toBe(200);
  });

  it('happen by themselves while the primary pool can back no package, and end when it is refilled', async () => {
    const state = await t.credits.poolState('nanobanana');
    // Leave fewer units than the smallest package needs (10 credits × ratio 4): the units go back out.
    await t.ledger.execute({
      key: 'test:drain',
      actions: [
        {
          type: 'transfer',
          debit: 'pool:nanobanana:available',
          credit: 'pool:nanobanana:external',
          amount: state.available - 39,
          metadata: { reason: 'test: drain' },
        },
      ],
    });
    const refused = await t.request('POST', '/api/credits/purchase', { auth: user, body: { packageId: 'starter' } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ paused: { scope: 'purchases', automatic: true }, detail: expect.stringMatching(/capacity is refilled/) });
    expect((await (await t.request('GET', '/v1/status')).json()).purchases).toMatchObject({ paused: true, automatic: true });
    await t.credits.refill({ provider: 'nanobanana', amount: 1, reason: 'test: one unit short no more' });
    expect((await t.request('POST', '/api/credits/purchase', { auth: user, body: { packageId: 'starter' } })).status).toBe(200);
  });

  it('refuses bad requests naming the field', async () => {
    const wrongProvider = await pauseVia(t.request, { scope: 'purchases', provider: 'kie', reason: 'x' });
    expect(wrongProvider.status).toBe(400);
    expect((await wrongProvider.json()).errors).toEqual([{ path: 'body.provider', message: expect.stringMatching(/primary pool/) }]);
    const noReason = await pauseVia(t.request, { scope: 'generations' });
    expect((await noReason.json()).errors).toEqual([expect.objectContaining({ path: 'body.reason' })]);
    expect((await t.request('DELETE', '/v1/admin/pauses/pause_missing', { auth: t.adminKey })).status).toBe(404);
    expect((await (await t.request('GET', '/v1/admin/pauses', { auth: t.adminKey })).json()).active).toEqual([]);
  });
});

describe('two tally serve processes', () => {
  it('a pause made through one is obeyed by the other within a second, and so is the resume', async () => {
    const env = {
      DATABASE_URL: t.db.url,
      JWT_SECRET,
      JWT_AUDIENCE: AUDIENCE,
      TALLY_URL_ALLOWLIST: '127.0.0.1/32',
      TALLY_DATA_DIR: t.config.dataDir,
      TALLY_RATE_LIMIT_ENABLED: 'false',
      LOG_LEVEL: 'info',
    };
    const ports = [await freePort(), await freePort()];
    const serves = ports.map((port) => startCli(['serve'], { ...env, PORT: String(port) }));
    await Promise.all(serves.map((s) => s.waitFor(/HTTP API listening/)));
    const via =
      (port: number): TestApp['request'] =>
      (method, path, options = {}) =>
        fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { ...(options.auth ? { authorization: `Bearer ${options.auth}` } : {}), ...(options.body ? { 'content-type': 'application/json' } : {}) },
          body: options.body ? JSON.stringify(options.body) : undefined,
        });
    const [a, b] = [via(ports[0]!), via(ports[1]!)];
    const pausedAt = async (request: TestApp['request']) =>
      ((await (await request('GET', '/v1/status')).json()) as { generations: { paused: boolean } }).generations.paused;
    // B has read (and cached) the open state before the pause.
    expect(await pausedAt(b)).toBe(false);

    const pause = await (await pauseVia(a, { scope: 'generations', message: 'Back soon', reason: 'two-process test' })).json();
    const started = Date.now();
    while (!(await pausedAt(b))) expect(Date.now() - started).toBeLessThan(1000);
    const refused = await b('POST', '/v1/generations', { auth: user, body: submissions()[1][1] });
    expect(refused.status).toBe(503);
    expect((await refused.json()).detail).toBe('Back soon');
    const generationsBefore = (await heldAndWritten('carol')).generations;

    expect((await b('DELETE', `/v1/admin/pauses/${pause.id}`, { auth: t.adminKey })).status).toBe(200);
    const resumedAt = Date.now();
    while (await pausedAt(a)) expect(Date.now() - resumedAt).toBeLessThan(1000);
    expect((await heldAndWritten('carol')).generations).toBe(generationsBefore);
  });
});

describe('routing strategy per model', () => {
  it('switches at run time between priority and the cheapest route (by its cost per request, admins’ cost overrides included)', async () => {
    // Keys only make the providers configured; no generation runs here, so their URLs are never called.
    const app = await createTestApp({ NANOBANANA_API_KEY: 'nano-test-key', WAVESPEED_API_KEY: 'wave-test-key', WAVESPEED_WEBHOOK_SECRET: 'wave-secret' });
    const order = async () => (await app.services.generations.router.candidates('enhance', new Set())).map((c) => c.provider);
    const patch = (body: unknown, model = 'enhance') => app.request('PATCH', `/v1/admin/models/${model}`, { auth: app.adminKey, body });
    expect(await order()).toEqual(['nanobanana', 'wavespeed']);

    const cheapest = await patch({ routing: 'cheapest' });
    expect(cheapest.status).toBe(200);
    expect(await cheapest.json()).toEqual({ modelId: 'enhance', routing: 'cheapest' });
    expect(await order()).toEqual(['wavespeed', 'nanobanana']); // 0.05 USD before 0.10 USD
    await app.request('PATCH', '/v1/admin/providers/nanobanana', { auth: app.adminKey, body: { costMicroUsd: 10_000 } });
    expect(await order()).toEqual(['nanobanana', 'wavespeed']);
    await app.request('PATCH', '/v1/admin/providers/nanobanana', { auth: app.adminKey, body: { costMicroUsd: null } });
    expect(await order()).toEqual(['wavespeed', 'nanobanana']);
    // Another model keeps its own strategy.
    expect((await app.services.generations.router.candidates('seedream_image', new Set())).map((c) => c.provider)).toEqual(['wavespeed']);

    expect((await patch({ routing: 'priority' })).status).toBe(200);
    expect(await order()).toEqual(['nanobanana', 'wavespeed']);
    expect((await patch({ routing: 'fastest' })).status).toBe(400);
    expect((await patch({ routing: 'cheapest' }, 'no-such-model')).status).toBe(404);
  });
});
