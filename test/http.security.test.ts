// The shared security suite: every route of the app, every kind of wrong caller. The suite lists the
// app's own routes, so a route added without a row here fails the first test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import type { Access } from '../src/http/access.ts';
import { startFakeStripe } from './fakes/stripe.ts';
import { AUDIENCE, createTestApp, JWT_SECRET, listRoutes, JOB_TOKEN, METRICS_TOKEN, type TestApp } from './support/http.ts';

interface RouteCase {
  access: Access;
  /** A concrete request the right caller may make. */
  path: string;
  body?: unknown;
  /** For user routes on a resource: the same route aimed at another user's resource. */
  othersPath?: string;
}

const routeCases: Record<string, RouteCase> = {
  'GET /healthz': { access: 'public', path: '/healthz' },
  'GET /readyz': { access: 'public', path: '/readyz' },
  'GET /openapi.json': { access: 'public', path: '/openapi.json' },
  'GET /docs': { access: 'public', path: '/docs' },
  'GET /docs/assets/:file': { access: 'public', path: '/docs/assets/swagger-ui.css' },
  'GET /metrics': { access: 'metrics', path: '/metrics' },
  // The web pages and their assets (src/http/web.ts): public static files; the API behind them checks callers.
  'GET /': { access: 'public', path: '/' },
  'GET /admin': { access: 'public', path: '/admin' },
  'GET /admin/*': { access: 'public', path: '/admin/pools' },
  'GET /assets/:file': { access: 'public', path: '/assets/missing.js' },
  'GET /v1/me': { access: 'user', path: '/v1/me' },
  'GET /v1/accounts/:accountId': { access: 'user', path: '/v1/accounts/user:alice:purchased', othersPath: '/v1/accounts/user:bob:purchased' },
  'GET /v1/accounts/:accountId/transfers': {
    access: 'user',
    path: '/v1/accounts/user:alice:purchased/transfers',
    othersPath: '/v1/accounts/user:bob:purchased/transfers',
  },
  'GET /v1/admin/accounts/:accountId': { access: 'admin', path: '/v1/admin/accounts/user:bob:purchased' },
  'GET /v1/admin/accounts/:accountId/transfers': { access: 'admin', path: '/v1/admin/accounts/user:bob:purchased/transfers' },
  'GET /v1/admin/ledger/check': { access: 'admin', path: '/v1/admin/ledger/check' },
  'GET /v1/admin/api-keys': { access: 'admin', path: '/v1/admin/api-keys' },
  'POST /v1/admin/api-keys': { access: 'admin', path: '/v1/admin/api-keys', body: { name: 'from the suite', role: 'service' } },
  'DELETE /v1/admin/api-keys/:keyId': { access: 'admin', path: '/v1/admin/api-keys/key_does_not_exist' },
  'POST /api/background/process-tasks': { access: 'job', path: '/api/background/process-tasks' },
  'GET /api/credits/balance': { access: 'user', path: '/api/credits/balance' },
  'GET /v1/credits/balance': { access: 'user', path: '/v1/credits/balance' },
  'GET /api/credits/purchase': { access: 'public', path: '/api/credits/purchase' },
  'GET /v1/credits/packages': { access: 'public', path: '/v1/credits/packages' },
  'POST /api/credits/purchase': { access: 'user', path: '/api/credits/purchase', body: { packageId: 'starter' } },
  'POST /v1/credits/purchases': { access: 'user', path: '/v1/credits/purchases', body: { packageId: 'starter' } },
  'GET /api/admin/credit-stats': { access: 'admin', path: '/api/admin/credit-stats' },
  'POST /api/admin/refill-credits': { access: 'admin', path: '/api/admin/refill-credits', body: { provider: 'nanobanana', amount: 5 } },
  'GET /v1/admin/pools': { access: 'admin', path: '/v1/admin/pools' },
  'GET /v1/admin/pools/burn-rate': { access: 'admin', path: '/v1/admin/pools/burn-rate' },
  'GET /api/admin/usage-data': { access: 'admin', path: '/api/admin/usage-data?days=3' },
  'GET /v1/admin/analytics/daily': { access: 'admin', path: '/v1/admin/analytics/daily' },
  'GET /v1/admin/analytics/margin': { access: 'admin', path: '/v1/admin/analytics/margin' },
  'GET /v1/admin/analytics/burn-rate': { access: 'admin', path: '/v1/admin/analytics/burn-rate' },
  'GET /v1/admin/users': { access: 'admin', path: '/v1/admin/users?q=b' },
  'GET /v1/admin/users/:userId': { access: 'admin', path: '/v1/admin/users/bob' },
  'GET /v1/admin/generations': { access: 'admin', path: '/v1/admin/generations?status=failed' },
  'GET /v1/notifications': { access: 'user', path: '/v1/notifications' },
  'POST /v1/notifications/:id/dismiss': { access: 'user', path: '/v1/notifications/unt_missing/dismiss' },
  'POST /v1/admin/pools/:provider/refills': { access: 'admin', path: '/v1/admin/pools/nanobanana/refills', body: { amount: 5 } },
  'GET /api/admin/alerts': { access: 'admin', path: '/api/admin/alerts' },
  'GET /v1/admin/alerts': { access: 'admin', path: '/v1/admin/alerts' },
  'POST /v1/admin/alerts/:id/ack': { access: 'admin', path: '/v1/admin/alerts/alert_missing/ack' },
  'GET /v1/admin/jobs': { access: 'admin', path: '/v1/admin/jobs' },
  'POST /v1/admin/jobs/:name/run': { access: 'admin', path: '/v1/admin/jobs/expire-holds/run' },
  'POST /api/background/:name': { access: 'job', path: '/api/background/expire-holds' },
  'PUT /v1/users/:userId/tier': { access: 'service', path: '/v1/users/alice/tier', body: { tier: 'plus' } },
  'POST /api/admin/sync-credits': { access: 'admin', path: '/api/admin/sync-credits', body: { provider: 'nanobanana' } },
  'POST /v1/admin/pools/:provider/syncs': { access: 'admin', path: '/v1/admin/pools/nanobanana/syncs' },
  'POST /v1/admin/syncs/:syncId/apply': { access: 'admin', path: '/v1/admin/syncs/sync_x/apply', body: { reason: 'counted twice' } },
  'POST /v1/admin/users/:userId/adjustments': { access: 'admin', path: '/v1/admin/users/bob/adjustments', body: { credits: 1, reason: 'goodwill' } },
  'GET /v1/admin/refill-requests': { access: 'admin', path: '/v1/admin/refill-requests' },
  'POST /v1/admin/refill-requests': { access: 'admin', path: '/v1/admin/refill-requests', body: { provider: 'seedream', amount: 100, reason: 'bought 100' } },
  'POST /v1/admin/refill-requests/:requestId/decision': { access: 'admin', path: '/v1/admin/refill-requests/rfr_x/decision', body: { approve: false } },
  'POST /api/enhance-image': { access: 'user', path: '/api/enhance-image', body: { enhancementType: 'lighting' } },
  'GET /api/enhance-image': { access: 'user', path: '/api/enhance-image?taskId=gen_x' },
  'POST /v1/generations': { access: 'user', path: '/v1/generations', body: { enhancementType: 'lighting' } },
  'GET /v1/generations': { access: 'user', path: '/v1/generations' },
  'GET /v1/generations/:id': { access: 'user', path: '/v1/generations/gen_x' },
  'POST /api/infer': { access: 'user', path: '/api/infer', body: { modelId: 'no-such-model', inputs: { prompt: 'x' } } },
  'POST /v1/infer': { access: 'user', path: '/v1/infer', body: { modelId: 'no-such-model', inputs: { prompt: 'x' } } },
  'GET /v1/admin/providers': { access: 'admin', path: '/v1/admin/providers' },
  'PATCH /v1/admin/providers/:provider': { access: 'admin', path: '/v1/admin/providers/kie', body: { priority: 35 } },
  'POST /v1/admin/providers/health-checks': { access: 'admin', path: '/v1/admin/providers/health-checks' },
  'GET /v1/admin/generations/:id': { access: 'admin', path: '/v1/admin/generations/gen_x' },
  'PUT /v1/webhook': { access: 'user', path: '/v1/webhook', body: { url: 'https://example.com/hook' } },
  'GET /v1/webhook': { access: 'user', path: '/v1/webhook' },
  'DELETE /v1/webhook': { access: 'user', path: '/v1/webhook' },
  // Public, but refused without the token Tally put in the callback URL (proven in the generation tests).
  'POST /api/webhooks/providers/:provider': { access: 'public', path: '/api/webhooks/providers/nanobanana?attempt=att_x&token=forged', body: {} },
  // Public, but only with a valid signature (proven in the generation tests).
  'GET /files/*': { access: 'public', path: '/files/alice/lighting/gen_x.png' },
  // Public, but only with a valid Stripe signature (proven in test/payments.webhook.test.ts).
  'POST /api/webhooks/stripe': { access: 'public', path: '/api/webhooks/stripe', body: {} },
  'GET /v1/credits/purchases': { access: 'user', path: '/v1/credits/purchases' },
  'GET /v1/admin/purchases': { access: 'admin', path: '/v1/admin/purchases?status=paid' },
  'POST /v1/billing/subscriptions/checkout': { access: 'user', path: '/v1/billing/subscriptions/checkout', body: { tier: 'plus' } },
  'POST /v1/billing/portal': { access: 'user', path: '/v1/billing/portal' },
  // Emergency controls (test/controls.test.ts): a provider pause only reroutes, so the suite's other routes stay open.
  'GET /v1/status': { access: 'public', path: '/v1/status' },
  'POST /v1/admin/pauses': { access: 'admin', path: '/v1/admin/pauses', body: { scope: 'generations', provider: 'gemini', reason: 'security suite' } },
  'GET /v1/admin/pauses': { access: 'admin', path: '/v1/admin/pauses' },
  // Provider credentials (test/credentials.test.ts); no worker runs here, so a stored key is never called.
  'PATCH /v1/admin/models/:modelId': { access: 'admin', path: '/v1/admin/models/enhance', body: { routing: 'priority' } },
  'GET /v1/admin/providers/credentials': { access: 'admin', path: '/v1/admin/providers/credentials' },
  'PUT /v1/admin/providers/:provider/credentials': {
    access: 'admin',
    path: '/v1/admin/providers/gemini/credentials',
    body: { apiKey: 'security-suite-key-0000' },
  },
  'DELETE /v1/admin/providers/:provider/credentials': { access: 'admin', path: '/v1/admin/providers/fal/credentials' },
  'DELETE /v1/admin/pauses/:id': { access: 'admin', path: '/v1/admin/pauses/pause_missing' },
};

let t: TestApp;
let alice: string;

beforeAll(async () => {
  // Purchases and plans go to a local Stripe stand-in, so every route has a working backend.
  const stripe = await startFakeStripe();
  afterAll(() => stripe.close());
  t = await createTestApp(
    {
      TALLY_ADMIN_USER_IDS: 'root-user',
      TALLY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      STRIPE_SECRET_KEY: 'sk_test_security',
      STRIPE_WEBHOOK_SECRET: 'whsec_security',
      STRIPE_API_BASE: stripe.url,
      STRIPE_PRICE_TIERS: 'price_plus=plus',
    },
    {},
    { remainingUnits: async () => 0 },
  );
  alice = await t.userToken('alice');
  // A pool that can back a package: an empty one pauses purchases by themselves (503, src/controls).
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'security suite' });
  for (const user of ['alice', 'bob']) {
    await t.ledger.openAccount({ id: `user:${user}:purchased`, asset: 'credits', kind: 'user-purchased', ownerId: user, neverNegative: true });
  }
});

/** A user token with extra claims, as a host app's auth (Supabase) issues it. */
const claimToken = (sub: string, claims: Record<string, unknown>, secret = JWT_SECRET) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));

async function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(response.headers.get('x-request-id')).toBeTruthy();
  const body = await response.json();
  expect(body).toMatchObject({
    status,
    type: expect.stringMatching(/^urn:tally:error:/),
    title: expect.any(String),
    detail: expect.any(String),
    requestId: response.headers.get('x-request-id'),
  });
  return body;
}

const send = (c: RouteCase, auth?: string, path = c.path, headers?: Record<string, string>) => t.request(methodOf(c), path, { auth, body: c.body, headers });
const methodOf = (c: RouteCase) =>
  Object.entries(routeCases)
    .find(([, v]) => v === c)![0]
    .split(' ')[0]!;

describe('the security suite covers every route', () => {
  it('has a case for every route of the app, and no case for a route that does not exist', () => {
    expect(listRoutes(t.app)).toEqual(Object.keys(routeCases).sort());
  });
});

describe.each(Object.entries(routeCases).filter(([, c]) => c.access !== 'public'))('%s', (_name, c) => {
  it('without credentials: 401', async () => {
    await expectProblem(await send(c), 401);
  });

  it('with a token signed by another secret: 401', async () => {
    await expectProblem(await send(c, await t.userToken('alice', { secret: 'another-secret-entirely-0123456789' })), 401);
  });

  it('with an expired token: 401', async () => {
    await expectProblem(await send(c, await t.userToken('alice', { expiresIn: Math.floor(Date.now() / 1000) - 60 })), 401);
  });

  it('with a token for another audience: 401', async () => {
    await expectProblem(await send(c, await t.userToken('alice', { audience: 'someone-else' })), 401);
  });

  it('with a revoked API key: 401', async () => {
    await expectProblem(await send(c, t.revokedKey), 401);
  });

  it('with a malformed Authorization header: 401', async () => {
    await expectProblem(await t.request(methodOf(c), c.path, { headers: { authorization: 'Basic abc' } }), 401);
  });

  if (c.access !== 'user') {
    it('as an end user: 403', async () => {
      await expectProblem(await send(c, alice), 403);
    });
  }
  if (c.access === 'admin') {
    it('a user token with the admin claim (app_metadata.role) or listed in TALLY_ADMIN_USER_IDS gets through', async () => {
      for (const token of [await claimToken('host-admin', { app_metadata: { role: 'admin' } }), await claimToken('root-user', {})]) {
        const response = await send(c, token);
        expect(response.status, await response.clone().text()).toBeLessThan(500);
        expect([401, 403]).not.toContain(response.status);
      }
    });
    it('the admin claim under a wrong signature: 401; in user_metadata, or in the session cookie: 403', async () => {
      await expectProblem(await send(c, await claimToken('host-admin', { app_metadata: { role: 'admin' } }, 'a-forger-secret-that-is-long-enough-42')), 401);
      await expectProblem(await send(c, await claimToken('host-admin', { user_metadata: { role: 'admin' }, role: 'admin' })), 403);
      const cookie = `lr_session=${await claimToken('host-admin', { app_metadata: { role: 'admin' } })}`;
      await expectProblem(await t.request(methodOf(c), c.path, { body: c.body, headers: { cookie } }), 403);
    });
  }
  if (c.access === 'admin' || c.access === 'job' || c.access === 'metrics') {
    it('with a service key: 403', async () => {
      await expectProblem(await send(c, t.serviceKey), 403);
    });
  }
  if (c.access !== 'job') {
    it('with the background job token: 403', async () => {
      await expectProblem(await send(c, JOB_TOKEN), 403);
    });
  }
  if (c.access !== 'metrics') {
    it('with the metrics token: 403', async () => {
      await expectProblem(await send(c, METRICS_TOKEN), 403);
    });
  }
  if (c.access === 'user') {
    it('with an API key that does not say whom it acts for: 403', async () => {
      await expectProblem(await send(c, t.serviceKey), 403);
    });
  }
  if (c.othersPath) {
    it('on another user’s resource: 404, for the user and for a service key acting for them', async () => {
      await expectProblem(await send(c, alice, c.othersPath), 404);
      await expectProblem(await send(c, t.serviceKey, c.othersPath, { 'x-tally-user': 'alice' }), 404);
    });
  }

  it('the right caller gets through', async () => {
    const auth = { user: alice, admin: t.adminKey, service: t.serviceKey, job: JOB_TOKEN, metrics: METRICS_TOKEN }[c.access as Exclude<Access, 'public'>];
    const response = await send(c, auth);
    expect(response.status, await response.clone().text()).toBeLessThan(500);
    expect([401, 403]).not.toContain(response.status);
  });
});

describe('acting for a user', () => {
  it('a service key with X-Tally-User sees that user’s data', async () => {
    const response = await t.request('GET', '/v1/me', { auth: t.serviceKey, headers: { 'x-tally-user': 'bob' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      userId: 'bob',
      accounts: expect.arrayContaining([expect.objectContaining({ accountId: 'user:bob:purchased' })]),
    });
  });

  it('a malformed X-Tally-User is a 400 naming the header', async () => {
    const body = await expectProblem(await t.request('GET', '/v1/me', { auth: t.serviceKey, headers: { 'x-tally-user': 'bad user!' } }), 400);
    expect(body.errors).toEqual([{ path: 'header.x-tally-user', message: 'invalid user id' }]);
  });

  it('the session cookie carries the same token', async () => {
    const response = await t.request('GET', '/v1/me', { headers: { cookie: `lr_session=${alice}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ userId: 'alice' });
  });
});
