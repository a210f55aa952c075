import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems } from '../schemas.ts';

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['system'],
  summary: 'Liveness: the process is up (checks no dependency)',
  ...guard('public'),
  responses: { 200: json(z.object({ status: z.literal('ok') }), 'Up') },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['system'],
  summary: 'Readiness: the database answers and its migrations are current',
  ...guard('public'),
  responses: { 200: json(z.object({ status: z.literal('ready'), migrations: z.number().int() }), 'Ready'), ...problems(503) },
});

const metrics = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['system'],
  summary: 'Prometheus metrics',
  ...guard('metrics'),
  responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } }, ...problems(401, 403) },
});

export function registerSystemRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));

  app.openapi(readyz, async (c) => {
    let status;
    try {
      status = await c.get('deps').schemaStatus();
    } catch (error) {
      // Why, without addresses: the code (ECONNREFUSED, 57P03 "shutting down", …) is enough to act on.
      const code = typeof (error as { code?: unknown }).code === 'string' ? ` (${(error as { code: string }).code})` : '';
      throw new ApiError('unavailable', `the database is unreachable${code}; requests get 503 until it is back, and work resumes by itself`, {
        retryAfterSeconds: 5,
      });
    }
    if (!status.compatible) {
      throw new ApiError(
        'unavailable',
        `migrations not current (${status.pending.length} pending, ${status.changed.length} changed, ${status.unknown.length} unknown): run \`tally migrate\``,
      );
    }
    return c.json({ status: 'ready' as const, migrations: status.applied.length }, 200);
  });

  app.openapi(metrics, async (c) => {
    const { registry } = c.get('deps').metrics;
    return c.text(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
}
