// Webhooks both ways: provider callbacks in (checked by our token and, where the provider signs, its
// signature), and the user's own result webhook (set, read, removed; deliveries are signed).
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { deleteUserWebhook, getUserWebhook, setUserWebhook } from '../../generations/webhooks.ts';
import { AI_PROVIDER_NAMES } from '../../providers/types.ts';
import { currentUserId, guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems } from '../schemas.ts';

const providerCallback = createRoute({
  method: 'post',
  path: '/api/webhooks/providers/{provider}',
  tags: ['webhooks'],
  summary: 'A provider’s task callback (the URL Tally gave the provider, with its token)',
  ...guard('public'),
  request: {
    params: z.object({ provider: z.enum(AI_PROVIDER_NAMES).openapi({ param: { name: 'provider', in: 'path' } }) }),
    query: z.object({
      attempt: z
        .string()
        .max(100)
        .openapi({ param: { name: 'attempt', in: 'query' } }),
      token: z
        .string()
        .max(200)
        .openapi({ param: { name: 'token', in: 'query' } }),
    }),
  },
  responses: {
    200: json(z.object({ received: z.boolean().openapi({ description: 'false for a duplicate or a late, out-of-order callback: nothing changed' }) }), 'Taken'),
    ...problems(400, 401, 404, 413, 415),
  },
});

const WebhookBody = z.object({ url: z.string(), createdAt: z.string() }).openapi('UserWebhook');
const setWebhook = createRoute({
  method: 'put',
  path: '/v1/webhook',
  tags: ['webhooks'],
  summary: 'Set where your generations’ results are POSTed; the signing secret is shown this once',
  ...guard('user'),
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              url: z
                .string()
                .url()
                .max(2048)
                .refine((v) => /^https?:\/\//i.test(v), 'must be an http(s) URL'),
            })
            .openapi('SetUserWebhook'),
        },
      },
    },
  },
  responses: {
    200: json(WebhookBody.extend({ secret: z.string().openapi({ description: 'Verify `Tally-Signature: t=…,v1=…` = HMAC-SHA256(secret, "t.body")' }) }), 'Set'),
    ...problems(400, 401, 403, 413, 415, 429),
  },
});
const WebhookStatus = WebhookBody.extend({
  failures: z.number().int().openapi({ description: 'Consecutive failed deliveries; 0 while the endpoint answers 2xx' }),
  failingSince: z.string().nullable().openapi({ description: 'Since when the endpoint has been failing' }),
  lastError: z.string().nullable().openapi({ description: 'Why the last delivery failed, or which one was given up' }),
  nextAttemptAt: z.string().nullable().openapi({ description: 'Deliveries wait until then (the endpoint is backed off); none is lost' }),
  undelivered: z.number().int().openapi({ description: 'Deliveries given up after their last try' }),
}).openapi('UserWebhookStatus');
const getWebhook = createRoute({
  method: 'get',
  path: '/v1/webhook',
  tags: ['webhooks'],
  summary: 'Your result webhook and how its deliveries fare',
  ...guard('user'),
  responses: { 200: json(WebhookStatus, 'The webhook'), ...problems(400, 401, 403, 404, 429) },
});
const deleteWebhook = createRoute({
  method: 'delete',
  path: '/v1/webhook',
  tags: ['webhooks'],
  summary: 'Stop result webhooks',
  ...guard('user'),
  responses: { 204: { description: 'Removed' }, ...problems(400, 401, 403, 404, 429) },
});

export function registerWebhookRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(providerCallback, async (c) => {
    const { provider } = c.req.valid('param');
    const rawBody = Buffer.from(await c.req.arrayBuffer());
    const headers = Object.fromEntries([...c.req.raw.headers.entries()].map(([k, v]) => [k.toLowerCase(), v]));
    // Every query parameter, not only ours: a provider may carry its own (fal's app path) through the URL.
    const outcome = await c.get('deps').generations.callback(provider, { headers, rawBody, query: { ...c.req.query(), ...c.req.valid('query') } });
    return c.json({ received: outcome === 'recorded' }, 200);
  });

  app.openapi(setWebhook, async (c) => {
    const { url } = c.req.valid('json');
    await c
      .get('deps')
      .checkPublicUrl(url)
      .catch((error: Error) => {
        throw new ApiError('validation_failed', `The webhook URL cannot be used: ${error.message}`, { errors: [{ path: 'body.url', message: error.message }] });
      });
    return c.json(await setUserWebhook(c.get('deps').pool, { userId: currentUserId(c), url }), 200);
  });
  app.openapi(getWebhook, async (c) => {
    const hook = await getUserWebhook(c.get('deps').pool, currentUserId(c));
    if (!hook) throw new ApiError('not_found', 'No webhook is set; PUT /v1/webhook sets one.');
    return c.json(hook, 200);
  });
  app.openapi(deleteWebhook, async (c) => {
    if (!(await deleteUserWebhook(c.get('deps').pool, currentUserId(c)))) throw new ApiError('not_found', 'No webhook is set.');
    return c.body(null, 204);
  });
}
