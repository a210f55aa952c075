// Payments (src/payments/README.md): purchases of credit packages through Stripe Checkout, plans as
// Stripe subscriptions, and the webhook that confirms them; or, only where allowed, development
// purchases granted at once. Credits move only through the ledger, decided in checkout.ts and settle.ts.
import type { Config } from '../config/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Credits } from '../credits/index.ts';
import { CreditsError } from '../credits/index.ts';
import type { InvariantCheck, Ledger } from '../ledger/index.ts';
import type { Logger } from '../log.ts';
import { grantDevelopmentPurchase, openCheckout, packageOf, type PurchaseAnswer } from './checkout.ts';
import { NOT_CONFIGURED_MESSAGE, PaymentsError } from './errors.ts';
import { withIdempotencyKey } from './idempotency.ts';
import { purchaseChecks } from './invariants.ts';
import { listPurchases, type PurchaseFilter, type PurchaseView } from './repository.ts';
import { createStripeGateway, type PaymentGateway } from './stripe.ts';
import { customerOf, rememberCustomer } from './subscriptions.ts';
import { handleStripeEvent } from './webhook.ts';

export { PaymentsError, type PaymentsErrorCode } from './errors.ts';
export type { PurchaseAnswer } from './checkout.ts';
export { PURCHASE_STATUSES, type PurchaseStatus, type PurchaseView } from './repository.ts';

export type PaymentsMode = 'stripe' | 'development' | 'off';

export class Payments {
  private readonly gateway: PaymentGateway | undefined;

  constructor(
    private readonly deps: {
      pool: Pool;
      ledger: Ledger;
      credits: Credits;
      config: Config;
      log: Logger;
      /** The emergency controls (src/controls): refuses a purchase while purchases are paused. */
      gate?: { assertPurchasesOpen(): Promise<void> };
    },
  ) {
    this.gateway = createStripeGateway(deps.config.payments.stripe);
  }

  /** Stripe when configured; else development purchases when allowed; else purchases are refused. */
  get mode(): PaymentsMode {
    if (this.gateway) return 'stripe';
    return this.deps.config.payments.devPurchases ? 'development' : 'off';
  }

  /**
   * Buys a package: a Checkout link with Stripe, credits at once in development. With an
   * Idempotency-Key, a replay gets the first answer unchanged.
   */
  purchase(input: { userId: string; packageId: string; idempotencyKey?: string }): Promise<PurchaseAnswer> {
    const mode = this.mode;
    if (mode === 'off') throw new PaymentsError('payments_not_configured', NOT_CONFIGURED_MESSAGE);
    const { pool, ledger, credits, config, log } = this.deps;
    const common = { pool, ledger, credits, creditsConfig: config.credits, log };
    // A replay still gets its first answer; a new purchase is refused while paused, before anything is held.
    return withIdempotencyKey(pool, { userId: input.userId, key: input.idempotencyKey, body: { packageId: input.packageId } }, async (requestId) => {
      packageOf(config.credits, input.packageId); // a client's mistake is a 400 even while paused
      await this.deps.gate?.assertPurchasesOpen();
      return this.gateway
        ? openCheckout({ ...common, gateway: this.gateway, checkoutMinutes: config.payments.checkoutMinutes }, input)
        : grantDevelopmentPurchase(common, { ...input, purchaseId: requestId });
    });
  }

  /** A Checkout Session in subscription mode for the plan of `tier`. */
  async subscribe(input: { userId: string; tier: string }): Promise<{ checkoutUrl: string }> {
    const gateway = this.requireGateway();
    if (!this.deps.config.credits.tiers[input.tier])
      throw new CreditsError('unknown_tier', `no tier "${input.tier}"; tiers: ${this.deps.credits.tiers().join(', ')}`, 'tier');
    const priceId = Object.entries(this.deps.config.payments.stripe.priceTiers).find(([, tier]) => tier === input.tier)?.[0];
    if (!priceId) throw new PaymentsError('no_plan_for_tier', `tier "${input.tier}" is not sold as a plan (STRIPE_PRICE_TIERS names no price for it)`, 'tier');
    // A plan sells a monthly allowance: a purchases pause (by an operator or a pool that can back no
    // sale) stops new plans too, before any customer or session is created at Stripe.
    await this.deps.gate?.assertPurchasesOpen();
    const customerId = await this.customerFor(input.userId);
    const session = await gateway.createPlanCheckout({ userId: input.userId, tier: input.tier, priceId, customerId });
    this.deps.log.info({ userId: input.userId, tier: input.tier, session: session.id }, 'plan checkout open');
    return { checkoutUrl: session.url };
  }

  /** A Billing Portal session for the user's Stripe customer (plans, invoices, payment methods). */
  async portal(userId: string): Promise<{ url: string }> {
    const gateway = this.requireGateway();
    const customerId = await customerOf(this.deps.pool, userId);
    if (!customerId) throw new PaymentsError('not_found', 'You have no billing account yet: subscribe to a plan first.');
    return gateway.createPortal({ customerId });
  }

  /** A webhook delivery: verified against the raw bytes, then handled once by event id. */
  async receiveWebhook(rawBody: Buffer, signature: string | undefined): Promise<{ duplicate: boolean; outcome: string }> {
    if (!this.gateway) throw new PaymentsError('payments_not_configured', 'Stripe is not configured here (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET).');
    const event = this.gateway.verifyEvent(rawBody, signature);
    const { pool, ledger, credits, config, log } = this.deps;
    return handleStripeEvent({ pool, ledger, credits, creditsConfig: config.credits, log, priceTiers: config.payments.stripe.priceTiers }, event);
  }

  list(filter: PurchaseFilter): Promise<{ purchases: PurchaseView[]; cursor: string | null }> {
    return listPurchases(this.deps.pool, filter);
  }

  invariantChecks(): InvariantCheck[] {
    return purchaseChecks;
  }

  private requireGateway(): PaymentGateway {
    if (!this.gateway)
      throw new PaymentsError(
        'payments_not_configured',
        'Plans are sold through Stripe, which is not configured here (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET).',
      );
    return this.gateway;
  }

  private async customerFor(userId: string): Promise<string> {
    const known = await customerOf(this.deps.pool, userId);
    if (known) return known;
    await rememberCustomer(this.deps.pool, { userId, customerId: await this.requireGateway().createCustomer(userId) });
    return (await customerOf(this.deps.pool, userId))!;
  }
}
