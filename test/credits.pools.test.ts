// Pool maintenance: sync against a provider's count (a fake of the balance port), drift booked as an
// adjustment, admin grants and corrections with reasons, refill requests from the threshold.
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/http.ts';

let t: TestApp;
const providerCounts: Record<string, number> = { nanobanana: 0, seedream: 0 };
const post = (path: string, body?: unknown) => t.request('POST', path, { auth: t.adminKey, body });

beforeAll(async () => {
  t = await createTestApp({}, {}, { remainingUnits: async (provider) => providerCounts[provider]! });
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, key: 'first' });
});

describe('sync', () => {
  it('records real vs database and the drift, and alerts on drift', async () => {
    providerCounts.nanobanana = 990;
    const response = await post('/api/admin/sync-credits', { provider: 'nanobanan' });
    expect(await response.json()).toMatchObject({ provider: 'nanobanana', real: 990, database: 1000, drift: -10 });
    const alerts = await (await t.request('GET', '/api/admin/alerts', { auth: t.adminKey })).json(); // the bare array
    expect(alerts.map((a: { type: string }) => a.type)).toContain('sync_drift');
  });

  it('an operator books the drift with a reason; booking it twice moves nothing more', async () => {
    providerCounts.nanobanana = 1003;
    const sync = await (await post('/v1/admin/pools/nanobanana/syncs')).json();
    expect(sync.drift).toBe(3);
    expect((await post(`/v1/admin/syncs/${sync.id}/apply`, {})).status).toBe(400); // no reason
    const applied = await (await post(`/v1/admin/syncs/${sync.id}/apply`, { reason: 'provider bonus credits' })).json();
    expect(applied).toMatchObject({ applied: true, drift: 3, pool: { available: 1003 } });
    await post(`/v1/admin/syncs/${sync.id}/apply`, { reason: 'provider bonus credits' });
    expect((await t.credits.poolState('nanobanana')).available).toBe(1003);
    expect((await post('/v1/admin/syncs/sync_nope/apply', { reason: 'whatever' })).status).toBe(404);
  });
});

describe('admin adjustments', () => {
  it('a grant is backed like a sale; a correction takes credits back and releases backing; both need a reason', async () => {
    const before = await t.credits.poolState('nanobanana');
    const granted = await post('/v1/admin/users/lou/adjustments', { credits: 5, reason: 'support ticket 17' });
    expect(await granted.json()).toMatchObject({ purchased: 5 });
    expect(await t.credits.poolState('nanobanana')).toMatchObject({ available: before.available - 20, reserved: before.reserved + 20 });
    expect(await (await post('/v1/admin/users/lou/adjustments', { credits: -2, reason: 'double grant' })).json()).toMatchObject({ purchased: 3 });
    expect((await post('/v1/admin/users/lou/adjustments', { credits: -9, reason: 'too much' })).status).toBe(400);
    expect((await post('/v1/admin/users/lou/adjustments', { credits: 1 })).status).toBe(400);
    expect((await post('/v1/admin/users/lou/adjustments', { credits: 0.5, reason: 'half' })).status).toBe(400);
    expect((await t.credits.balance('lou')).purchased).toBe(3);
    expect((await t.ledger.checkInvariants(t.credits.invariantChecks())).ok).toBe(true);
  });
});

describe('refill requests', () => {
  it('a pool under 20% of its last refill opens one request; approving books the refill once', async () => {
    const fresh = await createTestApp();
    await fresh.credits.refill({ provider: 'seedream', amount: 100, key: 'seed' });
    expect(await fresh.credits.checkRefillThresholds()).toEqual([]);
    await fresh.ledger.transfer({ key: 'drain', transfers: [{ debit: 'pool:seedream:available', credit: 'pool:seedream:consumed', amount: 85 }] });
    const [request] = await fresh.credits.checkRefillThresholds();
    expect(request).toMatchObject({ provider: 'seedream', amount: 100, status: 'open' });
    expect((await fresh.credits.checkRefillThresholds())[0]!.id).toBe(request!.id); // still the one open request
    const decide = (approve: boolean) =>
      fresh.request('POST', `/v1/admin/refill-requests/${request!.id}/decision`, { auth: fresh.adminKey, body: { approve } });
    const [first, second] = await Promise.all([decide(true), decide(true)]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    expect((await fresh.credits.poolState('seedream')).available).toBe(115);
    const listed = await (await fresh.request('GET', '/v1/admin/refill-requests?status=approved', { auth: fresh.adminKey })).json();
    expect(listed.requests.map((r: { id: string }) => r.id)).toEqual([request!.id]);

    // By hand: opened, then rejected; a rejected request books nothing.
    const manual = await (
      await fresh.request('POST', '/v1/admin/refill-requests', { auth: fresh.adminKey, body: { provider: 'seedream', amount: 50, reason: 'ordered 50 more' } })
    ).json();
    expect(manual).toMatchObject({ status: 'open', amount: 50 });
    const rejected = await fresh.request('POST', `/v1/admin/refill-requests/${manual.id}/decision`, {
      auth: fresh.adminKey,
      body: { approve: false, note: 'order cancelled' },
    });
    expect(await rejected.json()).toMatchObject({ status: 'rejected', decidedNote: 'order cancelled' });
    expect((await fresh.credits.poolState('seedream')).available).toBe(115);
  });
});

describe('burn rate', () => {
  it('averages consumption over 7 and 30 days, projects the day the pool runs dry, and alerts inside the horizon', async () => {
    const app = await createTestApp();
    await app.credits.refill({ provider: 'seedream', amount: 1000, key: 'seed' });
    // 140 units consumed today: 20 a day over a week, 5 a day over a month.
    await app.ledger.transfer({ key: 'work', transfers: [{ debit: 'pool:seedream:available', credit: 'pool:seedream:consumed', amount: 140 }] });
    const now = new Date();
    const rates = await app.credits.burnRates(now);
    const seedream = rates.find((r) => r.provider === 'seedream')!;
    expect(seedream).toMatchObject({ perDay7: 20, perDay30: 5 });
    // 860 left at 20 a day: 43 days.
    expect(Math.round((Date.parse(seedream.runsDryAt!) - now.getTime()) / 86_400_000)).toBe(43);
    expect(rates.find((r) => r.provider === 'nanobanana')).toMatchObject({ perDay7: 0, runsDryAt: null });
    expect(
      (await app.request('GET', '/v1/admin/alerts', { auth: app.adminKey }).then((r) => r.json())).alerts.map((a: { type: string }) => a.type),
    ).not.toContain('pool_runs_dry');

    await app.ledger.transfer({ key: 'more-work', transfers: [{ debit: 'pool:seedream:available', credit: 'pool:seedream:consumed', amount: 800 }] });
    await app.credits.burnRates();
    const alerts = (await app.request('GET', '/v1/admin/alerts', { auth: app.adminKey }).then((r) => r.json())).alerts;
    expect(alerts.find((a: { type: string }) => a.type === 'pool_runs_dry')).toMatchObject({ level: 'warning', data: { provider: 'seedream', perDay7: 135 } });
  });
});

describe('the emergency reserve', () => {
  it('is kept out of sellable capacity, filled first by refills, and drawn on only by allowance grants', async () => {
    const app = await createTestApp(
      { TALLY_DEV_PURCHASES: 'true' },
      {
        credits: {
          pools: {
            nanobanana: { unit: 'credit', ratio: 4, unitCostMicroUsd: 25_000, emergencyReserve: 100 },
            seedream: { unit: 'credit', ratio: 2, unitCostMicroUsd: 25_000 },
          },
        },
      },
    );
    expect(await app.credits.refill({ provider: 'nanobanana', amount: 138, key: 'r1' })).toMatchObject({
      emergency: 100,
      available: 38,
      sellableUserCredits: 9,
      balance: 138,
    });
    // A Starter needs 40 units: the 100 in reserve do not count, so no package can be sold and purchases pause by themselves.
    const refused = await app.request('POST', '/api/credits/purchase', { auth: await app.userToken('mo'), body: { packageId: 'starter' } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ paused: { scope: 'purchases', automatic: true } });
    // A Plus allowance (10 credits, 40 units) is backed from the reserve instead of going unbacked.
    await app.credits.setTier('mo', 'plus');
    expect(await app.credits.poolState('nanobanana')).toMatchObject({ emergency: 60, available: 38, reserved: 40 });
    expect(
      (await app.request('GET', '/v1/admin/alerts', { auth: app.adminKey }).then((r) => r.json())).alerts.map((a: { type: string }) => a.type),
    ).not.toContain('allowance_shortfall');
    // The next refill tops the reserve up again before anything becomes sellable.
    expect(await app.credits.refill({ provider: 'nanobanana', amount: 50, key: 'r2' })).toMatchObject({ emergency: 100, available: 48 });
    expect((await app.ledger.checkInvariants(app.credits.invariantChecks())).ok).toBe(true);
  });
});
