// Operators' view of the platform pools: capacity, refills (alerts are in admin-ops.ts).
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { json, problems } from '../schemas.ts';

const adminProblems = problems(400, 401, 403, 429);

const PoolBody = z
  .object({
    provider: z.string(),
    unit: z.string(),
    ratio: z.number().int(),
    available: z.number().int(),
    reserved: z.number().int(),
    consumed: z.number().int(),
    emergency: z.number().int(),
    emergencyReserve: z.number().int(),
    balance: z.number().int(),
    sellableUserCredits: z.number().int(),
    unitCostMicroUsd: z.number().int(),
    lowThreshold: z.number().int(),
    criticalThreshold: z.number().int(),
  })
  .openapi('PoolState');

const RefillRequest = z
  .object({
    provider: z.string().min(1).max(64),
    amount: z.number().int().positive(),
    reason: z.string().trim().min(1).max(500).optional(),
  })
  .openapi('Refill'); // not RefillRequest: that name is the request-for-a-refill record (admin-pools.ts)

const creditStats = createRoute({
  method: 'get',
  path: '/api/admin/credit-stats',
  tags: ['admin'],
  summary: 'Platform credits at a glance (original design’s shape)',
  ...guard('admin'),
  responses: {
    200: json(
      z.object({
        platformCreditsRemaining: z.number().int(),
        dailyUsage: z.number().int().openapi({ description: 'Credits users spent today (UTC)' }),
        activeUsers: z.number().int().openapi({ description: 'Users with credits remaining' }),
        monthlyCost: z.number().openapi({ description: 'What providers cost this month (UTC), in USD (exact in monthlyCostMicroUsd)' }),
        monthlyCostMicroUsd: z.number().int(),
        providers: z.array(
          z.object({
            name: z.string(),
            isHealthy: z.boolean(),
            costPerRequest: z.string().openapi({ description: 'USD per user credit of work, exact decimal' }),
            successRate: z.number().nullable().openapi({ description: 'Percent (0–100) over 24 h; null without attempts' }),
            creditsRemaining: z.number().int(),
            reserved: z.number().int(),
            sellableUserCredits: z.number().int(),
          }),
        ),
      }),
      'Stats',
    ),
    ...adminProblems,
  },
});

const compatRefill = createRoute({
  method: 'post',
  path: '/api/admin/refill-credits',
  tags: ['admin'],
  summary: 'Book provider credits the operator bought (external → available)',
  ...guard('admin'),
  request: { body: { required: true, content: { 'application/json': { schema: RefillRequest } } } },
  responses: { 200: json(PoolBody, 'The pool after the refill'), ...adminProblems, ...problems(413, 415) },
});

const pools = createRoute({
  method: 'get',
  path: '/v1/admin/pools',
  tags: ['admin'],
  summary: 'Every pool: available, reserved, consumed, sellable; packages; buffer levels',
  ...guard('admin'),
  responses: {
    200: json(
      z.object({
        primaryProvider: z.string(),
        pools: z.array(PoolBody),
        packages: z.array(z.object({ id: z.string(), credits: z.number().int(), disabled: z.boolean() }).passthrough()),
        bufferLevels: z.record(z.string(), z.number().int()),
      }),
      'Capacity',
    ),
    ...adminProblems,
  },
});

const v1Refill = createRoute({
  method: 'post',
  path: '/v1/admin/pools/{provider}/refills',
  tags: ['admin'],
  summary: 'Book a refill of one pool',
  ...guard('admin'),
  request: {
    params: z.object({
      provider: z
        .string()
        .min(1)
        .max(64)
        .openapi({ param: { name: 'provider', in: 'path' } }),
    }),
    body: { required: true, content: { 'application/json': { schema: RefillRequest.omit({ provider: true }).openapi('PoolRefill') } } },
  },
  responses: { 200: json(PoolBody, 'The pool after the refill'), ...adminProblems, ...problems(413, 415) },
});

const burn = createRoute({
  method: 'get',
  path: '/v1/admin/pools/burn-rate',
  tags: ['admin'],
  summary: 'Consumption per day (7 and 30 days) and the projected day each pool runs dry',
  ...guard('admin'),
  responses: {
    200: json(
      z.object({
        pools: z.array(
          z.object({ provider: z.string(), perDay7: z.number().int(), perDay30: z.number().int(), runsDryAt: z.string().nullable() }).openapi('BurnRate'),
        ),
      }),
      'Burn rates',
    ),
    ...adminProblems,
  },
});

export function registerAdminCreditRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(creditStats, async (c) => c.json(await c.get('deps').analytics.creditStats(), 200));

  app.openapi(compatRefill, async (c) => c.json(await c.get('deps').credits.refill(c.req.valid('json')), 200));
  app.openapi(v1Refill, async (c) => c.json(await c.get('deps').credits.refill({ ...c.req.valid('json'), provider: c.req.valid('param').provider }), 200));
  app.openapi(pools, async (c) => c.json(await c.get('deps').credits.capacity(), 200));
  app.openapi(burn, async (c) => c.json({ pools: await c.get('deps').credits.burnRates() }, 200));
}
