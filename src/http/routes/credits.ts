// Credits for end users: balance, packages with live capacity, purchases. Compatibility routes (docs/compatibility.md)
// and their /v1 equivalents call the same domain functions.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Capacity, UserBalance } from '../../credits/index.ts';
import { currentUserId, guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { json, problems } from '../schemas.ts';

const BalanceBody = z
  .object({
    balance: z.number().int(),
    allowance: z.number().int(),
    purchased: z.number().int(),
    tier: z.string(),
    resetsAt: z.string().openapi({ description: 'Next monthly reset (allowance expires and is re-granted)' }),
  })
  .openapi('CreditBalance');

const PackageBody = z
  .object({
    id: z.string(),
    credits: z.number().int(),
    price: z.number().int().openapi({ description: 'Minor units (cents)' }),
    currency: z.string(),
    disabled: z.boolean(),
    message: z.string().nullable(),
  })
  .openapi('Package');

const CompatPackagesBody = z.object({
  packages: z.array(PackageBody),
  platformCapacity: z.object({
    totalUserCredits: z.number().int(),
    nanoBananaCredits: z.number().int(),
    canSellStarter: z.boolean(),
    canSellCreative: z.boolean(),
    canSellPro: z.boolean(),
    canSellStudio: z.boolean(),
  }),
  balance: BalanceBody.optional(),
});

const PurchaseRequest = z.object({ packageId: z.string().min(1).max(64) }).openapi('PurchaseRequest');
const PurchaseBody = z
  .union([
    z.object({
      checkoutUrl: z.string().openapi({ description: 'Stripe Checkout: send the buyer here; credits are granted when Stripe confirms the payment' }),
      purchaseId: z.string(),
      packageId: z.string(),
      mode: z.literal('stripe'),
    }),
    z.object({
      granted: z.number().int(),
      balance: z.number().int(),
      purchaseId: z.string(),
      packageId: z.string(),
      mode: z.literal('development').openapi({ description: 'Granted without payment (demo or TALLY_DEV_PURCHASES)' }),
    }),
  ])
  .openapi('Purchase');
const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,100}$/)
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description: 'Retrying with the same key buys once and gets the first answer unchanged; the same key with another body is a 409',
    }),
});

const compatBalance = createRoute({
  method: 'get',
  path: '/api/credits/balance',
  tags: ['credits'],
  summary: 'The caller’s credits by bucket',
  ...guard('user'),
  responses: { 200: json(BalanceBody, 'Balance'), ...problems(400, 401, 403, 429) },
});
const V1BalanceBody = BalanceBody.extend({
  overflow: z.number().int().openapi({ description: 'Overflow left this month (paid tiers with overflow enabled)' }),
  overflowUsed: z.number().int().openapi({ description: 'Overflow drawn this month' }),
  nextTier: z.string().nullable().openapi({ description: 'A downgrade waiting for the next reset' }),
}).openapi('CreditBalanceDetail');
const v1Balance = createRoute({
  method: 'get',
  path: '/v1/credits/balance',
  tags: ['credits'],
  summary: 'The caller’s credits by bucket',
  ...guard('user'),
  responses: { 200: json(V1BalanceBody, 'Balance'), ...problems(400, 401, 403, 429) },
});

const compatPackages = createRoute({
  method: 'get',
  path: '/api/credits/purchase',
  tags: ['credits'],
  summary: 'Packages and platform capacity (with user auth, also the caller’s balance)',
  ...guard('public'),
  responses: { 200: json(CompatPackagesBody, 'Packages; unsellable ones are disabled'), ...problems(401) },
});
const v1Packages = createRoute({
  method: 'get',
  path: '/v1/credits/packages',
  tags: ['credits'],
  summary: 'Packages, each with whether it can be sold now',
  ...guard('public'),
  responses: { 200: json(z.object({ packages: z.array(PackageBody), sellableUserCredits: z.number().int() }), 'Packages'), ...problems(401) },
});

const purchaseResponses = {
  200: json(PurchaseBody, 'A Stripe Checkout link, or (development purchases only) the credits granted'),
  ...problems(400, 401, 403, 409, 413, 415, 429, 502, 503),
};
const compatPurchase = createRoute({
  method: 'post',
  path: '/api/credits/purchase',
  tags: ['credits'],
  summary: 'Buy a package (409 when the platform cannot back it; nothing is charged)',
  ...guard('user'),
  request: { headers: idempotencyHeader, body: { required: true, content: { 'application/json': { schema: PurchaseRequest } } } },
  responses: purchaseResponses,
});
const v1Purchase = createRoute({ ...compatPurchase, path: '/v1/credits/purchases' });

const setTier = createRoute({
  method: 'put',
  path: '/v1/users/{userId}/tier',
  tags: ['credits'],
  summary: 'Set a user’s tier (upgrades now, downgrades at the next monthly reset)',
  ...guard('service'),
  request: {
    params: z.object({
      userId: z
        .string()
        .regex(/^[A-Za-z0-9_:.@-]{1,200}$/)
        .openapi({ param: { name: 'userId', in: 'path' } }),
    }),
    body: { required: true, content: { 'application/json': { schema: z.object({ tier: z.string().min(1).max(32) }).openapi('SetTier') } } },
  },
  responses: {
    200: json(BalanceBody.extend({ nextTier: z.string().nullable() }), 'The user’s balance after the change'),
    ...problems(400, 401, 403, 413, 415, 429),
  },
});

export function registerCreditRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(setTier, async (c) => {
    const balance = await c.get('deps').credits.setTier(c.req.valid('param').userId, c.req.valid('json').tier);
    return c.json({ ...compatBalanceShape(balance), nextTier: balance.nextTier }, 200);
  });

  app.openapi(compatBalance, async (c) => c.json(compatBalanceShape(await c.get('deps').credits.balance(currentUserId(c))), 200));
  app.openapi(v1Balance, async (c) => {
    const b = await c.get('deps').credits.balance(currentUserId(c));
    return c.json({ ...compatBalanceShape(b), overflow: b.overflow, overflowUsed: b.overflowUsed, nextTier: b.nextTier }, 200);
  });

  app.openapi(compatPackages, async (c) => {
    const { credits } = c.get('deps');
    const capacity = await credits.capacity();
    const caller = c.get('caller');
    const balance = caller.kind === 'user' ? compatBalanceShape(await credits.balance(caller.userId)) : undefined;
    return c.json({ ...compatCapacity(capacity), ...(balance ? { balance } : {}) }, 200);
  });

  app.openapi(v1Packages, async (c) => {
    const capacity = await c.get('deps').credits.capacity();
    const primary = capacity.pools.find((p) => p.provider === capacity.primaryProvider)!;
    return c.json({ packages: capacity.packages, sellableUserCredits: primary.sellableUserCredits }, 200);
  });

  for (const route of [compatPurchase, v1Purchase]) {
    app.openapi(route, async (c) => {
      const { packageId } = c.req.valid('json');
      const answer = await c.get('deps').payments.purchase({ userId: currentUserId(c), packageId, idempotencyKey: c.req.valid('header')['idempotency-key'] });
      return c.json(answer, 200);
    });
  }
}

function compatBalanceShape(b: UserBalance) {
  return { balance: b.balance, allowance: b.allowance, purchased: b.purchased, tier: b.tier, resetsAt: b.resetsAt };
}

/** docs/compatibility.md's `platformCapacity`, named after the original design's four packages. */
function compatCapacity(capacity: Capacity) {
  const primary = capacity.pools.find((p) => p.provider === capacity.primaryProvider)!;
  const canSell = (id: string) => capacity.packages.some((p) => p.id === id && !p.disabled);
  return {
    packages: capacity.packages,
    platformCapacity: {
      totalUserCredits: primary.sellableUserCredits,
      nanoBananaCredits: primary.available,
      canSellStarter: canSell('starter'),
      canSellCreative: canSell('creative'),
      canSellPro: canSell('pro'),
      canSellStudio: canSell('studio'),
    },
  };
}
