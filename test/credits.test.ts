// docs/rules.md §3's worked example, step by step through the HTTP API, with its exact numbers.
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/http.ts';

let t: TestApp;
const token: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestApp({ TALLY_DEV_PURCHASES: 'true' });
  for (const user of ['a', 'b', 'c']) token[user] = await t.userToken(`user-${user}`);
});

const json = async (response: Response) => ({ status: response.status, body: await response.json() });

describe('the worked example of docs/rules.md §3', () => {
  it('a fresh database starts every pool at zero, and nothing can be sold', async () => {
    const { body } = await json(await t.request('GET', '/api/credits/purchase'));
    expect(body.platformCapacity).toEqual({
      totalUserCredits: 0,
      nanoBananaCredits: 0,
      canSellStarter: false,
      canSellCreative: false,
      canSellPro: false,
      canSellStudio: false,
    });
    expect(body.packages.every((p: { disabled: boolean; message: string }) => p.disabled && p.message === 'Temporarily unavailable')).toBe(true);
  });

  it('pool 938 at ratio 4: 234 sellable; Starter, Creative and Pro can be sold, Studio cannot', async () => {
    const refill = await json(await t.request('POST', '/api/admin/refill-credits', { auth: t.adminKey, body: { provider: 'nanobanan', amount: 938 } }));
    expect(refill.status).toBe(200);
    expect(refill.body).toMatchObject({ provider: 'nanobanana', available: 938, reserved: 0, sellableUserCredits: 234 });

    const { body } = await json(await t.request('GET', '/api/credits/purchase'));
    expect(body.platformCapacity).toEqual({
      totalUserCredits: 234,
      nanoBananaCredits: 938,
      canSellStarter: true,
      canSellCreative: true,
      canSellPro: true,
      canSellStudio: false,
    });
    expect(body.packages.map((p: { id: string; disabled: boolean }) => [p.id, p.disabled])).toEqual([
      ['starter', false],
      ['creative', false],
      ['pro', false],
      ['studio', true],
    ]);
    expect(body.packages.find((p: { id: string }) => p.id === 'creative')).toMatchObject({ credits: 50, price: 3999, currency: 'EUR', message: null });
  });

  it('A buys 100: 400 reserved, 538 left, 134 sellable', async () => {
    const bought = await json(await t.request('POST', '/api/credits/purchase', { auth: token.a, body: { packageId: 'pro' } }));
    expect(bought).toEqual({
      status: 200,
      body: { granted: 100, balance: 100, packageId: 'pro', mode: 'development', purchaseId: expect.stringMatching(/^pur_/) },
    });
    const pools = await json(await t.request('GET', '/v1/admin/pools', { auth: t.adminKey }));
    expect(pools.body.pools.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({
      available: 538,
      reserved: 400,
      sellableUserCredits: 134,
    });
  });

  it('B buys 100: 138 left, 34 sellable', async () => {
    expect((await json(await t.request('POST', '/v1/credits/purchases', { auth: token.b, body: { packageId: 'pro' } }))).body.granted).toBe(100);
    const { body } = await json(await t.request('GET', '/api/credits/purchase', { auth: token.b }));
    expect(body.platformCapacity).toMatchObject({
      totalUserCredits: 34,
      nanoBananaCredits: 138,
      canSellStarter: true,
      canSellCreative: false,
      canSellPro: false,
    });
    expect(body.balance).toMatchObject({ balance: 100, purchased: 100, allowance: 0, tier: 'free' });
  });

  it('C’s Creative (50) is blocked with 409, nothing changes, and a sale_blocked alert is recorded', async () => {
    const blocked = await json(await t.request('POST', '/api/credits/purchase', { auth: token.c, body: { packageId: 'creative' } }));
    expect(blocked.status).toBe(409);
    expect(blocked.body).toMatchObject({ error: 'Service temporarily unavailable', code: 'sale_blocked' });
    expect((await json(await t.request('GET', '/api/credits/balance', { auth: token.c }))).body).toMatchObject({ balance: 0, purchased: 0 });
    const pools = await json(await t.request('GET', '/v1/admin/pools', { auth: t.adminKey }));
    expect(pools.body.pools.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({ available: 138, reserved: 800 });
    const alerts = await json(await t.request('GET', '/api/admin/alerts', { auth: t.adminKey }));
    expect(alerts.body.map((a: { type: string }) => a.type)).toContain('sale_blocked');
  });

  it('a sale that leaves the pool under its low threshold (100) records a capacity_low alert', async () => {
    // 138 available: a Starter (40 units) leaves 98.
    expect((await t.request('POST', '/api/credits/purchase', { auth: token.c, body: { packageId: 'starter' } })).status).toBe(200);
    const alerts = (await json(await t.request('GET', '/v1/admin/alerts', { auth: t.adminKey }))).body.alerts;
    expect(alerts.find((a: { type: string }) => a.type === 'capacity_low')).toMatchObject({
      level: 'warning',
      data: { provider: 'nanobanana', available: 98, sellableUserCredits: 24 },
    });
  });

  it('the ledger check passes after all of it', async () => {
    expect((await json(await t.request('GET', '/v1/admin/ledger/check', { auth: t.adminKey }))).body.ok).toBe(true);
  });
});

describe('what a pool of 938 at ratio 4 can sell, package by package', () => {
  // After 23 Starters no package fits any more: purchases pause by themselves (503, src/controls); after
  // 4 Creatives or 2 Pros a Starter still fits, so the next one of those is the blocked sale (409).
  it.each([
    ['starter', 23, 503],
    ['creative', 4, 409],
    ['pro', 2, 409],
  ])('%s: %i sales go through, the next is refused with %i', async (packageId, sellable, refusal) => {
    const shop = await createTestApp({ TALLY_DEV_PURCHASES: 'true' });
    await shop.credits.refill({ provider: 'nanobanana', amount: 938, key: 'example' });
    const auth = await shop.userToken('collector');
    const statuses = [];
    for (let i = 0; i <= sellable; i++) statuses.push((await shop.request('POST', '/api/credits/purchase', { auth, body: { packageId } })).status);
    expect(statuses).toEqual([...Array<number>(sellable).fill(200), refusal]);
  });
});

describe('purchases under concurrency', () => {
  it('100 concurrent purchases racing for a pool that can back only 7 of them: exactly 7 succeed', async () => {
    const race = await createTestApp({ TALLY_RATE_LIMIT_ENABLED: 'false', TALLY_DEV_PURCHASES: 'true' });
    await race.credits.refill({ provider: 'nanobanana', amount: 7 * 10 * 4 + 3, key: 'race' });
    const tokens = await Promise.all(Array.from({ length: 100 }, (_, i) => race.userToken(`racer-${i}`)));
    const statuses = await Promise.all(
      tokens.map(async (auth) => (await race.request('POST', '/api/credits/purchase', { auth, body: { packageId: 'starter' } })).status),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.filter((s) => s === 409)).toHaveLength(93);
    expect(await race.credits.poolState('nanobanana')).toMatchObject({ available: 3, reserved: 280 });
    expect((await race.ledger.checkInvariants()).ok).toBe(true);
  });

  it('an Idempotency-Key makes a retried purchase buy once', async () => {
    const app = await createTestApp({ TALLY_DEV_PURCHASES: 'true' });
    await app.credits.refill({ provider: 'nanobanana', amount: 1000 });
    const auth = await app.userToken('retrier');
    const buy = () => app.request('POST', '/v1/credits/purchases', { auth, body: { packageId: 'starter' }, headers: { 'idempotency-key': 'order-42' } });
    const answers = await Promise.all([buy(), buy(), buy()]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await app.credits.balance('retrier')).purchased).toBe(10);
    // The replay answers what the first request answered, even after the balance moved.
    const first = await answers[0]!.json();
    expect(first).toMatchObject({ granted: 10, balance: 10 });
    await app.ledger.transfer({ key: 'retrier-spends', transfers: [{ debit: 'user:retrier:purchased', credit: 'credits:spent', amount: 3 }] });
    expect(await (await buy()).json()).toEqual(first);
    expect(await Promise.all(answers.slice(1).map((r) => r.json()))).toEqual([first, first]);
    // The same key with another body is refused; another caller's same key is their own.
    const other = await app.request('POST', '/v1/credits/purchases', { auth, body: { packageId: 'pro' }, headers: { 'idempotency-key': 'order-42' } });
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ code: 'idempotency_conflict', errors: [{ path: 'header.idempotency-key' }] });
    const stranger = await app.request('POST', '/v1/credits/purchases', {
      auth: await app.userToken('stranger'),
      body: { packageId: 'starter' },
      headers: { 'idempotency-key': 'order-42' },
    });
    expect(await stranger.json()).toMatchObject({ granted: 10, balance: 10 });
    expect((await app.credits.balance('retrier')).purchased).toBe(7);
  });

  it('without Stripe and without TALLY_DEV_PURCHASES a purchase is refused with 503, and nothing changes', async () => {
    const app = await createTestApp();
    await app.credits.refill({ provider: 'nanobanana', amount: 1000 });
    const before = await app.credits.poolState('nanobanana');
    const response = await app.request('POST', '/api/credits/purchase', { auth: await app.userToken('hopeful'), body: { packageId: 'starter' } });
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ code: 'payments_not_configured', error: expect.stringContaining('STRIPE_SECRET_KEY') });
    expect(await app.credits.poolState('nanobanana')).toEqual(before);
    expect((await app.credits.balance('hopeful')).purchased).toBe(0);
  });

  it('development purchases are refused in production, by configuration, with a clear message', async () => {
    const { loadConfig, withDemoPurchases } = await import('../src/config/index.ts');
    expect(() => loadConfig({ env: { NODE_ENV: 'production', TALLY_DEV_PURCHASES: 'true' } })).toThrow(
      /TALLY_DEV_PURCHASES.*refused when NODE_ENV=production/s,
    );
    expect(() => withDemoPurchases(loadConfig({ env: { NODE_ENV: 'production' } }))).toThrow(/refused when NODE_ENV=production/);
    expect(withDemoPurchases(loadConfig({ env: {} })).payments.devPurchases).toBe(true);
    expect(() => loadConfig({ env: { STRIPE_SECRET_KEY: 'sk_test_x' } })).toThrow(/STRIPE_WEBHOOK_SECRET/);
  });
});

describe('bad input changes nothing', () => {
  it.each([
    ['an unknown package', '/api/credits/purchase', 'user', { packageId: 'mega' }, 'body.packageId'],
    ['a missing package', '/api/credits/purchase', 'user', {}, 'body.packageId'],
    ['an unknown provider', '/api/admin/refill-credits', 'admin', { provider: 'acme', amount: 5 }, 'body.provider'],
    ['a negative amount', '/api/admin/refill-credits', 'admin', { provider: 'nanobanana', amount: -5 }, 'body.amount'],
    ['a fractional amount', '/api/admin/refill-credits', 'admin', { provider: 'nanobanana', amount: 1.5 }, 'body.amount'],
    ['an amount over the limit', '/api/admin/refill-credits', 'admin', { provider: 'nanobanana', amount: 10 ** 12 }, 'body.amount'],
    ['an amount as a string', '/api/admin/refill-credits', 'admin', { provider: 'nanobanana', amount: '5' }, 'body.amount'],
  ])('%s: 400 naming the field', async (_name, path, who, body, field) => {
    const app = await createTestApp({ TALLY_DEV_PURCHASES: 'true' });
    const before = await app.credits.poolState('nanobanana');
    const auth = who === 'admin' ? app.adminKey : await app.userToken('someone');
    const response = await json(await app.request('POST', path, { auth, body }));
    expect(response.status).toBe(400);
    expect(response.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(await app.credits.poolState('nanobanana')).toEqual(before);
  });
});
