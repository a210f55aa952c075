// The HTTP app: middleware in the order a request meets it, then the routes, then the documents.
import { createRequire } from 'node:module';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { authenticate, securitySchemes } from './access.ts';
import type { AppDependencies, AppEnv } from './context.ts';
import { ApiError, handleError, problemResponse, validationError } from './errors.ts';
import { bodyRules, rateLimit, refuseNulText, requestContext } from './middleware.ts';
import { registerAccountRoutes } from './routes/accounts.ts';
import { registerAdminCreditRoutes } from './routes/admin-credits.ts';
import { registerAnalyticsRoutes } from './routes/analytics.ts';
import { registerAdminUserRoutes } from './routes/admin-users.ts';
import { registerNotificationRoutes } from './routes/notifications.ts';
import { registerAdminGenerationRoutes } from './routes/admin-generations.ts';
import { registerAdminPoolRoutes } from './routes/admin-pools.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerAdminOpsRoutes, registerBackgroundJobRoute } from './routes/admin-ops.ts';
import { registerBackgroundRoutes } from './routes/background.ts';
import { registerControlRoutes } from './routes/controls.ts';
import { registerCreditRoutes } from './routes/credits.ts';
import { registerCredentialRoutes } from './routes/credentials.ts';
import { registerFileRoutes } from './routes/files.ts';
import { registerGenerationRoutes } from './routes/generations.ts';
import { registerPaymentRoutes } from './routes/payments.ts';
import { registerWebhookRoutes } from './routes/webhooks.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { fallbackPage, registerWebRoutes } from './web.ts';

export type { AppDependencies } from './context.ts';

export function createApp(deps: AppDependencies): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    // Every validation failure becomes one problem+json naming the fields, whatever the route.
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, targetName(result.target));
    },
  });
  const { http } = deps.config;

  app.use('*', requestContext(deps));
  if (http.corsOrigins.length > 0) {
    app.use('*', cors({ origin: http.corsOrigins, credentials: true, exposeHeaders: ['X-Request-Id', 'Retry-After'] }));
  }
  // Who is calling first, so a body is read only for a caller who may send it (see bodyRules).
  app.use('*', authenticate);
  app.use('*', rateLimit(http.rateLimit));
  app.use('*', bodyRules(http));
  app.use('*', refuseNulText);

  registerSystemRoutes(app);
  registerAccountRoutes(app);
  registerAdminRoutes(app);
  registerCreditRoutes(app);
  registerAdminCreditRoutes(app);
  registerAnalyticsRoutes(app);
  registerAdminUserRoutes(app);
  registerNotificationRoutes(app);
  registerAdminPoolRoutes(app);
  registerBackgroundRoutes(app);
  registerBackgroundJobRoute(app);
  registerAdminOpsRoutes(app);
  registerGenerationRoutes(app);
  registerAdminGenerationRoutes(app);
  registerWebhookRoutes(app);
  registerPaymentRoutes(app);
  registerFileRoutes(app);
  registerControlRoutes(app);
  registerCredentialRoutes(app);

  for (const [name, scheme] of Object.entries(securitySchemes)) app.openAPIRegistry.registerComponent('securitySchemes', name, scheme);
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Tally API',
      version: '0.1.0',
      description: 'Credits, ledger and generations. Errors are application/problem+json; every response carries X-Request-Id.',
    },
  });
  app.get('/docs', (c) => c.html(DOCS_PAGE));
  app.get('/docs/assets/:file', async (c) => {
    const file = c.req.param('file');
    if (!DOCS_ASSETS.has(file)) throw new ApiError('not_found', `no such asset ${file}`);
    const body = await readFile(path.join(swaggerDist, file));
    return c.body(body, 200, { 'content-type': file.endsWith('.css') ? 'text/css' : 'text/javascript', 'cache-control': 'public, max-age=86400' });
  });

  registerWebRoutes(app);

  app.notFound(
    (c) =>
      fallbackPage(c) ?? problemResponse(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}; the API is described at /openapi.json`)),
  );
  app.onError(handleError);
  return app;
}

function targetName(target: string): string {
  // A multipart form is the body too: its fields are named `body.<field>` like JSON's.
  return target === 'param' ? 'path' : target === 'json' || target === 'form' ? 'body' : target;
}

// The API reference is Swagger UI served from the swagger-ui-dist package, so /docs works offline.
const swaggerDist = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const DOCS_ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js']);
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Tally API</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="api"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api', deepLinking: true, persistAuthorization: true });</script>
</body></html>`;
