// Operators' view of generations: each provider's health, and any generation with its attempts.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { AI_PROVIDER_NAMES } from '../../providers/types.ts';
import { attemptsOf, findGeneration } from '../../generations/repository.ts';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems } from '../schemas.ts';
import { actorOf } from './controls.ts';
import { TaskBody } from './generations.ts';

const ProviderHealthBody = z
  .object({
    provider: z.string(),
    configured: z.boolean().openapi({ description: 'Its API key is set, so work may be routed to it' }),
    successRate: z.number().nullable().openapi({ description: 'Over 24 h, provider-side failures only; null without attempts' }),
    attempts24h: z.number().int(),
    isHealthy: z.boolean(),
    coolingDownUntil: z.string().nullable(),
    lastError: z.string().nullable(),
    priority: z.number().int().openapi({ description: 'Lower is tried first' }),
    active: z.boolean(),
    rateLimitPerMinute: z.number().int(),
    costMicroUsd: z.number().int().nullable().openapi({ description: 'Set at run time; null: each route’s catalogue cost' }),
    healthCheck: z
      .object({ ok: z.boolean(), checkedAt: z.string(), error: z.string().nullable() })
      .nullable()
      .openapi({ description: 'The last periodic health probe (every generations.healthCheckSeconds); null before the first' }),
  })
  .openapi('ProviderHealth');

const HealthCheckBody = z
  .object({ provider: z.string(), ok: z.boolean(), error: z.string().nullable(), latencyMs: z.number().int() })
  .openapi('HealthCheckResult');

const healthChecks = createRoute({
  method: 'post',
  path: '/v1/admin/providers/health-checks',
  tags: ['admin'],
  summary: 'Probe every configured provider now (a failed probe opens its circuit for a cooldown)',
  ...guard('admin'),
  responses: { 200: json(z.object({ checks: z.array(HealthCheckBody) }), 'What each probe found'), ...problems(401, 403, 429) },
});

const AttemptBody = z
  .object({
    id: z.string(),
    provider: z.string(),
    providerModel: z.string(),
    providerTaskId: z.string().nullable(),
    status: z.enum(['running', 'succeeded', 'failed']),
    errorKind: z.string().nullable(),
    errorMessage: z.string().nullable(),
    costUnits: z.number().int(),
    costMicroUsd: z.number().int(),
    latencyMs: z.number().int().nullable(),
    startedAt: z.string(),
  })
  .openapi('Attempt');

const providers = createRoute({
  method: 'get',
  path: '/v1/admin/providers',
  tags: ['admin'],
  summary: 'Each provider’s health (success rate over 24 h, circuit, last error) and routing settings, in routing order',
  ...guard('admin'),
  responses: { 200: json(z.object({ providers: z.array(ProviderHealthBody) }), 'Providers'), ...problems(401, 403, 429) },
});

const generation = createRoute({
  method: 'get',
  path: '/v1/admin/generations/{id}',
  tags: ['admin'],
  summary: 'Any generation, with its owner and every provider attempt',
  ...guard('admin'),
  request: {
    params: z.object({
      id: z
        .string()
        .max(100)
        .openapi({ param: { name: 'id', in: 'path' } }),
    }),
  },
  responses: {
    200: json(z.object({ userId: z.string(), task: TaskBody, attempts: z.array(AttemptBody) }), 'The generation'),
    ...problems(400, 401, 403, 404, 429),
  },
});

const updateProvider = createRoute({
  method: 'patch',
  path: '/v1/admin/providers/{provider}',
  tags: ['admin'],
  summary: 'Change a provider’s priority, active flag, rate limit or cost at run time (every process sees it within a second)',
  ...guard('admin'),
  request: {
    params: z.object({ provider: z.enum(AI_PROVIDER_NAMES).openapi({ param: { name: 'provider', in: 'path' } }) }),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              priority: z.number().int().min(0).max(1_000_000).optional().openapi({ description: 'Lower is tried first' }),
              active: z.boolean().optional(),
              rateLimitPerMinute: z.number().int().min(1).max(1_000_000).optional(),
              costMicroUsd: z.number().int().min(0).max(1_000_000_000).nullable().optional().openapi({
                description: 'What one request costs the platform, in micro-USD, for every model through this provider; null returns to the catalogue’s costs',
              }),
            })
            .refine((v) => Object.keys(v).length > 0, 'give at least one of priority, active, rateLimitPerMinute, costMicroUsd')
            .openapi('UpdateProvider'),
        },
      },
    },
  },
  responses: {
    200: json(
      z
        .object({
          provider: z.string(),
          priority: z.number().int(),
          active: z.boolean(),
          rateLimitPerMinute: z.number().int(),
          costMicroUsd: z.number().int().nullable(),
        })
        .openapi('ProviderSettings'),
      'The settings now',
    ),
    ...problems(400, 401, 403, 413, 415, 429),
  },
});

const modelRouting = createRoute({
  method: 'patch',
  path: '/v1/admin/models/{modelId}',
  tags: ['admin'],
  summary: 'Choose a model’s routing: by provider priority (default) or the cheapest healthy route (every process within a second)',
  ...guard('admin'),
  request: {
    params: z.object({
      modelId: z
        .string()
        .min(1)
        .max(64)
        .openapi({ param: { name: 'modelId', in: 'path' } }),
    }),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({ routing: z.enum(['priority', 'cheapest']) })
            .strict()
            .openapi('ModelRouting'),
        },
      },
    },
  },
  responses: {
    200: json(z.object({ modelId: z.string(), routing: z.enum(['priority', 'cheapest']) }), 'The model’s routing now'),
    ...problems(400, 401, 403, 404, 413, 415, 429),
  },
});

export function registerAdminGenerationRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(modelRouting, async (c) => {
    const { config, generations } = c.get('deps');
    const { modelId } = c.req.valid('param');
    if (!Object.hasOwn(config.generations.models, modelId))
      throw new ApiError('not_found', `There is no model "${modelId}". Known models: ${Object.keys(config.generations.models).join(', ')}.`);
    return c.json(await generations.router.setModelRouting(modelId, c.req.valid('json').routing, actorOf(c.get('caller'))), 200);
  });

  app.openapi(updateProvider, async (c) => {
    const { provider } = c.req.valid('param');
    const change = c.req.valid('json');
    const settings = await c.get('deps').generations.router.updateSettings(provider, change);
    return c.json(settings, 200);
  });

  app.openapi(providers, async (c) => c.json({ providers: (await c.get('deps').generations.stats()).providers }, 200));
  app.openapi(healthChecks, async (c) => c.json({ checks: await c.get('deps').generations.checkProviderHealth({ force: true }) }, 200));

  app.openapi(generation, async (c) => {
    const { pool, generations } = c.get('deps');
    const row = await findGeneration(pool, c.req.valid('param').id);
    if (!row) throw new ApiError('not_found', `No generation ${c.req.valid('param').id}.`);
    const attempts = await attemptsOf(pool, row.id);
    return c.json(
      {
        userId: row.user_id,
        task: await generations.present(row),
        attempts: attempts.map((a) => ({
          id: a.id,
          provider: a.provider,
          providerModel: a.provider_model,
          providerTaskId: a.provider_task_id,
          status: a.status,
          errorKind: a.error_kind,
          errorMessage: a.error_message,
          costUnits: a.cost_units,
          costMicroUsd: a.cost_micro_usd,
          latencyMs: a.latency_ms,
          startedAt: a.started_at.toISOString(),
        })),
      },
      200,
    );
  });
}
