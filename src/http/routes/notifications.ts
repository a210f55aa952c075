// A user's notices (src/notifications): upgrade suggestions and credits-low notices, newest first;
// dismissing another user's notice is a 404 (the owner is part of the query).
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { currentUserId, guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems } from '../schemas.ts';

const Notification = z
  .object({
    id: z.string(),
    kind: z.string().openapi({ description: 'upgrade_suggestion | credits_low' }),
    period: z.string().openapi({ description: 'The month (upgrade suggestions) or day (credits low) it is for' }),
    data: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    dismissedAt: z.string().nullable(),
  })
  .openapi('UserNotification');

const list = createRoute({
  method: 'get',
  path: '/v1/notifications',
  tags: ['users'],
  summary: 'Your notices, newest first (dismissed ones with all=true)',
  ...guard('user'),
  request: { query: z.object({ all: z.enum(['true', 'false']).optional(), limit: z.coerce.number().int().min(1).max(200).optional() }) },
  responses: { 200: json(z.object({ notifications: z.array(Notification) }), 'Notices'), ...problems(400, 401, 403, 429) },
});

const dismiss = createRoute({
  method: 'post',
  path: '/v1/notifications/{id}/dismiss',
  tags: ['users'],
  summary: 'Dismiss one of your notices (again: unchanged)',
  ...guard('user'),
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(100)
        .openapi({ param: { name: 'id', in: 'path' } }),
    }),
  },
  responses: { 200: json(Notification, 'The notice, dismissed'), ...problems(400, 401, 403, 404, 429) },
});

export function registerNotificationRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(list, async (c) => {
    const query = c.req.valid('query');
    return c.json(
      { notifications: await c.get('deps').notifications.list(currentUserId(c), { includeDismissed: query.all === 'true', limit: query.limit }) },
      200,
    );
  });

  app.openapi(dismiss, async (c) => {
    const { id } = c.req.valid('param');
    const dismissed = await c.get('deps').notifications.dismiss(currentUserId(c), id);
    if (!dismissed) throw new ApiError('not_found', `no notification "${id}"`);
    return c.json(dismissed, 200);
  });
}
