// Plans as Stripe subscriptions: checkout in subscription mode, the billing portal, and the tier that
// follows the subscription events (upgrade now, downgrade at the reset, stale events ignored).
import { beforeAll, describe, expect, it } from 'vitest';
import { createStripeTestApp, type StripeTestApp } from './support/stripe.ts';

let s: StripeTestApp;
beforeAll(async () => {
  s = await createStripeTestApp();
  await s.t.credits.refill({ provider: 'nanobanana', amount: 10_000, key: 'plans' });
});

const subscription = (customer: string, price: string, status = 'active') => ({
  id: 'sub_test_1',
  object: 'subscription',
  customer,
  status,
  metadata: {},
  items: { object: 'list', data: [{ id: 'si_1', object: 'subscription_item', price: { id: price, object: 'price' } }] },
});

describe('plans', () => {
  it('checkout in subscription mode for the tier’s price, for the user’s own Stripe customer', async () => {
    const auth = await s.t.userToken('pia');
    const sent = s.stripe.requests.length;
    const response = await s.t.request('POST', '/v1/billing/subscriptions/checkout', { auth, body: { tier: 'plus' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ checkoutUrl: expect.stringMatching(/^https:\/\/checkout\.stripe\.test\//) });
    const [customer, checkout] = s.stripe.requests.slice(sent);
    expect(customer).toMatchObject({ path: '/v1/customers', headers: { 'idempotency-key': 'tally-customer-pia' }, params: { metadata: { userId: 'pia' } } });
    const customerId = (await s.t.db.pool.query('select customer_id from stripe_customers where user_id = $1', ['pia'])).rows[0].customer_id;
    expect(checkout).toMatchObject({
      path: '/v1/checkout/sessions',
      params: {
        mode: 'subscription',
        customer: customerId,
        line_items: [{ price: 'price_plus', quantity: '1' }],
        client_reference_id: 'pia',
        subscription_data: { metadata: { userId: 'pia', tier: 'plus' } },
      },
    });
    // The portal opens for that customer.
    const portal = await s.t.request('POST', '/v1/billing/portal', { auth });
    expect(await portal.json()).toEqual({ url: expect.stringMatching(/^https:\/\/billing\.stripe\.test\//) });
    expect(s.stripe.requests.at(-1)).toMatchObject({
      path: '/v1/billing_portal/sessions',
      params: { customer: customerId, return_url: 'https://tally.example/' },
    });
  });

  it('a tier not sold as a plan is a 400 naming the field; the portal without a customer is a 404', async () => {
    const auth = await s.t.userToken('quinn');
    const free = await s.t.request('POST', '/v1/billing/subscriptions/checkout', { auth, body: { tier: 'free' } });
    expect(free.status).toBe(400);
    expect(await free.json()).toMatchObject({ errors: [{ path: 'body.tier' }] });
    expect((await s.t.request('POST', '/v1/billing/portal', { auth })).status).toBe(404);
  });

  it('a purchases pause refuses a new plan with 503 and the operator’s message, before anything reaches Stripe', async () => {
    const auth = await s.t.userToken('uma');
    const pause = await (
      await s.t.request('POST', '/v1/admin/pauses', { auth: s.t.adminKey, body: { scope: 'purchases', message: 'Plans reopen tomorrow', reason: 'pricing' } })
    ).json();
    const sent = s.stripe.requests.length;
    const refused = await s.t.request('POST', '/v1/billing/subscriptions/checkout', { auth, body: { tier: 'plus' } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ detail: 'Plans reopen tomorrow', paused: { scope: 'purchases' } });
    expect(s.stripe.requests.length).toBe(sent);
    await s.t.request('DELETE', `/v1/admin/pauses/${pause.id}`, { auth: s.t.adminKey });
    expect((await s.t.request('POST', '/v1/billing/subscriptions/checkout', { auth, body: { tier: 'plus' } })).status).toBe(200);
  });

  it('subscription created, upgraded, cancelled: the tier follows (upgrade now, downgrade at the reset); a stale event changes nothing', async () => {
    await s.t.request('POST', '/v1/billing/subscriptions/checkout', { auth: await s.t.userToken('rae'), body: { tier: 'plus' } });
    const customerId = (await s.t.db.pool.query('select customer_id from stripe_customers where user_id = $1', ['rae'])).rows[0].customer_id;
    const now = Math.floor(Date.now() / 1000);
    await s.deliver(s.stripe.event('customer.subscription.created', subscription(customerId, 'price_plus'), now));
    expect(await s.t.credits.balance('rae')).toMatchObject({ tier: 'plus', allowance: 10 });
    await s.deliver(s.stripe.event('customer.subscription.updated', subscription(customerId, 'price_pro'), now + 1));
    expect(await s.t.credits.balance('rae')).toMatchObject({ tier: 'pro', allowance: 25 });
    // Delivered late: the plus event from before the upgrade.
    await s.deliver(s.stripe.event('customer.subscription.updated', subscription(customerId, 'price_plus'), now));
    expect(await s.t.credits.balance('rae')).toMatchObject({ tier: 'pro', nextTier: null });
    await s.deliver(s.stripe.event('customer.subscription.deleted', subscription(customerId, 'price_pro', 'canceled'), now + 2));
    expect(await s.t.credits.balance('rae')).toMatchObject({ tier: 'pro', allowance: 25, nextTier: 'free' });
    const report = await (await s.t.request('GET', '/v1/admin/ledger/check', { auth: s.t.adminKey })).json();
    expect(report.ok).toBe(true);
  });

  it('a subscription of a customer Tally does not know, or at a price it does not map, changes no tier', async () => {
    const unknown = await s.deliver(s.stripe.event('customer.subscription.created', subscription('cus_test_stranger', 'price_pro')));
    expect(unknown.status).toBe(200);
    await s.t.request('POST', '/v1/billing/subscriptions/checkout', { auth: await s.t.userToken('sol'), body: { tier: 'plus' } });
    const customerId = (await s.t.db.pool.query('select customer_id from stripe_customers where user_id = $1', ['sol'])).rows[0].customer_id;
    await s.deliver(s.stripe.event('customer.subscription.created', subscription(customerId, 'price_unmapped')));
    expect(await s.t.credits.balance('sol')).toMatchObject({ tier: 'free' });
  });
});

describe('purchase lists', () => {
  it('a user sees only their purchases; an admin filters by status, user and date, a page at a time', async () => {
    for (const user of ['tia', 'tia', 'uma']) await s.buy(user, user === 'tia' ? 'starter' : 'creative');
    await s.buy('tia', 'pro');
    const mine = await (await s.t.request('GET', '/v1/credits/purchases', { auth: await s.t.userToken('tia') })).json();
    expect(mine.purchases.map((p: { userId: string; packageId: string }) => `${p.userId}/${p.packageId}`)).toEqual(['tia/pro', 'tia/starter']);
    const admin = (query: string) => s.t.request('GET', `/v1/admin/purchases?${query}`, { auth: s.t.adminKey }).then((r) => r.json());
    expect((await admin('userId=uma&status=pending')).purchases).toHaveLength(1);
    expect((await admin('userId=uma&status=paid')).purchases).toHaveLength(0);
    expect((await admin(`userId=tia&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).purchases).toHaveLength(0);
    const first = await admin('userId=tia&limit=1');
    expect(first.purchases).toHaveLength(1);
    const second = await admin(`userId=tia&limit=1&cursor=${first.cursor}`);
    expect(second.purchases[0].id).not.toBe(first.purchases[0].id);
    const bad = await s.t.request('GET', '/v1/admin/purchases?status=lost', { auth: s.t.adminKey });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errors: [{ path: 'query.status' }] });
  });
});
