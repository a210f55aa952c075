// Migrations are an ordered chain of SQL files (src/db/migrations/NNNN_name.sql), each applied once in
// its own transaction and recorded with a checksum. Written here rather than taken from a library
// because the readiness probe and the test harness need the same three answers (pending, applied,
// edited-after-apply) from one small function, and the whole runner is a screenful of SQL.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, Pool, Queryable } from './pool.ts';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const LOCK_ID = 7_461_001; // advisory lock shared by every process that migrates

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return { name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  /** Applied, but the file has changed since: someone edited history. */
  changed: string[];
  /** Applied in the database, unknown to this code: the database is newer than the code. */
  unknown: string[];
  current: boolean;
  /**
   * This code can run on the database: nothing pending, nothing edited. A newer database is fine,
   * because migrations only add (docs/operations.md, Upgrading): the previous release keeps running
   * while the next one rolls out.
   */
  compatible: boolean;
}

export async function migrationStatus(db: Queryable, migrations = listMigrations()): Promise<MigrationStatus> {
  const exists = await db.query(`select to_regclass('tally_migrations') is not null as present`);
  const rows = exists.rows[0].present
    ? (await db.query<{ name: string; checksum: string }>('select name, checksum from tally_migrations order by name')).rows
    : [];
  const applied = new Map(rows.map((row) => [row.name, row.checksum]));
  const known = new Set(migrations.map((m) => m.name));
  const pending = migrations.filter((m) => !applied.has(m.name)).map((m) => m.name);
  const changed = migrations.filter((m) => applied.has(m.name) && applied.get(m.name) !== m.checksum).map((m) => m.name);
  const unknown = [...applied.keys()].filter((name) => !known.has(name));
  const compatible = pending.length === 0 && changed.length === 0;
  return { applied: [...applied.keys()], pending, changed, unknown, current: compatible && unknown.length === 0, compatible };
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Runs `work` holding the migration lock: a session advisory lock every process that changes the schema
 * takes first, so replicas migrating at start wait for each other instead of racing (PostgreSQL's own
 * catalog inserts, such as a schema created twice at once, fail rather than wait). `work` gets the
 * connection that holds the lock, and should make its changes on it.
 */
export async function withMigrationLock<T>(pool: Pool, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_ID]);
    return await work(client);
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_ID]).catch(() => undefined);
    client.release();
  }
}

/** Applies pending migrations in order. Safe to run from several processes at once. */
export function migrate(pool: Pool, options: { onApply?: (name: string) => void; onNewer?: (unknown: string[]) => void } = {}): Promise<string[]> {
  const migrations = listMigrations();
  return withMigrationLock(pool, async (client) => {
    await client.query(`create table if not exists tally_migrations (
      name text primary key, checksum text not null, applied_at timestamptz not null default now())`);
    const status = await migrationStatus(client, migrations);
    if (status.changed.length)
      throw new MigrationError(
        `Migrations changed after they were applied: ${status.changed.join(', ')}. Restore the original files; add a new migration instead.`,
      );
    // A newer release migrated already (a rolling upgrade): nothing to do, and nothing wrong.
    if (status.unknown.length) options.onNewer?.(status.unknown);
    const done: string[] = [];
    for (const migration of migrations.filter((m) => status.pending.includes(m.name))) {
      options.onApply?.(migration.name);
      try {
        await client.query('begin');
        await client.query(migration.sql);
        await client.query('insert into tally_migrations (name, checksum) values ($1, $2)', [migration.name, migration.checksum]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw new MigrationError(`Migration ${migration.name} failed: ${(error as Error).message}`);
      }
      done.push(migration.name);
    }
    return done;
  });
}
