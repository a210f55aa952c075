// Checkout through the local Stripe stand-in: capacity is held while a session is open, requests to
// Stripe carry what they must, a second click gets the same session, and the last capacity is sold once.
import { beforeAll, describe, expect, it } from 'vitest';
import { createStripeTestApp, type StripeTestApp } from './support/stripe.ts';

let s: StripeTestApp;
beforeAll(async () => {
  s = await createStripeTestApp();
  await s.t.credits.refill({ provider: 'nanobanana', amount: 1000, key: 'checkout-tests' });
});

describe('opening a checkout', () => {
  it('holds the backing, asks Stripe for a session with the package’s price, and grants nothing yet', async () => {
    const before = await s.t.credits.poolState('nanobanana');
    const sent = s.stripe.requests.length;
    const { status, body } = await s.buy('ann', 'creative');
    expect(status).toBe(200);
    expect(body).toEqual({
      mode: 'stripe',
      purchaseId: expect.stringMatching(/^pur_/),
      packageId: 'creative',
      checkoutUrl: expect.stringMatching(/^https:\/\/checkout\.stripe\.test\//),
    });
    const [request] = s.stripe.requests.slice(sent);
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/checkout/sessions',
      headers: { authorization: 'Bearer sk_test_tally', 'idempotency-key': `tally-checkout-${body.purchaseId}` },
      params: {
        mode: 'payment',
        line_items: [{ quantity: '1', price_data: { currency: 'eur', unit_amount: '3999', product_data: { name: '50 credits (creative)' } } }],
        metadata: { userId: 'ann', packageId: 'creative', purchaseId: body.purchaseId },
        payment_intent_data: { metadata: { userId: 'ann', packageId: 'creative', purchaseId: body.purchaseId } },
        client_reference_id: body.purchaseId,
        success_url: 'https://tally.example/',
        cancel_url: 'https://tally.example/',
      },
    });
    // The session lives as long as the hold: about an hour (TALLY_CHECKOUT_MINUTES).
    const expiresAt = Number((request!.params as { expires_at: string }).expires_at);
    expect(Math.abs(expiresAt - (Date.now() / 1000 + 3600))).toBeLessThan(60);
    expect(await s.t.credits.poolState('nanobanana')).toMatchObject({ available: before.available - 200, reserved: before.reserved });
    expect((await s.t.credits.balance('ann')).purchased).toBe(0);
    expect(await s.purchase(body.purchaseId)).toMatchObject({
      status: 'pending',
      mode: 'stripe',
      credits: 50,
      amount: 3999,
      currency: 'EUR',
      checkoutUrl: body.checkoutUrl,
    });
  });

  it('the compatibility route answers { checkoutUrl } as API.md has it', async () => {
    const response = await s.t.request('POST', '/api/credits/purchase', { auth: await s.t.userToken('cat'), body: { packageId: 'starter' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ checkoutUrl: expect.stringMatching(/^https:\/\//) });
  });

  it('a second click, or two at once, gets the same session and holds the backing once', async () => {
    const before = await s.t.credits.poolState('nanobanana');
    const [a, b] = await Promise.all([s.buy('bea', 'starter'), s.buy('bea', 'starter')]);
    const c = await s.buy('bea', 'starter');
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(c.body).toEqual(a.body);
    expect((await s.t.credits.poolState('nanobanana')).available).toBe(before.available - 40);
    expect([...s.stripe.sessions.values()].filter((x) => (x.metadata as { userId: string }).userId === 'bea')).toHaveLength(1);
  });

  it('an Idempotency-Key replays the first answer, also after the checkout is gone', async () => {
    const first = await s.buy('cy', 'starter', { 'idempotency-key': 'k1' });
    await s.deliver(
      s.stripe.event('checkout.session.expired', {
        ...s.stripe.sessions.get([...s.stripe.sessions.values()].find((x) => (x.metadata as { purchaseId: string }).purchaseId === first.body.purchaseId)!.id)!,
        status: 'expired',
      }),
    );
    expect(await s.buy('cy', 'starter', { 'idempotency-key': 'k1' })).toEqual(first);
    expect((await s.buy('cy', 'starter')).body.purchaseId).not.toBe(first.body.purchaseId);
  });

  it('Stripe failing: 502, the held backing is released, the purchase is marked failed', async () => {
    const before = await s.t.credits.poolState('nanobanana');
    s.stripe.failWith = 500;
    try {
      const { status, body } = await s.buy('dee', 'starter');
      expect(status).toBe(502);
      expect(body).toMatchObject({ code: 'bad_gateway', detail: expect.stringContaining('nothing was charged') });
    } finally {
      s.stripe.failWith = null;
    }
    expect(await s.t.credits.poolState('nanobanana')).toEqual(before);
    const mine = await (await s.t.request('GET', '/v1/credits/purchases', { auth: await s.t.userToken('dee') })).json();
    expect(mine.purchases.map((p: { status: string }) => p.status)).toEqual(['failed']);
  });
});

describe('capacity during checkout', () => {
  it('a second buyer sees held capacity gone; it returns when the session expires', async () => {
    const app = await createStripeTestApp();
    await app.t.credits.refill({ provider: 'nanobanana', amount: 43, key: 'one-starter' });
    const first = await app.buy('eve', 'starter');
    expect(first.status).toBe(200);
    // Nothing else can be backed now: purchases pause by themselves (503), still alerted as a blocked sale.
    expect((await app.buy('fay', 'starter')).status).toBe(503);
    const alerts = await (await app.t.request('GET', '/v1/admin/alerts', { auth: app.t.adminKey })).json();
    expect(alerts.alerts.map((a: { type: string }) => a.type)).toEqual(expect.arrayContaining(['capacity_low', 'sale_blocked']));
    const packages = await (await app.t.request('GET', '/api/credits/purchase')).json();
    expect(packages.platformCapacity).toMatchObject({ totalUserCredits: 0, canSellStarter: false });
    const session = [...app.stripe.sessions.values()].find((x) => (x.metadata as { userId: string }).userId === 'eve')!;
    expect((await app.deliver(app.stripe.event('checkout.session.expired', { ...session, status: 'expired' }))).status).toBe(200);
    expect(await app.purchase(first.body.purchaseId)).toMatchObject({ status: 'expired', checkoutUrl: null });
    expect((await app.buy('fay', 'starter')).status).toBe(200);
    // The sweeper returns it too, when the expired event is late: the hold ends with the session.
    await app.t.ledger.expireHolds(new Date(Date.now() + 2 * 3600_000));
    expect((await app.t.credits.poolState('nanobanana')).available).toBe(43);
  });

  it('20 purchases racing for capacity that backs 7: exactly 7 checkouts open, 13 are refused', async () => {
    const app = await createStripeTestApp();
    await app.t.credits.refill({ provider: 'nanobanana', amount: 7 * 40 + 3, key: 'race' });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => app.buy(`racer-${i}`, 'starter')));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(7);
    // Refused: 409 (the sale lost the race for the last units) or, once the pool backs no package, 503 (purchases paused by themselves).
    expect(answers.filter((a) => a.status === 409 || (a.status === 503 && a.body.paused?.automatic === true))).toHaveLength(13);
    expect(app.stripe.sessions.size).toBe(7);
    expect(await app.t.credits.poolState('nanobanana')).toMatchObject({ available: 3, reserved: 0 });
    const report = await (await app.t.request('GET', '/v1/admin/ledger/check', { auth: app.t.adminKey })).json();
    expect(report.ok).toBe(true);
  });
});
