// Provider credentials over HTTP (src/credentials/README.md): admins store a provider's API key and base
// URL at run time. A key is never answered, only its last 4 characters.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CREDENTIAL_PROVIDERS } from '../../credentials/index.ts';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { json, problems } from '../schemas.ts';
import { actorOf } from './controls.ts';

const CredentialBody = z
  .object({
    provider: z.string(),
    source: z.enum(['environment', 'database', 'none']).openapi({ description: 'Where the key in use comes from (the environment wins)' }),
    last4: z.string().nullable().openapi({ description: 'The last 4 characters of the key in use; the key itself is never answered' }),
    baseUrl: z.string().nullable().openapi({ description: 'The stored base URL, if any' }),
    updatedBy: z.string().nullable(),
    updatedAt: z.string().nullable(),
    overriddenByEnvironment: z.boolean(),
  })
  .openapi('ProviderCredentials');

const providerParam = z.object({ provider: z.enum(CREDENTIAL_PROVIDERS).openapi({ param: { name: 'provider', in: 'path' } }) });

const putCredentials = createRoute({
  method: 'put',
  path: '/v1/admin/providers/{provider}/credentials',
  tags: ['admin'],
  summary: 'Store a provider’s API key (encrypted) and base URL; every process uses it within a second, no restart',
  ...guard('admin'),
  request: {
    params: providerParam,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              apiKey: z
                .string()
                .min(8)
                .max(4096)
                .regex(/^[\x21-\x7e]+$/, 'printable characters without spaces'),
              baseUrl: z
                .string()
                .url()
                .max(2000)
                .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
                .optional(),
            })
            .strict()
            .openapi('PutProviderCredentials'),
        },
      },
    },
  },
  responses: { 200: json(CredentialBody, 'Stored (the key is not returned)'), ...problems(400, 401, 403, 413, 415, 429, 503) },
});

const deleteCredentials = createRoute({
  method: 'delete',
  path: '/v1/admin/providers/{provider}/credentials',
  tags: ['admin'],
  summary: 'Remove a provider’s stored credentials (an environment key, if set, stays in use)',
  ...guard('admin'),
  request: { params: providerParam },
  responses: { 204: { description: 'Removed' }, ...problems(400, 401, 403, 404, 429) },
});

const listCredentials = createRoute({
  method: 'get',
  path: '/v1/admin/providers/credentials',
  tags: ['admin'],
  summary: 'Each provider’s key in use: where it comes from and its last 4 characters',
  ...guard('admin'),
  responses: { 200: json(z.object({ providers: z.array(CredentialBody) }), 'Credentials (never the keys)'), ...problems(401, 403, 429) },
});

export function registerCredentialRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(listCredentials, async (c) => c.json({ providers: await c.get('deps').providerCredentials.list() }, 200));
  app.openapi(putCredentials, async (c) =>
    c.json(await c.get('deps').providerCredentials.put(c.req.valid('param').provider, c.req.valid('json'), actorOf(c.get('caller'))), 200),
  );
  app.openapi(deleteCredentials, async (c) => {
    await c.get('deps').providerCredentials.remove(c.req.valid('param').provider, actorOf(c.get('caller')));
    return c.body(null, 204);
  });
}
