// Operators' pool maintenance: sync with the provider's count, book drift, adjust a user's credits,
// decide refill requests. Every change is a ledger transfer with a reason.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { json, problems } from '../schemas.ts';

const adminProblems = problems(400, 401, 403, 404, 409, 413, 415, 429);
const reason = z.string().trim().min(3, 'say why (at least 3 characters)').max(500);

const SyncBody = z
  .object({ id: z.string(), provider: z.string(), real: z.number().int(), database: z.number().int(), drift: z.number().int(), createdAt: z.string() })
  .openapi('PoolSync');
const RefillRequestBody = z
  .object({
    id: z.string(),
    provider: z.string(),
    amount: z.number().int(),
    status: z.enum(['open', 'approved', 'rejected']),
    reason: z.string(),
    createdAt: z.string(),
    decidedAt: z.string().nullable(),
    decidedNote: z.string().nullable(),
  })
  .openapi('RefillRequest');

const compatSync = createRoute({
  method: 'post',
  path: '/api/admin/sync-credits',
  tags: ['admin'],
  summary: 'Compare a pool with the provider’s own count; the drift is recorded',
  ...guard('admin'),
  request: { body: { required: true, content: { 'application/json': { schema: z.object({ provider: z.string().min(1).max(64) }) } } } },
  responses: { 200: json(SyncBody, 'real, database, drift'), ...adminProblems, ...problems(503) },
});
const v1Sync = createRoute({
  method: 'post',
  path: '/v1/admin/pools/{provider}/syncs',
  tags: ['admin'],
  summary: 'Compare a pool with the provider’s own count; the drift is recorded',
  ...guard('admin'),
  request: {
    params: z.object({
      provider: z
        .string()
        .min(1)
        .max(64)
        .openapi({ param: { name: 'provider', in: 'path' } }),
    }),
  },
  responses: { 200: json(SyncBody, 'real, database, drift'), ...adminProblems, ...problems(503) },
});
const applyDrift = createRoute({
  method: 'post',
  path: '/v1/admin/syncs/{syncId}/apply',
  tags: ['admin'],
  summary: 'Book a recorded drift as an adjustment of the pool',
  ...guard('admin'),
  request: {
    params: z.object({
      syncId: z
        .string()
        .min(1)
        .max(100)
        .openapi({ param: { name: 'syncId', in: 'path' } }),
    }),
    body: { required: true, content: { 'application/json': { schema: z.object({ reason }).openapi('ApplyDrift') } } },
  },
  responses: {
    200: json(z.object({ applied: z.boolean(), drift: z.number().int(), pool: z.record(z.string(), z.unknown()).optional() }), 'Booked'),
    ...adminProblems,
  },
});
const adjust = createRoute({
  method: 'post',
  path: '/v1/admin/users/{userId}/adjustments',
  tags: ['admin'],
  summary: 'Grant (credits > 0, backed) or take back (credits < 0) a user’s purchased credits, with a reason',
  ...guard('admin'),
  request: {
    params: z.object({
      userId: z
        .string()
        .regex(/^[A-Za-z0-9_:.@-]{1,200}$/)
        .openapi({ param: { name: 'userId', in: 'path' } }),
    }),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              credits: z
                .number()
                .int()
                .refine((n) => n !== 0, 'must not be 0'),
              reason,
            })
            .strict()
            .openapi('Adjustment'),
        },
      },
    },
  },
  responses: {
    200: json(
      z.object({ balance: z.number().int(), allowance: z.number().int(), purchased: z.number().int(), tier: z.string() }).passthrough(),
      'The user’s balance after it',
    ),
    ...adminProblems,
  },
});
const listRefills = createRoute({
  method: 'get',
  path: '/v1/admin/refill-requests',
  tags: ['admin'],
  summary: 'Refill requests, newest first',
  ...guard('admin'),
  request: {
    query: z.object({
      status: z
        .enum(['open', 'approved', 'rejected'])
        .optional()
        .openapi({ param: { name: 'status', in: 'query' } }),
    }),
  },
  responses: { 200: json(z.object({ requests: z.array(RefillRequestBody) }), 'Requests'), ...adminProblems },
});
const requestRefill = createRoute({
  method: 'post',
  path: '/v1/admin/refill-requests',
  tags: ['admin'],
  summary: 'Ask for a refill by hand (one open request per pool: an open one is returned as it is)',
  ...guard('admin'),
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({ provider: z.string().min(1).max(64), amount: z.number().int().positive(), reason }).openapi('NewRefillRequest'),
        },
      },
    },
  },
  responses: { 200: json(RefillRequestBody, 'The pool’s open request'), ...adminProblems },
});

const decideRefill = createRoute({
  method: 'post',
  path: '/v1/admin/refill-requests/{requestId}/decision',
  tags: ['admin'],
  summary: 'Approve (books the refill) or reject an open refill request',
  ...guard('admin'),
  request: {
    params: z.object({
      requestId: z
        .string()
        .min(1)
        .max(100)
        .openapi({ param: { name: 'requestId', in: 'path' } }),
    }),
    body: {
      required: true,
      content: { 'application/json': { schema: z.object({ approve: z.boolean(), note: z.string().max(500).optional() }).openapi('RefillDecision') } },
    },
  },
  responses: { 200: json(RefillRequestBody, 'The decided request'), ...adminProblems },
});

export function registerAdminPoolRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(compatSync, async (c) => c.json(await c.get('deps').credits.sync(c.req.valid('json').provider), 200));
  app.openapi(v1Sync, async (c) => c.json(await c.get('deps').credits.sync(c.req.valid('param').provider), 200));
  app.openapi(applyDrift, async (c) =>
    c.json(await c.get('deps').credits.applyDrift({ syncId: c.req.valid('param').syncId, reason: c.req.valid('json').reason }), 200),
  );
  app.openapi(adjust, async (c) => c.json(await c.get('deps').credits.adjust({ userId: c.req.valid('param').userId, ...c.req.valid('json') }), 200));
  app.openapi(listRefills, async (c) => c.json({ requests: await c.get('deps').credits.refillRequests(c.req.valid('query').status) }, 200));
  app.openapi(requestRefill, async (c) => c.json(await c.get('deps').credits.requestRefill(c.req.valid('json')), 200));
  app.openapi(decideRefill, async (c) => c.json(await c.get('deps').credits.decideRefill({ id: c.req.valid('param').requestId, ...c.req.valid('json') }), 200));
}
