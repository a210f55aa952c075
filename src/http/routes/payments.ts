// Payments over HTTP: the Stripe webhook, plans and the billing portal, and purchase lists. Each
// route parses, calls one src/payments function and answers.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { PURCHASE_STATUSES, type PurchaseStatus } from '../../payments/index.ts';
import { currentUserId, guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems } from '../schemas.ts';

const stripeWebhook = createRoute({
  method: 'post',
  path: '/api/webhooks/stripe',
  tags: ['webhooks'],
  summary: 'Stripe events (signed with STRIPE_WEBHOOK_SECRET; each handled once by its id)',
  ...guard('public'),
  responses: {
    200: json(
      z.object({ received: z.literal(true), duplicate: z.boolean().openapi({ description: 'true when this event id was handled before: nothing changed' }) }),
      'Taken',
    ),
    ...problems(400, 413, 415, 503),
  },
});

const PurchaseView = z
  .object({
    id: z.string(),
    userId: z.string(),
    mode: z.enum(['stripe', 'development']),
    packageId: z.string(),
    credits: z.number().int(),
    amount: z.number().int().openapi({ description: 'Minor units (cents)' }),
    currency: z.string(),
    status: z.enum(PURCHASE_STATUSES as [PurchaseStatus, ...PurchaseStatus[]]),
    checkoutUrl: z.string().nullable().openapi({ description: 'While the checkout is open' }),
    checkoutSessionId: z.string().nullable(),
    paymentIntentId: z.string().nullable(),
    amountRefunded: z.number().int(),
    creditsClawedBack: z.number().int(),
    creditsSpentBeforeClawback: z.number().int().openapi({ description: 'Due back for refunds or disputes, but already spent' }),
    creditsRestored: z.number().int(),
    unbackedCredits: z.number().int(),
    disputeStatus: z.string().nullable(),
    createdAt: z.string(),
    grantedAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
  })
  .openapi('PurchaseRecord');
const PurchasePage = z.object({
  purchases: z.array(PurchaseView),
  cursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page' }),
});
const page = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' } }),
};

const myPurchases = createRoute({
  method: 'get',
  path: '/v1/credits/purchases',
  tags: ['credits'],
  summary: 'Your purchases, newest first',
  ...guard('user'),
  request: { query: z.object(page) },
  responses: { 200: json(PurchasePage, 'Purchases'), ...problems(400, 401, 403, 429) },
});

const adminPurchases = createRoute({
  method: 'get',
  path: '/v1/admin/purchases',
  tags: ['admin'],
  summary: 'Every purchase, newest first, filtered by status, user and creation time',
  ...guard('admin'),
  request: {
    query: z.object({
      ...page,
      status: z
        .enum(PURCHASE_STATUSES as [PurchaseStatus, ...PurchaseStatus[]])
        .optional()
        .openapi({ param: { name: 'status', in: 'query' } }),
      userId: z
        .string()
        .regex(/^[A-Za-z0-9_:.@-]{1,200}$/)
        .optional()
        .openapi({ param: { name: 'userId', in: 'query' } }),
      from: z
        .string()
        .datetime({ offset: true })
        .optional()
        .openapi({ param: { name: 'from', in: 'query' }, description: 'Created at or after (ISO 8601)' }),
      to: z
        .string()
        .datetime({ offset: true })
        .optional()
        .openapi({ param: { name: 'to', in: 'query' }, description: 'Created before (ISO 8601)' }),
    }),
  },
  responses: { 200: json(PurchasePage, 'Purchases'), ...problems(400, 401, 403, 429) },
});

const planCheckout = createRoute({
  method: 'post',
  path: '/v1/billing/subscriptions/checkout',
  tags: ['credits'],
  summary: 'A Stripe Checkout link for a plan (the tier changes when Stripe reports the subscription)',
  ...guard('user'),
  request: { body: { required: true, content: { 'application/json': { schema: z.object({ tier: z.string().min(1).max(32) }).openapi('PlanCheckout') } } } },
  responses: { 200: json(z.object({ checkoutUrl: z.string() }), 'Checkout link'), ...problems(400, 401, 403, 413, 415, 429, 502, 503) },
});

const billingPortal = createRoute({
  method: 'post',
  path: '/v1/billing/portal',
  tags: ['credits'],
  summary: 'A Stripe Billing Portal link for your plan, invoices and payment methods',
  ...guard('user'),
  responses: { 200: json(z.object({ url: z.string() }), 'Portal link'), ...problems(400, 401, 403, 404, 429, 502, 503) },
});

export function registerPaymentRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(stripeWebhook, async (c) => {
    const { config, payments } = c.get('deps');
    // The signature covers the exact bytes Stripe sent: read them raw, never re-serialised JSON.
    const raw = Buffer.from(await c.req.arrayBuffer());
    if (raw.length > config.payments.webhookMaxBytes)
      throw new ApiError('payload_too_large', `Stripe webhook bodies are limited to ${config.payments.webhookMaxBytes} bytes`);
    const result = await payments.receiveWebhook(raw, c.req.header('stripe-signature'));
    return c.json({ received: true as const, duplicate: result.duplicate }, 200);
  });

  app.openapi(myPurchases, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    return c.json(await c.get('deps').payments.list({ userId: currentUserId(c), limit, cursor }), 200);
  });

  app.openapi(adminPurchases, async (c) => {
    const q = c.req.valid('query');
    const filter = {
      limit: q.limit,
      cursor: q.cursor,
      status: q.status,
      userId: q.userId,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
    };
    return c.json(await c.get('deps').payments.list(filter), 200);
  });

  app.openapi(planCheckout, async (c) => c.json(await c.get('deps').payments.subscribe({ userId: currentUserId(c), tier: c.req.valid('json').tier }), 200));
  app.openapi(billingPortal, async (c) => c.json(await c.get('deps').payments.portal(currentUserId(c)), 200));
}
