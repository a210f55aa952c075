import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { json, problems } from '../schemas.ts';

const processTasks = createRoute({
  method: 'post',
  path: '/api/background/process-tasks',
  tags: ['jobs'],
  summary: 'Run the pending-work processor once and report what it did',
  description:
    'Fails and refunds generations past their deadline, takes up open generations nobody is working on (a lost job or a dead worker), and voids expired holds. Normal work is event-driven; this is the safety net.',
  ...guard('job'),
  responses: {
    200: json(
      z.object({
        success: z.literal(true),
        processed: z.number().int().openapi({ description: 'Generations swept or resumed, plus holds voided' }),
        sweptGenerations: z.number().int(),
        resumedGenerations: z.number().int(),
        expiredHolds: z.number().int(),
      }),
      'What was done',
    ),
    ...problems(401, 403),
  },
});

export function registerBackgroundRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(processTasks, async (c) => {
    const { ledger, generations } = c.get('deps');
    const { swept, resumed } = await generations.maintenance();
    const expiredHolds = await ledger.expireHolds();
    return c.json(
      { success: true as const, processed: swept + resumed + expiredHolds, sweptGenerations: swept, resumedGenerations: resumed, expiredHolds },
      200,
    );
  });
}
