// The Stripe webhook: signed events verified on their raw bytes, each handled once, and the ledger
// moves they cause (grant, release, refunds, disputes), in order or not.
import { beforeAll, describe, expect, it } from 'vitest';
import { createStripeTestApp, type StripeTestApp } from './support/stripe.ts';

let s: StripeTestApp;
beforeAll(async () => {
  s = await createStripeTestApp();
  await s.t.credits.refill({ provider: 'nanobanana', amount: 100_000, key: 'webhook-tests' });
});

/** Opens a checkout for `userId` and has the buyer pay it (the session as Stripe then holds it). */
async function checkoutPaid(app: StripeTestApp, userId: string, packageId: string) {
  const { body } = await app.buy(userId, packageId);
  const session = [...app.stripe.sessions.values()].find((x) => (x.metadata as { purchaseId: string }).purchaseId === body.purchaseId)!;
  return { purchaseId: body.purchaseId as string, paid: app.stripe.pay(session.id) };
}

const ledgerCheck = async (app: StripeTestApp) => (await app.t.request('GET', '/v1/admin/ledger/check', { auth: app.t.adminKey })).json();

describe('verification', () => {
  it('refuses forgeries with 400 and changes nothing: wrong secret, old timestamp, tampered body, no signature', async () => {
    const { purchaseId, paid } = await checkoutPaid(s, 'forger', 'starter');
    const event = s.stripe.event('checkout.session.completed', paid);
    const attempts = [
      await s.deliver(event, { secret: 'whsec_someone_else' }),
      await s.deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 600 }),
      await s.deliver(event, { body: (payload) => payload.replace('"payment_status":"paid"', '"payment_status":"paid" ') }),
      await s.deliver(event, { signature: null }),
    ];
    for (const attempt of attempts) {
      expect(attempt.status).toBe(400);
      expect(attempt.body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'header.stripe-signature' }] });
    }
    expect((await s.t.credits.balance('forger')).purchased).toBe(0);
    expect(await s.purchase(purchaseId)).toMatchObject({ status: 'pending' });
    expect((await s.t.db.pool.query('select count(*)::int as n from stripe_events where id = $1', [event.id])).rows[0].n).toBe(0);
  });

  it('refuses a body over the webhook limit with 413 before handling it, even when signed', async () => {
    const event = s.stripe.event('invoice.created', { id: 'in_test_big', object: 'invoice', description: 'x'.repeat(300 * 1024) });
    const answer = await s.deliver(event);
    expect(answer.status).toBe(413);
    expect((await s.t.db.pool.query('select count(*)::int as n from stripe_events where id = $1', [event.id])).rows[0].n).toBe(0);
  });

  it('answers 2xx to an event it does not handle, and logs it as ignored', async () => {
    const event = s.stripe.event('invoice.created', { id: 'in_test_1', object: 'invoice' });
    expect(await s.deliver(event)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect((await s.t.db.pool.query('select outcome from stripe_events where id = $1', [event.id])).rows[0].outcome).toBe('ignored');
  });
});

describe('payment', () => {
  it('grants once under 5 concurrent identical deliveries: the hold is posted with the grant', async () => {
    const before = await s.t.credits.poolState('nanobanana');
    const { purchaseId, paid } = await checkoutPaid(s, 'gus', 'creative');
    const event = s.stripe.event('checkout.session.completed', paid);
    const answers = await Promise.all(Array.from({ length: 5 }, () => s.deliver(event)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    expect((await s.deliver(event)).body.duplicate).toBe(true);
    expect((await s.t.credits.balance('gus')).purchased).toBe(50);
    expect(await s.t.credits.poolState('nanobanana')).toMatchObject({ available: before.available - 200, reserved: before.reserved + 200 });
    expect(await s.purchase(purchaseId)).toMatchObject({ status: 'paid', paymentIntentId: paid.payment_intent, grantedAt: expect.any(String) });
    // A second event for the same payment (async success after completion) grants nothing more.
    await s.deliver(s.stripe.event('checkout.session.async_payment_succeeded', paid));
    expect((await s.t.credits.balance('gus')).purchased).toBe(50);
    expect((await ledgerCheck(s)).ok).toBe(true);
  });

  it('an async payment: completed unpaid waits, async_payment_failed releases the hold', async () => {
    const before = await s.t.credits.poolState('nanobanana');
    const { body } = await s.buy('hal', 'starter');
    const session = [...s.stripe.sessions.values()].find((x) => (x.metadata as { purchaseId: string }).purchaseId === body.purchaseId)!;
    const pending = s.stripe.pay(session.id, { async: true });
    expect((await s.deliver(s.stripe.event('checkout.session.completed', pending))).status).toBe(200);
    expect((await s.t.credits.balance('hal')).purchased).toBe(0);
    await s.deliver(s.stripe.event('checkout.session.async_payment_failed', pending));
    expect(await s.purchase(body.purchaseId)).toMatchObject({ status: 'failed' });
    expect(await s.t.credits.poolState('nanobanana')).toEqual(before);
  });

  it('paid after the hold expired: granted anyway, backed again while the pool can', async () => {
    const app = await createStripeTestApp();
    await app.t.credits.refill({ provider: 'nanobanana', amount: 80, key: 'two-starters' });
    const late = await checkoutPaid(app, 'ida', 'starter');
    await app.t.ledger.expireHolds(new Date(Date.now() + 2 * 3600_000));
    expect((await app.t.credits.poolState('nanobanana')).available).toBe(80);
    await app.deliver(app.stripe.event('checkout.session.completed', late.paid));
    expect((await app.t.credits.balance('ida')).purchased).toBe(10);
    expect(await app.t.credits.poolState('nanobanana')).toMatchObject({ available: 40, reserved: 40 });
    expect(await app.purchase(late.purchaseId)).toMatchObject({ status: 'paid', unbackedCredits: 0 });

    // The next late payment finds the pool sold out meanwhile: granted unbacked, with a critical alert.
    const later = await checkoutPaid(app, 'jo', 'starter');
    await app.t.ledger.expireHolds(new Date(Date.now() + 2 * 3600_000));
    expect((await app.buy('kim', 'starter')).status).toBe(200); // the capacity went to another buyer
    await app.deliver(app.stripe.event('checkout.session.completed', later.paid));
    expect((await app.t.credits.balance('jo')).purchased).toBe(10);
    expect(await app.purchase(later.purchaseId)).toMatchObject({ status: 'paid', unbackedCredits: 10 });
    const alerts = await (await app.t.request('GET', '/v1/admin/alerts', { auth: app.t.adminKey })).json();
    expect(alerts.alerts).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'purchase_unbacked', level: 'critical' })]));
    const report = await ledgerCheck(app);
    expect(report.results.filter((r: { ok: boolean }) => !r.ok).map((r: { name: string }) => r.name)).toEqual(['backing-matches-credits']); // the shortfall, reported
  });
});

describe('sessions Tally did not open', () => {
  it('grant nothing: a payment naming a failed purchase by client_reference_id, or its id in metadata at another price', async () => {
    // A purchase whose checkout failed to open: listed to its owner by id, with no session.
    s.stripe.failWith = 500;
    const { body } = await s.buy('ned', 'studio').finally(() => (s.stripe.failWith = null));
    const [failed] = (await (await s.t.request('GET', '/v1/credits/purchases', { auth: await s.t.userToken('ned') })).json()).purchases;
    expect(failed).toMatchObject({ status: 'failed' });
    expect(body.code).toBe('bad_gateway');
    // The buyer pays a cheap Payment Link of the same Stripe account, naming that purchase where a payer can.
    const foreign = (overrides: Record<string, unknown>): Record<string, unknown> => ({
      id: `cs_foreign_${Math.random().toString(36).slice(2)}`,
      object: 'checkout.session',
      mode: 'payment',
      status: 'complete',
      payment_status: 'paid',
      amount_total: 100,
      currency: 'eur',
      metadata: {},
      client_reference_id: failed.id,
      payment_intent: `pi_foreign_${Math.random().toString(36).slice(2)}`,
      ...overrides,
    });
    const deliverPaid = async (session: Record<string, unknown>) => {
      expect((await s.deliver(s.stripe.event('checkout.session.completed', session))).status).toBe(200); // answered, so Stripe stops retrying
      return (await s.t.credits.balance('ned')).purchased;
    };
    expect(await deliverPaid(foreign({}))).toBe(0);
    // Even with its id in the metadata, a failed purchase is not granted, nor an open one at another price.
    expect(await deliverPaid(foreign({ metadata: { purchaseId: failed.id } }))).toBe(0);
    const open = await s.buy('ned', 'pro');
    expect(await deliverPaid(foreign({ metadata: { purchaseId: open.body.purchaseId }, client_reference_id: null }))).toBe(0);
    expect(await s.purchase(open.body.purchaseId)).toMatchObject({ status: 'pending', grantedAt: null });
  });
});

describe('refunds and disputes', () => {
  it('a partial then a full refund after partial spend: unspent credits clawed back in proportion, never below zero, never twice', async () => {
    const { purchaseId, paid } = await checkoutPaid(s, 'lu', 'creative'); // 50 credits for 39.99
    await s.deliver(s.stripe.event('checkout.session.completed', paid));
    await s.spend('lu', 10, 'lu-work');
    const pool = await s.t.credits.poolState('nanobanana');
    await s.client.refunds.create({ payment_intent: paid.payment_intent as string, amount: 1999 });
    const charge = [...s.stripe.charges.values()].find((c) => c.payment_intent === paid.payment_intent)!;
    const partial = s.stripe.event('charge.refunded', charge);
    await s.deliver(partial);
    // floor(50 × 1999 / 3999) = 24 of the 40 left; their backing (96 units) returns to the pool.
    expect((await s.t.credits.balance('lu')).purchased).toBe(16);
    expect(await s.t.credits.poolState('nanobanana')).toMatchObject({ available: pool.available + 96, reserved: pool.reserved - 96 });
    expect(await s.purchase(purchaseId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1999, creditsClawedBack: 24 });

    await s.client.refunds.create({ payment_intent: paid.payment_intent as string });
    await s.deliver(s.stripe.event('charge.refunded', charge));
    // 26 more were due; 16 were left, 10 had been spent.
    expect((await s.t.credits.balance('lu')).purchased).toBe(0);
    expect(await s.purchase(purchaseId)).toMatchObject({ status: 'refunded', amountRefunded: 3999, creditsClawedBack: 40, creditsSpentBeforeClawback: 10 });
    // The partial refund's event again (a new delivery id, the same charge state): nothing more.
    await s.deliver(s.stripe.event('charge.refunded', { ...charge, amount_refunded: 1999 }));
    expect(await s.purchase(purchaseId)).toMatchObject({ creditsClawedBack: 40 });
    expect((await ledgerCheck(s)).ok).toBe(true);
  });

  it('a dispute takes the unspent credits back; lost, it stands; won, or an inquiry closed without a chargeback, they return', async () => {
    const cases = [
      { opening: 'needs_response', outcome: 'lost', restored: false },
      { opening: 'needs_response', outcome: 'won', restored: true },
      { opening: 'warning_needs_response', outcome: 'warning_closed', restored: true },
    ] as const;
    for (const { opening, outcome, restored } of cases) {
      const user = `mo-${outcome}`;
      const { purchaseId, paid } = await checkoutPaid(s, user, 'starter');
      await s.deliver(s.stripe.event('checkout.session.completed', paid));
      await s.spend(user, 3, `${user}-work`);
      const dispute = {
        id: `dp_test_${outcome}`,
        object: 'dispute',
        amount: 999,
        currency: 'eur',
        charge: 'ch_x',
        payment_intent: paid.payment_intent,
        status: opening,
      };
      const opened = s.stripe.event('charge.dispute.created', dispute);
      await Promise.all([s.deliver(opened), s.deliver(opened)]);
      expect((await s.t.credits.balance(user)).purchased).toBe(0);
      expect(await s.purchase(purchaseId)).toMatchObject({ status: 'disputed', creditsClawedBack: 7, creditsSpentBeforeClawback: 3 });
      await s.deliver(s.stripe.event('charge.dispute.closed', { ...dispute, status: outcome }));
      expect((await s.t.credits.balance(user)).purchased).toBe(restored ? 7 : 0);
      expect(await s.purchase(purchaseId)).toMatchObject(
        restored ? { status: 'paid', creditsRestored: 7, disputeStatus: outcome } : { status: 'disputed', disputeStatus: outcome },
      );
    }
    expect((await ledgerCheck(s)).ok).toBe(true);
  });

  it('out of order: a dispute closed (won) before its opening arrives leaves the credits in place, and the late opening takes nothing', async () => {
    const { purchaseId, paid } = await checkoutPaid(s, 'ola', 'starter');
    await s.deliver(s.stripe.event('checkout.session.completed', paid));
    const dispute = {
      id: 'dp_test_early_close',
      object: 'dispute',
      amount: 999,
      currency: 'eur',
      charge: 'ch_y',
      payment_intent: paid.payment_intent,
      status: 'needs_response',
    };
    await s.deliver(s.stripe.event('charge.dispute.closed', { ...dispute, status: 'won' }));
    await s.deliver(s.stripe.event('charge.dispute.created', dispute));
    expect((await s.t.credits.balance('ola')).purchased).toBe(10);
    expect(await s.purchase(purchaseId)).toMatchObject({ status: 'paid', disputeStatus: 'won', creditsClawedBack: 10, creditsRestored: 10 });
    expect((await ledgerCheck(s)).ok).toBe(true);
  });

  it('out of order: a refund before its payment waits, then applies once; an expiry after payment changes nothing', async () => {
    const { purchaseId, paid } = await checkoutPaid(s, 'ned', 'starter');
    await s.client.refunds.create({ payment_intent: paid.payment_intent as string });
    const charge = [...s.stripe.charges.values()].find((c) => c.payment_intent === paid.payment_intent)!;
    const refund = s.stripe.event('charge.refunded', charge);
    expect((await s.deliver(refund)).status).toBe(200);
    expect(await s.purchase(purchaseId)).toMatchObject({ status: 'pending', creditsClawedBack: 0 });
    await s.deliver(s.stripe.event('checkout.session.completed', paid));
    await s.deliver(refund);
    await s.deliver(s.stripe.event('checkout.session.expired', { ...paid, status: 'expired' }));
    expect((await s.t.credits.balance('ned')).purchased).toBe(0);
    expect(await s.purchase(purchaseId)).toMatchObject({ status: 'refunded', grantedAt: expect.any(String), creditsClawedBack: 10 });
    expect((await ledgerCheck(s)).results.filter((r: { name: string }) => r.name.startsWith('purchase-'))).toEqual([
      expect.objectContaining({ name: 'purchase-granted-once', ok: true }),
      expect.objectContaining({ name: 'purchase-clawed-back-at-most-once', ok: true }),
    ]);
  });
});
