// Payments configuration (src/payments/README.md): Stripe keys and URLs, and the switch for
// development purchases, which grant credits for free and so are refused in production.
import { z } from 'zod';
import { bool, integer } from './fields.ts';

/** `price_abc=plus,price_def=pro` from the environment, or an object in the config file. */
const priceTiers = z.union([
  z.record(z.string().min(1), z.string().min(1)),
  z.string().transform((value, ctx) => {
    const entries = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((pair) => pair.split('='));
    if (entries.some((e) => e.length !== 2 || !e[0] || !e[1])) {
      ctx.addIssue({ code: 'custom', message: 'write it as price_id=tier pairs separated by commas, e.g. price_123=plus,price_456=pro' });
      return z.NEVER;
    }
    return Object.fromEntries(entries.map(([price, tier]) => [price!.trim(), tier!.trim()]));
  }),
]);

export const paymentsSchema = z
  .object({
    /** Purchases granted at once without payment: the demo, or an operator's explicit choice. Never in production. */
    devPurchases: bool.default(false),
    /** How long a Checkout Session stays open (and the package's capacity stays held). Stripe allows 30 to 1440. */
    checkoutMinutes: integer(30, 1440).default(60),
    /** Largest Stripe webhook body accepted (Stripe's events are a few KB). */
    webhookMaxBytes: integer(1024, 1024 * 1024).default(256 * 1024),
    stripe: z
      .object({
        secretKey: z.string().min(1).optional(),
        webhookSecret: z.string().min(1).optional(),
        /** Where the Stripe API is (protocol, host and port); a local stand-in in tests. */
        apiBase: z.string().url().optional(),
        /** Where Checkout sends the buyer afterwards; default: the user page. */
        successUrl: z.string().url().optional(),
        cancelUrl: z.string().url().optional(),
        /** Stripe price id -> tier, for plans sold as subscriptions. */
        priceTiers: priceTiers.default({}),
      })
      .prefault({}),
  })
  .prefault({});

type PaymentsInput = z.infer<typeof paymentsSchema>;

export function refinePayments(config: { env: string; payments: PaymentsInput; credits: { tiers: Record<string, unknown> } }, ctx: z.RefinementCtx): void {
  const { payments } = config;
  if (payments.devPurchases && config.env === 'production') {
    ctx.addIssue({
      code: 'custom',
      path: ['payments', 'devPurchases'],
      message: 'development purchases grant credits without payment and are refused when NODE_ENV=production; configure STRIPE_SECRET_KEY instead',
    });
  }
  if (payments.stripe.secretKey && !payments.stripe.webhookSecret) {
    ctx.addIssue({
      code: 'custom',
      path: ['payments', 'stripe', 'webhookSecret'],
      message: 'is required with STRIPE_SECRET_KEY: without it no payment could ever be confirmed (Stripe shows it as whsec_… on the webhook endpoint)',
    });
  }
  for (const [price, tier] of Object.entries(payments.stripe.priceTiers)) {
    if (!config.credits.tiers[tier])
      ctx.addIssue({ code: 'custom', path: ['payments', 'stripe', 'priceTiers', price], message: `names tier "${tier}", which is not in credits.tiers` });
  }
}

export function withPaymentUrls(payments: PaymentsInput, publicUrl: string) {
  return {
    ...payments,
    stripe: { ...payments.stripe, successUrl: payments.stripe.successUrl ?? `${publicUrl}/`, cancelUrl: payments.stripe.cancelUrl ?? `${publicUrl}/` },
  };
}
