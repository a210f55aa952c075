// End-user tokens: HS256 with a shared secret, or RS256/ES256 from a JWKS URL. Supabase Auth tokens work
// as they are (HS256 with the project's JWT secret, or its JWKS; `sub` is the user id).
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/index.ts';

export interface VerifiedUser {
  userId: string;
  /** The token makes its user an admin: the configured claim, or a listed user id (isAdminToken). */
  admin: boolean;
}

/**
 * Whether a verified token's payload names an admin: its subject is in `adminUserIds`, or the claim at
 * the dotted path of `adminClaim` ("app_metadata.role=admin") equals the value, or is an array holding it.
 * Only ever called on a payload whose signature checked out.
 */
export function isAdminToken(payload: Record<string, unknown>, auth: Pick<Config['auth'], 'adminClaim' | 'adminUserIds'>): boolean {
  if (typeof payload.sub === 'string' && auth.adminUserIds.includes(payload.sub)) return true;
  const at = auth.adminClaim.indexOf('=');
  if (at <= 0) return false;
  let value: unknown = payload;
  for (const part of auth.adminClaim.slice(0, at).split('.')) {
    value = value !== null && typeof value === 'object' && Object.hasOwn(value, part) ? (value as Record<string, unknown>)[part] : undefined;
  }
  const expected = auth.adminClaim.slice(at + 1);
  return value === expected || (Array.isArray(value) && value.includes(expected));
}

export type UserTokenVerifier = (token: string) => Promise<VerifiedUser>;

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Verified tokens remembered, so a client sending the same token again costs no signature check. */
const CACHED_TOKENS = 10_000;
/** How long a token without `exp` is remembered before its signature is checked again. */
const NO_EXPIRY_CACHE_MS = 60_000;

export function createUserTokenVerifier(auth: Config['auth']): UserTokenVerifier {
  const verify = createUncachedVerifier(auth);
  // Keyed by the whole token, signature included: only the very token that verified can hit its entry.
  const verified = new Map<string, { user: VerifiedUser; until: number }>();
  return async (token) => {
    const hit = verified.get(token);
    if (hit && hit.until > Date.now()) return hit.user;
    verified.delete(token);
    const { user, expiresAt } = await verify(token);
    if (verified.size >= CACHED_TOKENS) verified.delete(verified.keys().next().value!); // the oldest
    verified.set(token, { user, until: expiresAt ?? Date.now() + NO_EXPIRY_CACHE_MS });
    return user;
  };
}

function createUncachedVerifier(auth: Config['auth']): (token: string) => Promise<{ user: VerifiedUser; expiresAt?: number }> {
  const secret = auth.jwtSecret ? new TextEncoder().encode(auth.jwtSecret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = auth.jwksUrl ? createRemoteJWKSet(new URL(auth.jwksUrl)) : undefined;
  const claims = { issuer: auth.issuer, audience: auth.audience, requiredClaims: auth.requireExp ? ['exp'] : [] };

  return async (token) => {
    if (!secret && !jwks) throw new InvalidTokenError('user tokens are not accepted: neither JWT_SECRET nor JWT_JWKS_URL is configured');
    let payload;
    try {
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: string };
      if (header.alg === 'HS256' && secret) {
        ({ payload } = await jwtVerify(token, secret, { ...claims, algorithms: ['HS256'] }));
      } else if (jwks) {
        ({ payload } = await jwtVerify(token, jwks, { ...claims, algorithms: ['RS256', 'ES256'] }));
      } else {
        throw new Error(`algorithm ${header.alg ?? 'none'} is not accepted`);
      }
    } catch (error) {
      throw new InvalidTokenError(`invalid token: ${(error as Error).message}`);
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200) throw new InvalidTokenError('invalid token: no subject');
    return { user: { userId: payload.sub, admin: isAdminToken(payload, auth) }, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined };
  };
}
