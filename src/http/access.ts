// Authentication (who is calling) runs for every request; authorisation (may they call this route) is
// declared by each route with `guard(access)`, which also documents it in the OpenAPI document.
import { timingSafeEqual } from 'node:crypto';
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { verifyApiKey } from '../auth/api-keys.ts';
import { ApiError } from './errors.ts';
import type { AppEnv, Caller } from './context.ts';

/**
 * public: anyone. user: an end user (token or session cookie), or a service/admin key acting for one
 * with X-Tally-User. service: a service or admin key. admin: an admin key, or a user token carrying the
 * admin claim (auth.adminClaim) or listed in auth.adminUserIds. job: the background job token
 * (or an admin key). metrics: the metrics token (or an admin key).
 */
export type Access = 'public' | 'user' | 'service' | 'admin' | 'job' | 'metrics';

export const securitySchemes = {
  userToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'End-user JWT (HS256 or JWKS); also accepted as the session cookie.' },
  sessionCookie: { type: 'apiKey', in: 'cookie', name: 'lr_session', description: 'The same JWT in a cookie.' },
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'tly_…',
    description: 'API key (role admin or service). A service key acts for a user with X-Tally-User.',
  },
  jobToken: { type: 'http', scheme: 'bearer', description: 'BACKGROUND_JOB_TOKEN, on /api/background/* only.' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'TALLY_METRICS_TOKEN, on /metrics only.' },
} as const;

const securityByAccess: Record<Access, Record<string, string[]>[]> = {
  public: [],
  user: [{ userToken: [] }, { sessionCookie: [] }, { apiKey: [] }],
  service: [{ apiKey: [] }],
  admin: [{ apiKey: [] }, { userToken: [] }],
  job: [{ jobToken: [] }, { apiKey: [] }],
  metrics: [{ apiKey: [] }, { metricsToken: [] }],
};

const USER_ID = /^[A-Za-z0-9_:.@-]{1,200}$/;

/** Spread into createRoute: enforces the access level and documents it. */
export function guard(access: Access) {
  return {
    middleware: requireAccess(access),
    security: securityByAccess[access],
    'x-tally-access': access,
  };
}

function sameSecret(given: string, expected: string | undefined): boolean {
  if (!expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const { config, pool, verifyUserToken } = c.get('deps');
  const header = c.req.header('authorization');
  const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  const cookie = getCookie(c, config.auth.sessionCookie);
  let caller: Caller = { kind: 'anonymous' };

  if (header !== undefined && bearer === undefined) {
    c.set('authFailure', 'the Authorization header must be "Bearer <token>"');
  } else if (bearer?.startsWith('tly_')) {
    const key = await verifyApiKey(pool, bearer);
    if (key) caller = { kind: 'api-key', keyId: key.id, role: key.role };
    else c.set('authFailure', 'unknown or revoked API key');
  } else if (bearer && sameSecret(bearer, config.auth.backgroundJobToken)) {
    caller = { kind: 'job' };
  } else if (bearer && sameSecret(bearer, config.auth.metricsToken)) {
    caller = { kind: 'metrics' };
  } else if (bearer ?? cookie) {
    try {
      const user = await verifyUserToken((bearer ?? cookie)!);
      // Admin only with the Authorization header: a cookie rides along on cross-site requests (CSRF).
      caller = { kind: 'user', userId: user.userId, admin: bearer !== undefined && user.admin };
    } catch (error) {
      c.set('authFailure', (error as Error).message);
    }
    const origin = c.req.header('origin');
    if (
      caller.kind === 'user' &&
      !bearer &&
      !cookieRequestAllowed(c.req.method, origin, [new URL(c.req.url).origin, new URL(config.publicUrl).origin, ...config.http.corsOrigins])
    ) {
      c.header('connection', 'close'); // refused before its body was read
      throw new ApiError(
        'forbidden',
        `the session cookie authenticates a ${c.req.method} only from this site: the request's Origin (${origin ? `"${origin.slice(0, 100)}"` : 'none'}) is not allowed; send it from an allowed site, or use Authorization: Bearer`,
      );
    }
  }
  c.set('caller', caller);
  await next();
});

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF: a browser attaches the session cookie to requests any site makes, so a cookie alone does not
 * prove the user meant a state-changing request. It counts only with an Origin that is ours (this
 * host, TALLY_PUBLIC_URL) or a configured CORS origin; browsers send Origin on every cross-origin and
 * same-origin POST. Bearer tokens and API keys are not sent by browsers on their own, so they need none.
 */
export function cookieRequestAllowed(method: string, origin: string | undefined, allowed: string[]): boolean {
  if (SAFE_METHODS.has(method.toUpperCase())) return true;
  return !!origin && origin !== 'null' && allowed.some((a) => a.toLowerCase() === origin.toLowerCase());
}

export function requireAccess(access: Access) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (access === 'public') return next();
    const caller = c.get('caller');
    if (caller.kind === 'anonymous') {
      throw new ApiError('unauthorized', c.get('authFailure') ?? 'authentication required: send Authorization: Bearer <token or API key>');
    }
    const isAdminKey = caller.kind === 'api-key' && caller.role === 'admin';
    switch (access) {
      case 'admin':
        // A host app's admin page calls with its own session: a user token with the admin claim.
        if (!isAdminKey && !(caller.kind === 'user' && caller.admin))
          throw new ApiError('forbidden', 'this route needs an admin API key or a user token with the admin claim');
        break;
      case 'service':
        if (caller.kind !== 'api-key') throw new ApiError('forbidden', 'this route needs a service or admin API key');
        break;
      case 'job':
        if (!(isAdminKey || (caller.kind === 'job' && c.req.path.startsWith('/api/background/'))))
          throw new ApiError('forbidden', 'this route needs the background job token');
        break;
      case 'metrics':
        if (!(isAdminKey || caller.kind === 'metrics')) throw new ApiError('forbidden', 'this route needs the metrics token or an admin API key');
        break;
      case 'user': {
        if (caller.kind === 'user') {
          c.set('userId', caller.userId);
          break;
        }
        if (caller.kind !== 'api-key') throw new ApiError('forbidden', 'this route needs a user token');
        const actingFor = c.req.header('x-tally-user');
        if (!actingFor) throw new ApiError('forbidden', 'an API key acts for a user only with the X-Tally-User header');
        if (!USER_ID.test(actingFor)) {
          throw new ApiError('validation_failed', 'X-Tally-User must be 1-200 of A-Z a-z 0-9 _ : . @ -', {
            errors: [{ path: 'header.x-tally-user', message: 'invalid user id' }],
          });
        }
        c.set('userId', actingFor);
        break;
      }
    }
    await next();
  });
}

/** The user this request acts for (routes with `user` access only). */
export function currentUserId(c: { get: (key: 'userId') => string | undefined }): string {
  const userId = c.get('userId');
  if (!userId) throw new Error('currentUserId used on a route without user access');
  return userId;
}
