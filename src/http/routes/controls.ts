// Emergency controls over HTTP (src/controls/README.md): admins pause and resume purchases or new
// generations; anyone may read whether something is paused and the message users see (never the reason).
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { DEFAULT_PAUSE_MESSAGE } from '../../controls/index.ts';
import { AI_PROVIDER_NAMES } from '../../providers/types.ts';
import { guard } from '../access.ts';
import type { AppEnv, Caller } from '../context.ts';
import { json, problems } from '../schemas.ts';

const PauseBody = z
  .object({
    id: z.string(),
    scope: z.enum(['purchases', 'generations']),
    provider: z.string().nullable().openapi({ description: 'Null: platform-wide' }),
    message: z.string().openapi({ description: 'What users are told' }),
    reason: z.string().openapi({ description: 'Why (operators only; never shown to users)' }),
    createdBy: z.string().openapi({ description: '`api-key:<id>` or `user:<id>`' }),
    createdAt: z.string(),
    active: z.boolean(),
    resumedBy: z.string().nullable(),
    resumedAt: z.string().nullable(),
    resumeReason: z.string().nullable(),
  })
  .openapi('Pause');

const text = (max: number) => z.string().trim().min(1).max(max);

const createPause = createRoute({
  method: 'post',
  path: '/v1/admin/pauses',
  tags: ['admin'],
  summary: 'Pause purchases or new generations, platform-wide or for one provider (every process obeys within a second)',
  ...guard('admin'),
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              scope: z.enum(['purchases', 'generations']),
              provider: z
                .enum(AI_PROVIDER_NAMES)
                .optional()
                .openapi({ description: 'Generations: routing skips this provider. Purchases: only the primary provider (its pool backs every sale)' }),
              message: text(300)
                .optional()
                .openapi({ description: `What users are told (default "${DEFAULT_PAUSE_MESSAGE}")` }),
              reason: text(1000).openapi({ description: 'Why; kept in the audit, never shown to users' }),
            })
            .strict()
            .openapi('CreatePause'),
        },
      },
    },
  },
  responses: { 201: json(PauseBody, 'The pause, in force'), ...problems(400, 401, 403, 413, 415, 429) },
});

const listPauses = createRoute({
  method: 'get',
  path: '/v1/admin/pauses',
  tags: ['admin'],
  summary: 'Active pauses, and the most recently resumed ones',
  ...guard('admin'),
  responses: { 200: json(z.object({ active: z.array(PauseBody), recent: z.array(PauseBody) }), 'Pauses'), ...problems(401, 403, 429) },
});

const resumePause = createRoute({
  method: 'delete',
  path: '/v1/admin/pauses/{id}',
  tags: ['admin'],
  summary: 'Resume: end a pause (audited and alerted)',
  ...guard('admin'),
  request: {
    params: z.object({
      id: z
        .string()
        .max(100)
        .openapi({ param: { name: 'id', in: 'path' } }),
    }),
    query: z.object({
      reason: z
        .string()
        .max(1000)
        .optional()
        .openapi({ param: { name: 'reason', in: 'query' }, description: 'Why it is resumed (kept in the audit)' }),
    }),
  },
  responses: { 200: json(PauseBody, 'The pause, ended'), ...problems(400, 401, 403, 404, 409, 429) },
});

const StatusBody = z
  .object({
    purchases: z.object({
      paused: z.boolean(),
      message: z.string().nullable(),
      automatic: z.boolean().openapi({ description: 'Paused by itself: the platform’s pool cannot back any package until it is refilled' }),
    }),
    generations: z.object({ paused: z.boolean(), message: z.string().nullable() }),
  })
  .openapi('PlatformStatus');

const status = createRoute({
  method: 'get',
  path: '/v1/status',
  tags: ['system'],
  summary: 'Whether purchases or new generations are paused, with the message to show users',
  ...guard('public'),
  responses: { 200: json(StatusBody, 'The platform’s status') },
});

/** Who acted, for the audit: the admin key's id, or the admin user's id. */
export function actorOf(caller: Caller): string {
  if (caller.kind === 'api-key') return `api-key:${caller.keyId}`;
  if (caller.kind === 'user') return `user:${caller.userId}`;
  return caller.kind;
}

export function registerControlRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(createPause, async (c) => {
    const body = c.req.valid('json');
    return c.json(await c.get('deps').controls.pause({ ...body, actor: actorOf(c.get('caller')) }), 201);
  });
  app.openapi(listPauses, async (c) => c.json(await c.get('deps').controls.list(), 200));
  app.openapi(resumePause, async (c) =>
    c.json(await c.get('deps').controls.resume({ id: c.req.valid('param').id, reason: c.req.valid('query').reason, actor: actorOf(c.get('caller')) }), 200),
  );
  app.openapi(status, async (c) => c.json(await c.get('deps').controls.status(), 200));
}
