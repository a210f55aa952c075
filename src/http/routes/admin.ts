import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { AccountIdParam, BalanceSchema, HistoryQuery, HistorySchema, json, problems } from '../schemas.ts';

const adminProblems = problems(400, 401, 403, 429);

const account = createRoute({
  method: 'get',
  path: '/v1/admin/accounts/{accountId}',
  tags: ['admin'],
  summary: 'Balance of any ledger account',
  ...guard('admin'),
  request: { params: AccountIdParam },
  responses: { 200: json(BalanceSchema, 'The balance'), ...adminProblems, ...problems(404) },
});

const accountTransfers = createRoute({
  method: 'get',
  path: '/v1/admin/accounts/{accountId}/transfers',
  tags: ['admin'],
  summary: 'Transfers of any ledger account, newest first',
  ...guard('admin'),
  request: { params: AccountIdParam, query: HistoryQuery },
  responses: { 200: json(HistorySchema, 'A page of history'), ...adminProblems, ...problems(404) },
});

const InvariantReportSchema = z
  .object({
    ok: z.boolean(),
    checkedAt: z.string(),
    counts: z.object({ accounts: z.number().int(), transfers: z.number().int(), pending: z.number().int() }),
    results: z.array(z.object({ name: z.string(), description: z.string(), ok: z.boolean(), violations: z.array(z.record(z.string(), z.unknown())) })),
  })
  .openapi('InvariantReport');

const ledgerCheck = createRoute({
  method: 'get',
  path: '/v1/admin/ledger/check',
  tags: ['admin'],
  summary: 'Verify every ledger invariant (the same report as `tally ledger check`)',
  ...guard('admin'),
  responses: { 200: json(InvariantReportSchema, 'The report; `ok` is false when any invariant is violated'), ...adminProblems },
});

const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(['admin', 'service']),
    keyPrefix: z.string(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');

const createKey = createRoute({
  method: 'post',
  path: '/v1/admin/api-keys',
  tags: ['admin'],
  summary: 'Create an API key (the key is shown once)',
  ...guard('admin'),
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({ name: z.string().trim().min(1).max(100), role: z.enum(['admin', 'service']) })
            .strict()
            .openapi('CreateApiKey'),
        },
      },
    },
  },
  responses: { 201: json(z.object({ key: z.string(), apiKey: ApiKeySchema }), 'Created'), ...adminProblems, ...problems(413, 415) },
});

const listKeys = createRoute({
  method: 'get',
  path: '/v1/admin/api-keys',
  tags: ['admin'],
  summary: 'List API keys (never the keys themselves)',
  ...guard('admin'),
  responses: { 200: json(z.object({ apiKeys: z.array(ApiKeySchema) }), 'The keys'), ...adminProblems },
});

const revokeKey = createRoute({
  method: 'delete',
  path: '/v1/admin/api-keys/{keyId}',
  tags: ['admin'],
  summary: 'Revoke an API key',
  ...guard('admin'),
  request: {
    params: z.object({
      keyId: z
        .string()
        .min(1)
        .max(100)
        .openapi({ param: { name: 'keyId', in: 'path' } }),
    }),
  },
  responses: { 200: json(ApiKeySchema, 'The revoked key'), ...adminProblems, ...problems(404) },
});

export function registerAdminRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(account, async (c) => c.json(await c.get('deps').ledger.balanceOf(c.req.valid('param').accountId), 200));

  app.openapi(accountTransfers, async (c) => {
    const { cursor, limit } = c.req.valid('query');
    return c.json(await c.get('deps').ledger.history(c.req.valid('param').accountId, { cursor, limit }), 200);
  });

  app.openapi(ledgerCheck, async (c) =>
    c.json(await c.get('deps').ledger.checkInvariants([...c.get('deps').credits.invariantChecks(), ...c.get('deps').payments.invariantChecks()]), 200),
  );

  app.openapi(createKey, async (c) => c.json(await c.get('deps').apiKeys.create(c.req.valid('json')), 201));

  app.openapi(listKeys, async (c) => c.json({ apiKeys: await c.get('deps').apiKeys.list() }, 200));

  app.openapi(revokeKey, async (c) => {
    const revoked = await c.get('deps').apiKeys.revoke(c.req.valid('param').keyId);
    if (!revoked) throw new ApiError('not_found', `no API key ${c.req.valid('param').keyId}`);
    return c.json(revoked, 200);
  });
}
