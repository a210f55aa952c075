// Operators' lists (src/analytics/admin-views.ts): users by id prefix, tier and balance; one user's
// whole picture; generations by status, provider, user and date. Admin only; reads only.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems, TransferSchema } from '../schemas.ts';

const adminProblems = problems(400, 401, 403, 429);
const userId = z.string().min(1).max(200);
const cursor = z.string().min(1).max(200).optional().openapi({ description: 'The `cursor` of the previous page' });
const limit = z.coerce.number().int().min(1).max(200).optional().openapi({ description: 'Default 50' });
const balance = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();

const AdminUser = z
  .object({ id: z.string(), tier: z.string(), nextTier: z.string().nullable(), balance: z.number().int(), createdAt: z.string() })
  .openapi('AdminUser');
const AdminGeneration = z
  .object({
    id: z.string(),
    userId: z.string(),
    modelId: z.string(),
    enhancementType: z.string().nullable(),
    status: z.string(),
    provider: z.string().nullable(),
    degraded: z.boolean(),
    creditsHeld: z.number().int(),
    creditsCharged: z.number().int().nullable(),
    errorCode: z.string().nullable(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .openapi('AdminGeneration');

const users = createRoute({
  method: 'get',
  path: '/v1/admin/users',
  tags: ['admin'],
  summary: 'Users by id prefix, tier and balance range (allowance + purchased), in id order',
  ...guard('admin'),
  request: {
    query: z
      .object({
        q: z.string().min(1).max(200).optional().openapi({ description: 'User id prefix' }),
        tier: z
          .string()
          .regex(/^[a-z][a-z0-9_-]{0,31}$/)
          .optional(),
        minBalance: balance,
        maxBalance: balance,
        cursor,
        limit,
      })
      .refine((q) => q.minBalance === undefined || q.maxBalance === undefined || q.minBalance <= q.maxBalance, {
        path: ['maxBalance'],
        message: 'must not be under minBalance',
      }),
  },
  responses: {
    200: json(
      z.object({ users: z.array(AdminUser), cursor: z.string().nullable() }),
      'A page of users (a balance filter may leave a page short: follow the cursor until null)',
    ),
    ...adminProblems,
  },
});

const user = createRoute({
  method: 'get',
  path: '/v1/admin/users/{userId}',
  tags: ['admin'],
  summary: 'A user: buckets, tier, recent generations, purchases and ledger transfers',
  ...guard('admin'),
  request: { params: z.object({ userId: userId.openapi({ param: { name: 'userId', in: 'path' } }) }) },
  responses: {
    200: json(
      z.object({
        balance: z
          .object({
            userId: z.string(),
            balance: z.number().int(),
            allowance: z.number().int(),
            purchased: z.number().int(),
            overflow: z.number().int(),
            tier: z.string(),
            resetsAt: z.string(),
          })
          .passthrough(),
        generations: z.array(AdminGeneration),
        purchases: z.array(
          z.object({
            id: z.string(),
            packageId: z.string(),
            mode: z.string(),
            credits: z.number().int(),
            amount: z.number().int(),
            currency: z.string(),
            status: z.string(),
            amountRefunded: z.number().int(),
            createdAt: z.string(),
          }),
        ),
        transfers: z.array(z.object({ bucket: z.string(), effect: z.number().int(), direction: z.enum(['debit', 'credit']), transfer: TransferSchema })),
      }),
      'The user',
    ),
    ...adminProblems,
    ...problems(404),
  },
});

const generations = createRoute({
  method: 'get',
  path: '/v1/admin/generations',
  tags: ['admin'],
  summary: 'Generations newest first, by status, provider, user and date',
  ...guard('admin'),
  request: {
    query: z
      .object({
        status: z.enum(['queued', 'processing', 'completed', 'failed']).optional(),
        provider: z
          .string()
          .regex(/^[a-z][a-z0-9_-]{0,31}$/)
          .optional(),
        userId: userId.optional(),
        from: z.iso.datetime({ offset: true }).or(z.iso.date()).optional().openapi({ description: 'Created at or after (ISO date or time)' }),
        to: z.iso.datetime({ offset: true }).or(z.iso.date()).optional().openapi({ description: 'Created before (ISO date or time)' }),
        cursor,
        limit,
      })
      .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { path: ['to'], message: 'must not be before from' }),
  },
  responses: { 200: json(z.object({ generations: z.array(AdminGeneration), cursor: z.string().nullable() }), 'A page of generations'), ...adminProblems },
});

export function registerAdminUserRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(users, async (c) => {
    const { q, limit, ...filter } = c.req.valid('query');
    return c.json(await c.get('deps').analytics.users({ ...filter, idPrefix: q, limit: limit ?? 50 }), 200);
  });

  app.openapi(user, async (c) => {
    const { userId } = c.req.valid('param');
    const found = await c.get('deps').analytics.user(userId);
    if (!found) throw new ApiError('not_found', `no user "${userId}"`);
    return c.json(found, 200);
  });

  app.openapi(generations, async (c) => {
    const { from, to, limit, ...filter } = c.req.valid('query');
    return c.json(
      await c.get('deps').analytics.generations({ ...filter, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined, limit: limit ?? 50 }),
      200,
    );
  });
}
