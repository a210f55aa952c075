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

/** JSON bodies only, and not too big: 415 and 413 before any handler reads them. */
/** Routes that take an uploaded image as multipart/form-data (up to the upload limit). */
const UPLOAD_PATHS = new Set(['/api/enhance-image', '/v1/generations']);

export function bodyRules(maxJsonBytes: number, maxUploadBytes: number) {
  const limit = bodyLimit({
    maxSize: maxJsonBytes,
    onError: (c) => {
      closeAfterResponse(c);
      throw new ApiError('payload_too_large', `JSON bodies are limited to ${maxJsonBytes} bytes`);
    },
  });
  const uploadLimit = bodyLimit({
    maxSize: maxUploadBytes,
    onError: (c) => {
      closeAfterResponse(c);
      throw new ApiError('payload_too_large', `uploads are limited to ${Math.floor(maxUploadBytes / (1024 * 1024))} MB`);
    },
  });
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!hasBody(c)) return next();
    const type = c.req.header('content-type') ?? '';
    if (UPLOAD_PATHS.has(c.req.path) && /^multipart\/form-data\s*;/i.test(type)) return uploadLimit(c, next);
    if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type)) {
      closeAfterResponse(c);
      const accepted = UPLOAD_PATHS.has(c.req.path) ? 'application/json, or multipart/form-data with an image' : 'application/json';
      throw new ApiError('unsupported_media_type', `send the body as ${accepted} (got ${type ? `"${type.slice(0, 100)}"` : 'no content type'})`);
    }
    return limit(c, next);
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
      throw new ApiError('rate_limited', `rate limit of ${options.perMinute} requests per minute reached; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
    bucket.tokens -= 1;
    buckets.set(id, bucket);
    if (buckets.size > 50_000) for (const [key, b] of buckets) if (b.tokens >= options.perMinute - 1) buckets.delete(key);
    return next();
  });
}
