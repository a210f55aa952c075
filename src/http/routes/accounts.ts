// A user's own ledger accounts. Every query carries the owner id, so another user's account is simply
// not found (404), never a 403 that would confirm it exists.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { currentUserId, guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { AccountIdParam, BalanceSchema, HistoryQuery, HistorySchema, json, problems } from '../schemas.ts';

const me = createRoute({
  method: 'get',
  path: '/v1/me',
  tags: ['accounts'],
  summary: 'Who the caller acts as, and their ledger accounts',
  ...guard('user'),
  responses: { 200: json(z.object({ userId: z.string(), accounts: z.array(BalanceSchema) }).openapi('Me'), 'The caller'), ...problems(400, 401, 403, 429) },
});

const account = createRoute({
  method: 'get',
  path: '/v1/accounts/{accountId}',
  tags: ['accounts'],
  summary: 'Balance of one of the caller’s accounts',
  ...guard('user'),
  request: { params: AccountIdParam },
  responses: { 200: json(BalanceSchema, 'The balance'), ...problems(400, 401, 403, 404, 429) },
});

const transfers = createRoute({
  method: 'get',
  path: '/v1/accounts/{accountId}/transfers',
  tags: ['accounts'],
  summary: 'Transfers of one of the caller’s accounts, newest first',
  ...guard('user'),
  request: { params: AccountIdParam, query: HistoryQuery },
  responses: { 200: json(HistorySchema, 'A page of history'), ...problems(400, 401, 403, 404, 429) },
});

export function registerAccountRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(me, async (c) => {
    const userId = currentUserId(c);
    return c.json({ userId, accounts: await c.get('deps').ledger.accountsOwnedBy(userId) }, 200);
  });

  app.openapi(account, async (c) => {
    const { accountId } = c.req.valid('param');
    return c.json(await c.get('deps').ledger.balanceOf(accountId, { ownerId: currentUserId(c) }), 200);
  });

  app.openapi(transfers, async (c) => {
    const { accountId } = c.req.valid('param');
    const { cursor, limit } = c.req.valid('query');
    return c.json(await c.get('deps').ledger.history(accountId, { cursor, limit, ownerId: currentUserId(c) }), 200);
  });
}
