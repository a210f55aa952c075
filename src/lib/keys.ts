import { createHash } from 'node:crypto';

/**
 * A ledger or idempotency key from parts. Each part is URI-encoded, so a ':' inside a part (user ids
 * may hold one) can never pass for the separator: `user:a` + `b` and `user` + `a:b` give two keys.
 * Keys past the ledger's 200-character limit are hashed.
 */
export function joinKey(...parts: string[]): string {
  const key = parts.map((part) => encodeURIComponent(part)).join(':');
  return key.length <= 200 ? key : `${encodeURIComponent(parts[0] ?? '')}:sha256:${createHash('sha256').update(key).digest('base64url')}`;
}
