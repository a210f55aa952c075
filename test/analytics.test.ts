// Analytics on the real flows: purchases through Stripe Checkout (the local stand-in) with a refund,
// generations submitted and processed by the generations domain (successes and a failure), spread over
// several days. The ledger stamps its transfers with the database's clock, so each day's activity is
// made now and then moved back whole (every timestamp of the rows it wrote), instead of waiting days.
// The summary and the margin must match counts taken directly from the ledger and the purchases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dayOf } from '../src/analytics/daily.ts';
import { startNanoBananaFake, type NanoBananaFake } from './fakes/nanobanana.ts';
import { waitForTask } from './support/generations.ts';
import { startImageServer, type ImageServer } from './support/images.ts';
import { createStripeTestApp, type StripeTestApp } from './support/stripe.ts';

let s: StripeTestApp;
let images: ImageServer;
let nano: NanoBananaFake;
const COST = 100_000; // micro-USD per NanoBanana generation: 4 units × 0.025 USD (the catalogue's)
const today = dayOf(new Date());
const day = (n: number) => addDays(today, -n);

/** Submits over HTTP and waits for the end: 'ok' (NanoBanana), 'failed' (refused for content: refunded), 'degraded' (NanoBanana down). */
async function generate(userId: string, outcome: 'ok' | 'failed' | 'degraded') {
  const token = await s.t.userToken(userId);
  if (outcome !== 'ok') nano.set({ failure: outcome === 'degraded' ? 'server_error' : 'content_policy' });
  const response = await s.t.request('POST', '/api/enhance-image', {
    auth: token,
    body: { inputImageUrl: `${images.url}/photo.png`, enhancementType: 'lighting', prompt: 'warm' },
  });
  expect(response.status).toBe(202);
  const task = await waitForTask(s.t, token, (await response.json()).taskId);
  expect(task.status).toBe(outcome === 'failed' ? 'failed' : 'completed');
  nano.reset();
}

async function buyPaid(userId: string, packageId: string) {
  const { body } = await s.buy(userId, packageId);
  const session = [...s.stripe.sessions.values()].find((x) => (x.metadata as { purchaseId: string }).purchaseId === body.purchaseId)!;
  const paid = s.stripe.pay(session.id);
  expect((await s.deliver(s.stripe.event('checkout.session.completed', paid))).status).toBe(200);
  return { purchaseId: body.purchaseId as string, paymentIntent: paid.payment_intent as string };
}

/** Moves every row written since `since` back by `days` days: the activity happened then. */
async function moveBack(since: Date, days: number) {
  const q = (sql: string) => s.t.db.pool.query(sql, [since, `${days} days`]);
  await q(
    `update generations set created_at = created_at - $2::interval, updated_at = updated_at - $2::interval, completed_at = completed_at - $2::interval, deadline_at = deadline_at - $2::interval where created_at >= $1`,
  );
  await q(`update generation_attempts set started_at = started_at - $2::interval, ended_at = ended_at - $2::interval where started_at >= $1`);
  await q(
    `update ledger_transfers set created_at = created_at - $2::interval, resolved_at = resolved_at - $2::interval, expires_at = expires_at - $2::interval where created_at >= $1`,
  );
  await q(`update credit_users set created_at = created_at - $2::interval where created_at >= $1`);
  await q(
    `update purchases set created_at = created_at - $2::interval, granted_at = granted_at - $2::interval, updated_at = updated_at - $2::interval where created_at >= $1`,
  );
}

beforeAll(async () => {
  [images, nano] = await Promise.all([startImageServer(), startNanoBananaFake()]);
  s = await createStripeTestApp(
    { NANOBANANA_BASE_URL: nano.url, NANOBANANA_API_KEY: nano.apiKey, TALLY_URL_ALLOWLIST: '127.0.0.1/32', TALLY_GENERATION_POLL_INTERVAL_MS: '50' },
    { worker: true, listen: true },
  );
  await s.t.credits.refill({ provider: 'nanobanana', amount: 10_000, reason: 'test' });

  // Three days ago: ann buys 50 credits, two generations succeed and one fails (refunded).
  let since = new Date((await s.t.db.pool.query('select now() as t')).rows[0].t);
  await buyPaid('ann', 'creative');
  await generate('ann', 'ok');
  await generate('ann', 'ok');
  await generate('ann', 'failed');
  await generate('ann', 'degraded');
  await moveBack(since, 3);
  // Two days ago: nothing. Yesterday: bob buys 10 credits and is refunded half the price; one generation each.
  since = new Date((await s.t.db.pool.query('select now() as t')).rows[0].t);
  const bob = await buyPaid('bob', 'starter');
  await s.client.refunds.create({ payment_intent: bob.paymentIntent, amount: 500 });
  const charge = [...s.stripe.charges.values()].find((c) => c.payment_intent === bob.paymentIntent)!;
  expect((await s.deliver(s.stripe.event('charge.refunded', charge))).status).toBe(200);
  await generate('ann', 'ok');
  await generate('bob', 'ok');
  await moveBack(since, 1);
  // Today: one generation.
  await generate('ann', 'ok');
});
afterAll(() => Promise.all([images.close(), nano.close()]));

/** Credits posted into credits:spent on `d`, counted from the ledger's rows directly. */
async function ledgerSpent(d: string): Promise<number> {
  const { rows } = await s.t.db.pool.query(
    `select coalesce(sum(posted_amount), 0)::int as n from ledger_transfers where credit_account_id = 'credits:spent' and state = 'posted' and resolved_at >= $1::date and resolved_at < $1::date + 1`,
    [d],
  );
  return rows[0].n;
}

describe('the daily summary', () => {
  it('answers the bare array the original dashboard reads, matching the ledger day by day, quiet days as zeros', async () => {
    const response = await s.t.request('GET', '/api/admin/usage-data?days=4', { auth: s.t.adminKey });
    expect(response.status).toBe(200);
    const days = await response.json();
    expect(Array.isArray(days)).toBe(true);
    expect(days.map((d: { date: string }) => d.date)).toEqual([day(3), day(2), day(1), day(0)]);
    for (const d of days) expect(d.creditsConsumed).toBe(await ledgerSpent(d.date));
    expect(days[0]).toMatchObject({
      requests: 4,
      succeeded: 3,
      failed: 1,
      degraded: 1,
      creditsConsumed: 2,
      credits: { allowance: 0, purchased: 2, overflow: 0 },
      cost: 0.2,
      costMicroUsd: 2 * COST,
      newUsers: 1,
      activeUsers: 1,
    });
    // NanoBanana: two successes, the content refusal, and the failure before the degraded local result (which is free).
    expect(days[0].providers.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({
      succeeded: 2,
      failed: 2,
      units: 8,
      costMicroUsd: 2 * COST,
      cost: 0.2,
    });
    expect(days[0].tiers).toEqual([{ tier: 'free', requests: 4, creditsCharged: 2 }]);
    expect(days[1]).toMatchObject({ requests: 0, succeeded: 0, failed: 0, creditsConsumed: 0, cost: 0, providers: [], tiers: [], newUsers: 0, activeUsers: 0 });
    expect(days[2]).toMatchObject({ requests: 2, succeeded: 2, creditsConsumed: 2, costMicroUsd: 2 * COST, newUsers: 1, activeUsers: 2 });
    expect(days[3]).toMatchObject({ requests: 1, succeeded: 1, creditsConsumed: 1, costMicroUsd: COST });
  });

  it('a rerun of the job (and of the read) replaces the day and changes nothing', async () => {
    const snapshot = async () =>
      (
        await s.t.db.pool.query(
          `select day, requests, succeeded, failed, degraded, credits_consumed, provider_cost_micro_usd, credits_purchased, providers, tiers, new_users, active_users from daily_usage order by day`,
        )
      ).rows;
    const before = await snapshot();
    expect(before.length).toBe(3); // the three finished days; today is computed live
    const run = await s.t.services.jobs.run('daily-usage-summary', { trigger: 'cli', now: new Date(`${today}T01:00:00Z`) });
    expect(run).toMatchObject({ run: { outcome: 'succeeded', summary: { day: day(1), requests: 2, creditsConsumed: 2, providerCostMicroUsd: 2 * COST } } });
    await s.t.request('GET', '/api/admin/usage-data?days=4', { auth: s.t.adminKey });
    expect(await snapshot()).toEqual(before);
  });

  it('answers a date range in an envelope, and refuses bad ranges by field', async () => {
    const ok = await s.t.request('GET', `/v1/admin/analytics/daily?from=${day(3)}&to=${day(1)}`, { auth: s.t.adminKey });
    expect(ok.status).toBe(200);
    const body = await ok.json();
    expect(body).toMatchObject({ from: day(3), to: day(1) });
    expect(body.days.map((d: { requests: number }) => d.requests)).toEqual([4, 0, 2]);
    for (const [query, field] of [
      ['from=2026-02-30', 'query.from'],
      [`from=${day(1)}&to=${day(3)}`, 'query.to'],
      ['from=2020-01-01&to=2026-01-01', 'query.from'],
    ] as const) {
      const bad = await s.t.request('GET', `/v1/admin/analytics/daily?${query}`, { auth: s.t.adminKey });
      expect(bad.status, query).toBe(400);
      expect((await bad.json()).errors.map((e: { path: string }) => e.path)).toContain(field);
    }
    expect((await s.t.request('GET', '/api/admin/usage-data?days=0', { auth: s.t.adminKey })).status).toBe(400);
  });
});

describe('credit-stats, as the original dashboard labels it', () => {
  it('dailyUsage is credits consumed today, activeUsers users with credits left, monthlyCost USD this month, successRate in percent', async () => {
    const stats = await (await s.t.request('GET', '/api/admin/credit-stats', { auth: s.t.adminKey })).json();
    expect(stats.dailyUsage).toBe(await ledgerSpent(today));
    expect(stats.dailyUsage).toBe(1);
    const { rows: holders } = await s.t.db.pool.query(`select count(distinct owner_id)::int as n from ledger_accounts where id like 'user:%' and balance > 0`);
    expect(stats.activeUsers).toBe(holders[0].n);
    expect(stats.activeUsers).toBe(2);
    const { rows: cost } = await s.t.db.pool.query(
      `select coalesce(sum(cost_micro_usd), 0)::int as micro from generation_attempts where status = 'succeeded' and ended_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc'`,
    );
    expect(typeof stats.monthlyCost).toBe('number');
    expect(stats.monthlyCost).toBe(cost[0].micro / 1_000_000);
    expect(stats.monthlyCostMicroUsd).toBe(cost[0].micro);
    for (const p of stats.providers) {
      expect(Object.keys(p).sort()).toEqual(['costPerRequest', 'creditsRemaining', 'isHealthy', 'name', 'reserved', 'sellableUserCredits', 'successRate']);
      if (p.successRate !== null) {
        expect(p.successRate).toBeGreaterThanOrEqual(0);
        expect(p.successRate).toBeLessThanOrEqual(100);
      }
    }
  });
});

describe('alerts, as the original dashboard reads them', () => {
  it('is a bare array of open alerts', async () => {
    const response = await s.t.request('GET', '/api/admin/alerts', { auth: s.t.adminKey });
    expect(response.status).toBe(200);
    const alerts = await response.json();
    expect(Array.isArray(alerts)).toBe(true);
    for (const alert of alerts)
      expect(alert).toMatchObject({
        id: expect.any(String),
        type: expect.any(String),
        level: expect.any(String),
        message: expect.any(String),
        resolvedAt: null,
      });
  });
});

describe('margin', () => {
  it('revenue net of refunds against provider cost matches the purchases and the attempts', async () => {
    const month = day(3).slice(0, 7);
    const response = await s.t.request('GET', `/v1/admin/analytics/margin?from=${month}&to=${today.slice(0, 7)}`, { auth: s.t.adminKey });
    expect(response.status).toBe(200);
    const margin = await response.json();
    const { rows: sales } = await s.t.db.pool.query(
      `select coalesce(sum(amount - amount_refunded), 0)::int as minor, coalesce(sum(credits - credits_clawed_back + credits_restored), 0)::int as credits from purchases where granted_at is not null`,
    );
    const { rows: costs } = await s.t.db.pool.query(
      `select coalesce(sum(cost_micro_usd), 0)::int as micro from generation_attempts where status = 'succeeded'`,
    );
    expect(sales[0].minor).toBe(3999 + 999 - 500);
    expect(margin.revenueByCurrency).toEqual([{ currency: 'EUR', amountMinor: sales[0].minor, converted: true }]);
    expect(margin.totals.revenueMicroUsd).toBe(sales[0].minor * s.t.config.analytics.microUsdPerMinorUnit.EUR!);
    expect(margin.totals.costMicroUsd).toBe(costs[0].micro);
    expect(margin.totals.costMicroUsd).toBe(5 * COST);
    expect(margin.totals.marginMicroUsd).toBe(margin.totals.revenueMicroUsd - margin.totals.costMicroUsd);
    expect(margin.totals.creditsSold).toBe(sales[0].credits);
    expect(margin.totals.creditsConsumed).toBe(5);
    expect(margin.totals.costPerCreditMicroUsd).toBe(COST);
    expect(margin.packages.map((p: { packageId: string }) => p.packageId)).toEqual(['creative', 'starter']);
    expect(margin.providers.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({ units: 20, costMicroUsd: 5 * COST });
    const bad = await s.t.request('GET', '/v1/admin/analytics/margin?from=2026-13', { auth: s.t.adminKey });
    expect(bad.status).toBe(400);
    expect((await bad.json()).errors[0].path).toBe('query.from');
  });

  it('the ledger invariants hold after all of it', async () => {
    const report = await (await s.t.request('GET', '/v1/admin/ledger/check', { auth: s.t.adminKey })).json();
    expect(report.ok).toBe(true);
  });
});

describe('burn rate on the analytics routes', () => {
  it('answers each pool, as the pools route does', async () => {
    const [a, b] = await Promise.all(
      ['/v1/admin/analytics/burn-rate', '/v1/admin/pools/burn-rate'].map(async (p) => (await s.t.request('GET', p, { auth: s.t.adminKey })).json()),
    );
    expect(a.pools.map((p: { provider: string }) => p.provider).sort()).toEqual(['nanobanana', 'seedream']);
    // Five NanoBanana generations of 4 units in the last 7 days: 20 units, ceil(20 / 7) and ceil(20 / 30) a day.
    const nanobanana = a.pools.find((p: { provider: string }) => p.provider === 'nanobanana');
    expect(nanobanana).toMatchObject({ perDay7: 3, perDay30: 1 });
    expect(b.pools.find((p: { provider: string }) => p.provider === 'nanobanana')).toMatchObject({ perDay7: 3, perDay30: 1 });
    // Both project from the same available units at the same pace (the two reads are a moment apart).
    expect(
      Math.abs(Date.parse(nanobanana.runsDryAt) - Date.parse(b.pools.find((p: { provider: string }) => p.provider === 'nanobanana').runsDryAt)),
    ).toBeLessThan(60_000);
  });
});

describe('admin users and generations', () => {
  const get = async (path: string) => {
    const response = await s.t.request('GET', path, { auth: s.t.adminKey });
    return { status: response.status, body: await response.json() };
  };

  it('lists users by id prefix, tier and balance range, paged by cursor', async () => {
    const [ann, bob] = [await s.t.credits.balance('ann'), await s.t.credits.balance('bob')];
    expect((await get('/v1/admin/users?q=an')).body.users).toEqual([expect.objectContaining({ id: 'ann', tier: 'free', balance: ann.balance })]);
    expect((await get('/v1/admin/users?q=%25')).body.users).toEqual([]); // a wildcard is matched literally
    expect((await get('/v1/admin/users?tier=free')).body.users.map((u: { id: string }) => u.id)).toEqual(['ann', 'bob']);
    expect((await get('/v1/admin/users?tier=pro')).body.users).toEqual([]);
    const low = Math.min(ann.balance, bob.balance);
    expect((await get(`/v1/admin/users?maxBalance=${low}`)).body.users.map((u: { balance: number }) => u.balance)).toEqual([low]);
    expect((await get(`/v1/admin/users?minBalance=${low + 1}`)).body.users.map((u: { balance: number }) => u.balance)).toEqual([
      Math.max(ann.balance, bob.balance),
    ]);
    const first = await get('/v1/admin/users?limit=1');
    expect(first.body).toMatchObject({ users: [{ id: 'ann' }], cursor: 'ann' });
    expect((await get('/v1/admin/users?limit=1&cursor=ann')).body.users.map((u: { id: string }) => u.id)).toEqual(['bob']);
    for (const [query, field] of [
      ['minBalance=-1', 'query.minBalance'],
      ['minBalance=5&maxBalance=1', 'query.maxBalance'],
      ['limit=0', 'query.limit'],
      ['tier=NOT A TIER', 'query.tier'],
    ] as const) {
      const bad = await get(`/v1/admin/users?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
  });

  it('shows a user: buckets, tier, recent generations, purchases and ledger transfers; an unknown user is a 404 and is not created', async () => {
    const { status, body } = await get('/v1/admin/users/ann');
    expect(status).toBe(200);
    expect(body.balance).toMatchObject({ userId: 'ann', tier: 'free', purchased: (await s.t.credits.balance('ann')).purchased });
    expect(body.generations).toHaveLength(6);
    expect(body.purchases).toEqual([expect.objectContaining({ packageId: 'creative', credits: 50, status: 'paid' })]);
    const { rows } = await s.t.db.pool.query(
      `select count(*)::int as n from ledger_transfers where debit_account_id like 'user:ann:%' or credit_account_id like 'user:ann:%'`,
    );
    expect(body.transfers).toHaveLength(Math.min(20, rows[0].n));
    expect(
      body.transfers.every((t: { transfer: { debitAccountId: string; creditAccountId: string } }) =>
        [t.transfer.debitAccountId, t.transfer.creditAccountId].some((a) => a.startsWith('user:ann:')),
      ),
    ).toBe(true);
    expect((await get('/v1/admin/users/nobody')).status).toBe(404);
    expect((await s.t.db.pool.query(`select 1 from credit_users where id = 'nobody'`)).rowCount).toBe(0);
  });

  it('lists generations by status, provider, user and date, newest first, paged; a bad filter is a 400 naming it', async () => {
    const ids = async (query: string) => (await get(`/v1/admin/generations?${query}`)).body.generations.map((g: { id: string }) => g.id);
    const { rows: all } = await s.t.db.pool.query(`select id, status, user_id, provider, created_at from generations order by id desc`);
    expect(await ids('')).toEqual(all.map((r) => r.id));
    expect(await ids('status=failed')).toEqual(all.filter((r) => r.status === 'failed').map((r) => r.id));
    expect(await ids('status=failed')).toHaveLength(1);
    expect(await ids('userId=bob')).toEqual(all.filter((r) => r.user_id === 'bob').map((r) => r.id));
    expect(await ids('provider=local')).toEqual(all.filter((r) => r.provider === 'local').map((r) => r.id));
    expect(await ids('provider=local')).toHaveLength(1); // the degraded one
    expect(await ids(`from=${day(1)}&to=${today}`)).toEqual(all.filter((r) => dayOf(r.created_at) === day(1)).map((r) => r.id));
    const page = await get('/v1/admin/generations?limit=4');
    expect(page.body.generations).toHaveLength(4);
    const next = await get(`/v1/admin/generations?limit=4&cursor=${page.body.cursor}`);
    expect([...page.body.generations, ...next.body.generations].map((g: { id: string }) => g.id)).toEqual(all.map((r) => r.id));
    expect(next.body.cursor).toBeNull();
    for (const [query, field] of [
      ['status=done', 'query.status'],
      ['from=yesterday', 'query.from'],
      [`from=${today}&to=${day(3)}`, 'query.to'],
      ['limit=1000', 'query.limit'],
    ] as const) {
      const bad = await get(`/v1/admin/generations?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
  });
});
