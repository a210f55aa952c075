// The Stripe side, through the official `stripe` package: Checkout Sessions, customers, the Billing
// Portal, and webhook verification. The API's address comes from config (STRIPE_API_BASE), so the same
// code talks to Stripe or to a local stand-in.
import Stripe from 'stripe';
import type { PaymentsConfig } from '../config/index.ts';
import { PaymentsError } from './errors.ts';

export type StripeEvent = Stripe.Event;

export interface PackageCheckoutInput {
  purchaseId: string;
  userId: string;
  packageId: string;
  credits: number;
  amount: number;
  currency: string;
  expiresAt: Date;
}

export interface PaymentGateway {
  /** A Checkout Session in payment mode; the same purchase id always gives the same session (idempotency key). */
  createPackageCheckout(input: PackageCheckoutInput): Promise<{ id: string; url: string }>;
  createPlanCheckout(input: { userId: string; tier: string; priceId: string; customerId: string }): Promise<{ id: string; url: string }>;
  createCustomer(userId: string): Promise<string>;
  createPortal(input: { customerId: string }): Promise<{ url: string }>;
  /** The event, if the raw body carries a valid, recent signature; else `invalid_signature`. */
  verifyEvent(rawBody: Buffer, signature: string | undefined): StripeEvent;
}

export function createStripeGateway(config: PaymentsConfig['stripe']): PaymentGateway | undefined {
  if (!config.secretKey || !config.webhookSecret) return undefined;
  const base = config.apiBase ? new URL(config.apiBase) : undefined;
  const stripe = new Stripe(config.secretKey, {
    ...(base
      ? {
          protocol: base.protocol === 'http:' ? ('http' as const) : ('https' as const),
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
        }
      : {}),
    maxNetworkRetries: 2,
    timeout: 20_000,
    telemetry: false,
  });
  const webhookSecret = config.webhookSecret;
  const urls = { success_url: config.successUrl!, cancel_url: config.cancelUrl! };

  const call = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      // The buyer sees that the payment provider failed, never Stripe's internals; the log has the detail.
      throw Object.assign(new PaymentsError('payment_provider_failed', `The payment provider could not ${what}; nothing was charged. Try again in a moment.`), {
        cause: error,
      });
    }
  };

  return {
    async createPackageCheckout(input) {
      const metadata = { userId: input.userId, packageId: input.packageId, purchaseId: input.purchaseId };
      const session = await call('open a checkout', () =>
        stripe.checkout.sessions.create(
          {
            mode: 'payment',
            line_items: [
              {
                quantity: 1,
                price_data: {
                  currency: input.currency.toLowerCase(),
                  unit_amount: input.amount,
                  product_data: { name: `${input.credits} credits (${input.packageId})` },
                },
              },
            ],
            metadata,
            payment_intent_data: { metadata },
            client_reference_id: input.purchaseId,
            expires_at: Math.floor(input.expiresAt.getTime() / 1000),
            ...urls,
          },
          { idempotencyKey: `tally-checkout-${input.purchaseId}` },
        ),
      );
      if (!session.url) throw new PaymentsError('payment_provider_failed', 'The payment provider opened a checkout without a URL; nothing was charged.');
      return { id: session.id, url: session.url };
    },

    async createPlanCheckout(input) {
      const metadata = { userId: input.userId, tier: input.tier };
      const session = await call('open a checkout', () =>
        stripe.checkout.sessions.create({
          mode: 'subscription',
          line_items: [{ price: input.priceId, quantity: 1 }],
          customer: input.customerId,
          client_reference_id: input.userId,
          metadata,
          subscription_data: { metadata },
          ...urls,
        }),
      );
      if (!session.url) throw new PaymentsError('payment_provider_failed', 'The payment provider opened a checkout without a URL.');
      return { id: session.id, url: session.url };
    },

    async createCustomer(userId) {
      const customer = await call('create a customer', () =>
        stripe.customers.create({ metadata: { userId } }, { idempotencyKey: `tally-customer-${encodeURIComponent(userId)}` }),
      );
      return customer.id;
    },

    async createPortal(input) {
      const session = await call('open the billing portal', () =>
        stripe.billingPortal.sessions.create({ customer: input.customerId, return_url: urls.success_url }),
      );
      return { url: session.url };
    },

    verifyEvent(rawBody, signature) {
      if (!signature) throw new PaymentsError('invalid_signature', 'The Stripe-Signature header is missing.');
      try {
        return stripe.webhooks.constructEvent(rawBody, signature, webhookSecret);
      } catch {
        throw new PaymentsError('invalid_signature', 'The Stripe-Signature header does not match this body, or is too old (over 5 minutes).');
      }
    },
  };
}
