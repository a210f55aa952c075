// The web pages (web/README.md): the user page at `/`, the admin dashboard at `/admin`, both built by
// Vite into web/dist. Hashed assets are cached for a year (their name changes when they do); the HTML
// is revalidated on every load so a new build is picked up at once. Only browsers navigating to a page
// get the SPA fallback: an API path (/v1, /api, …) that matches no route stays a problem+json 404.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';
import type { AppEnv } from './context.ts';
import { ApiError } from './errors.ts';

const DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;
/** Paths that belong to the API or to other handlers: never answered with a page. */
const NOT_PAGES = /^\/(v1|api|assets|docs|files|metrics|healthz|readyz|openapi\.json)(\/|$)/;

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

// Scripts and connections only to this origin; images may come from the result store (S3 or a signed
// link under TALLY_PUBLIC_URL, possibly another host name) and from the user's own file (blob:).
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

type Page = 'index.html' | 'admin.html';

export function registerWebRoutes(app: Hono<AppEnv>): void {
  app.get('/', (c) => page(c, 'index.html'));
  app.get('/admin', (c) => page(c, 'admin.html'));
  app.get('/admin/*', (c) => page(c, 'admin.html'));
  app.get('/assets/:file', async (c) => {
    const file = c.req.param('file');
    const body = ASSET_NAME.test(file) ? await readFile(path.join(DIST, 'assets', file)).catch(() => undefined) : undefined;
    if (!body) throw new ApiError('not_found', `no such asset ${file}; the page may be older than the running build, reload it`);
    const type = CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
    return c.body(new Uint8Array(body), 200, {
      'content-type': type,
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
  });
}

/** The user page for a browser navigating to a path no route has (a bookmark, a typo); undefined otherwise. */
export function fallbackPage(c: Context<AppEnv>): Promise<Response> | undefined {
  if (c.req.method !== 'GET' || NOT_PAGES.test(c.req.path)) return undefined;
  if (!(c.req.header('accept') ?? '').includes('text/html')) return undefined;
  return page(c, 'index.html');
}

async function page(c: Context<AppEnv>, name: Page): Promise<Response> {
  const html = await readFile(path.join(DIST, name), 'utf8').catch(() => undefined);
  if (html === undefined) {
    // A checkout whose install skipped the build (npm ci --ignore-scripts): say how to get the pages.
    return c.body(NOT_BUILT, 503, { ...PAGE_HEADERS, 'cache-control': 'no-store' });
  }
  return c.body(html, 200, PAGE_HEADERS);
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Tally</title>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>The web pages are not built</h1>
<p>Run <code>npm run build:web</code> (it runs by itself at <code>npm install</code>), then reload. The API works without them: see <a href="/docs">/docs</a>.</p>
</body></html>`;
