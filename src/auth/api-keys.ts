import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';

export type ApiKeyRole = 'admin' | 'service';

export interface ApiKey {
  id: string;
  name: string;
  role: ApiKeyRole;
  keyPrefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** Creates a key; the plaintext is returned once and never stored. */
export async function createApiKey(db: Queryable, input: { role: ApiKeyRole; name: string }): Promise<{ key: string; apiKey: ApiKey }> {
  const key = `tly_${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query(`insert into api_keys (id, name, role, key_hash, key_prefix) values ($1, $2, $3, $4, $5) returning *`, [
    newId('key'),
    input.name,
    input.role,
    hashKey(key),
    key.slice(0, 10),
  ]);
  return { key, apiKey: fromRow(rows[0]) };
}

/** Revokes a key; returns it, or undefined when no such key exists. Revoking twice is harmless. */
export async function revokeApiKey(db: Queryable, id: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query(`update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning *`, [id]);
  return rows[0] && fromRow(rows[0]);
}

export async function listApiKeys(db: Queryable): Promise<ApiKey[]> {
  const { rows } = await db.query(`select * from api_keys order by created_at desc`);
  return rows.map(fromRow);
}

/** The live key with this plaintext, or undefined (unknown or revoked). */
export async function verifyApiKey(db: Queryable, key: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query(`update api_keys set last_used_at = now() where key_hash = $1 and revoked_at is null returning *`, [hashKey(key)]);
  return rows[0] && fromRow(rows[0]);
}

/**
 * An admin key that comes from outside the database (TALLY_ADMIN_API_KEY, the demo's key): one row per
 * source that always holds the current key, so a changed key replaces the old one. A revoked key stays
 * revoked when the same key is registered again at the next start (an operator's revocation must
 * survive a restart); only a new key in the variable, or `reactivate` (the demo's own key under
 * --demo), makes the row live again.
 */
export async function registerConfiguredAdminKey(
  db: Queryable,
  key: string,
  source: { id: string; name: string; reactivate?: boolean } = { id: 'key_env_admin', name: 'TALLY_ADMIN_API_KEY' },
): Promise<void> {
  await db.query(
    `insert into api_keys (id, name, role, key_hash, key_prefix) values ($1, $2, 'admin', $3, $4)
     on conflict (id) do update set key_hash = excluded.key_hash, key_prefix = excluded.key_prefix,
       revoked_at = case when $5 or api_keys.key_hash <> excluded.key_hash then null else api_keys.revoked_at end`,
    [source.id, source.name, hashKey(key), key.slice(0, 10), source.reactivate ?? false],
  );
}

/** Revokes a key by id if it exists (the demo's admin key, at a start without --demo). */
export async function retireApiKey(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`update api_keys set revoked_at = now() where id = $1 and revoked_at is null`, [id]);
  return (rowCount ?? 0) > 0;
}

function fromRow(row: Record<string, any>): ApiKey {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    keyPrefix: row.key_prefix,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

/** The API keys of one database, for callers that hold no connection of their own (the HTTP routes). */
export class ApiKeys {
  constructor(private readonly db: Queryable) {}

  create(input: { role: ApiKeyRole; name: string }) {
    return createApiKey(this.db, input);
  }

  list() {
    return listApiKeys(this.db);
  }

  revoke(id: string) {
    return revokeApiKey(this.db, id);
  }

  verify(key: string) {
    return verifyApiKey(this.db, key);
  }
}
