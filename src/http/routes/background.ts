import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { json, problems } from '../schemas.ts';

const processTasks = createRoute({
  method: 'post',
  path: '/api/background/process-tasks',
  tags: ['jobs'],
  summary: 'Run the pending-work processor once and report what it did',
  description: 'Today it voids expired holds; the generation queue joins it when generations arrive.',
  ...guard('job'),
  responses: {
    200: json(z.object({ success: z.literal(true), processed: z.number().int(), expiredHolds: z.number().int() }), 'What was done'),
    ...problems(401, 403),
  },
});

export function registerBackgroundRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(processTasks, async (c) => {
    const expiredHolds = await c.get('deps').ledger.expireHolds();
    return c.json({ success: true as const, processed: expiredHolds, expiredHolds }, 200);
  });
}
