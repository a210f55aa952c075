import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { IncomingMessage } from 'node:http';
import { newId } from '../lib/id.ts';
import type { AppDependencies, AppEnv } from './context.ts';
import { ApiError } from './errors.ts';

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** Request id (accepted from the caller when sane), per-request logger, and request metrics. */
export function requestContext(deps: AppDependencies) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && INCOMING_REQUEST_ID.test(incoming) ? incoming : newId('req');
    c.set('requestId', requestId);
    c.set('deps', deps);
    c.set('log', deps.log.child({ requestId }));
    await next();
    c.res.headers.set('x-request-id', requestId);
    const labels = { method: c.req.method, route: matchedRoute(c), status: String(c.res.status) };
    deps.metrics.requests.inc(labels);
    deps.metrics.requestSeconds.observe(labels, (performance.now() - started) / 1000);
    if (c.res.status >= 500) c.get('log').warn({ ...labels, path: c.req.path }, 'request failed');
    else c.get('log').debug({ ...labels, path: c.req.path, ms: Math.round(performance.now() - started) }, 'request');
  });
}

/** The route pattern that handled the request (`/v1/accounts/:accountId`), never the raw path. */
function matchedRoute(c: Context<AppEnv>): string {
  const routes = c.req.matchedRoutes.filter((r) => r.method !== 'ALL');
  return routes[routes.length - 1]?.path ?? 'unmatched';
}

/**
 * Whether the request carries a body. Over a socket HTTP/1.1 framing says so: a body needs a
 * Content-Length or a Transfer-Encoding, so a bare POST (`curl -X POST`) has none, though the Node
 * adapter gives every POST a body stream.
 */
function hasBody(c: Context<AppEnv>): boolean {
  if (c.req.raw.body === null || c.req.header('content-length') === '0') return false;
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || incoming.httpVersionMajor !== 1) return true; // HTTP/2 frames a body without either header
  return incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined;
}

/**
 * A refusal sent before the body was read leaves the rest of the body on the socket. Saying
 * `Connection: close` makes the client open a fresh connection for its next request instead of reusing
 * one the server is about to drop (a pooled client would otherwise fail with "other side closed").
 */
function closeAfterResponse(c: Context<AppEnv>): void {
  c.header('connection', 'close');
}

/** Routes that take an uploaded image as multipart/form-data (up to the upload limit). */
const UPLOAD_PATHS = new Set(['/api/enhance-image', '/v1/generations']);
/**
 * Unauthenticated by design: provider callbacks and payment webhooks prove themselves with a token or
 * a signature over the raw body, which their route checks. They get their own small body limit.
 */
const UNAUTHENTICATED_BODY_PREFIX = '/api/webhooks/';

export interface BodyLimits {
  maxJsonBytes: number;
  maxUploadBytes: number;
  maxWebhookBytes: number;
}

/**
 * Runs after authentication, so a body from a caller who could not use it is refused unread: an
 * anonymous body (outside the webhooks) gets 401 before a byte of it is read. Then JSON only (uploads
 * on their routes), and the size limit counted while the body streams in (a chunked body without
 * Content-Length is cut off at the limit): 415 and 413 before any handler sees it.
 */
export function bodyRules(limits: BodyLimits) {
  const tooLarge = (maxSize: number, what: (n: number) => string) =>
    bodyLimit({
      maxSize,
      onError: (c) => {
        closeAfterResponse(c);
        throw new ApiError('payload_too_large', what(maxSize));
      },
    });
  const jsonLimit = tooLarge(limits.maxJsonBytes, (n) => `JSON bodies are limited to ${n} bytes`);
  const uploadLimit = tooLarge(limits.maxUploadBytes, (n) => `uploads are limited to ${Math.floor(n / (1024 * 1024))} MB`);
  const webhookLimit = tooLarge(limits.maxWebhookBytes, (n) => `webhook bodies are limited to ${n} bytes`);
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!hasBody(c)) return next();
    const webhook = c.req.path.startsWith(UNAUTHENTICATED_BODY_PREFIX);
    if (!webhook && c.get('caller').kind === 'anonymous') {
      closeAfterResponse(c);
      throw new ApiError(
        'unauthorized',
        c.get('authFailure') ?? 'authentication required before sending a body: send Authorization: Bearer <token or API key>',
      );
    }
    const type = c.req.header('content-type') ?? '';
    if (UPLOAD_PATHS.has(c.req.path) && /^multipart\/form-data\s*;/i.test(type)) return uploadLimit(c, next);
    if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type)) {
      closeAfterResponse(c);
      const accepted = UPLOAD_PATHS.has(c.req.path) ? 'application/json, or multipart/form-data with an image' : 'application/json';
      throw new ApiError('unsupported_media_type', `send the body as ${accepted} (got ${type ? `"${type.slice(0, 100)}"` : 'no content type'})`);
    }
    return webhook ? webhookLimit(c, next) : jsonLimit(c, next);
  });
}

/**
 * Per-caller token buckets, in this process's memory: each API process enforces the limit on its own,
 * so N processes allow up to N times the rate. Simple and free of database writes on every request;
 * a shared limit would need a table or Redis.
 */
export function rateLimit(options: { enabled: boolean; perMinute: number }) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refillPerMs = options.perMinute / 60_000;
  return createMiddleware<AppEnv>(async (c, next) => {
    const caller = c.get('caller');
    const id = caller.kind === 'user' ? `user:${caller.userId}` : caller.kind === 'api-key' ? `key:${caller.keyId}` : undefined;
    if (!options.enabled || !id) return next();
    const now = Date.now();
    const bucket = buckets.get(id) ?? { tokens: options.perMinute, at: now };
    bucket.tokens = Math.min(options.perMinute, bucket.tokens + (now - bucket.at) * refillPerMs);
    bucket.at = now;
    if (bucket.tokens < 1) {
      buckets.set(id, bucket);
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
      throw new ApiError('rate_limited', `rate limit of ${options.perMinute} requests per minute reached; retry in ${retryAfterSeconds} s`, {
        retryAfterSeconds,
      });
    }
    bucket.tokens -= 1;
    buckets.set(id, bucket);
    if (buckets.size > 50_000) for (const [key, b] of buckets) if (b.tokens >= options.perMinute - 1) buckets.delete(key);
    return next();
  });
}

/**
 * PostgreSQL text cannot hold the NUL character (U+0000): a value carrying one fails the query itself,
 * which used to surface as a 500. It is a client's mistake, so it is refused up front with a 400 naming
 * the field, wherever it came: a path segment, a query parameter, a JSON body (keys too) or a form field.
 * Runs after bodyRules, so the body it reads is already within the size limit; the parsed body is
 * cached by the request, and an unreadable one is left for the route's validator to refuse.
 */
export const refuseNulText = createMiddleware<AppEnv>(async (c, next) => {
  const url = new URL(c.req.url);
  const fields: string[] = [];
  if (decodedOrRaw(url.pathname).includes('\u0000')) fields.push(...nulSegments(url.pathname, matchedRoute(c)));
  for (const [name, value] of url.searchParams) if (`${name}${value}`.includes('\u0000')) fields.push(`query.${name.replace(/\u0000/g, '\\0')}`);
  const type = c.req.header('content-type') ?? '';
  const json = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type);
  const form = /^multipart\/form-data\s*;/i.test(type);
  if (c.req.raw.body !== null && (json || form)) {
    // The bytes, cached: signature checks (webhooks) and the validator later read these same bytes.
    const bytes = await c.req.arrayBuffer();
    if (json) {
      const text = new TextDecoder().decode(bytes);
      // JSON carries a NUL only as the escape \u0000 (a raw control character is not valid JSON).
      if (/\\u0000/i.test(text)) fields.push(...nulPaths(parseOrUndefined(text), 'body'));
    } else {
      const parsed = await new Response(bytes, { headers: { 'content-type': type } }).formData().catch(() => undefined);
      for (const [name, value] of parsed ?? [])
        if (typeof value === 'string' && `${name}${value}`.includes('\u0000')) fields.push(`body.${name.replace(/\u0000/g, '\\0')}`);
    }
  }
  if (fields.length > 0) {
    const message = 'must not contain the NUL character (U+0000)';
    throw new ApiError('validation_failed', fields.map((f) => `${f}: ${message}`).join('; '), { errors: fields.map((path) => ({ path, message })) });
  }
  await next();
});

/** The path parameters holding a NUL (`path.keyId`), by the route's pattern; `path` when it has none there. */
function nulSegments(pathname: string, pattern: string): string[] {
  const names = pattern.split('/');
  const found = pathname
    .split('/')
    .map((segment, i) => (decodedOrRaw(segment).includes('\u0000') ? names[i] : undefined))
    .filter((name) => name !== undefined);
  const params = found.filter((name) => name.startsWith(':')).map((name) => `path.${name.slice(1)}`);
  return params.length === found.length && params.length > 0 ? params : ['path'];
}

function decodedOrRaw(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // a bad escape is the router's to refuse (404)
  }
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Where NULs sit in a parsed JSON value, as field paths (`body.inputs.prompt`). */
function nulPaths(value: unknown, at: string): string[] {
  if (typeof value === 'string') return value.includes('\u0000') ? [at] : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => {
    const here = `${at}.${key.replace(/\u0000/g, '\\0')}`;
    return key.includes('\u0000') ? [here] : nulPaths(inner, here);
  });
}
