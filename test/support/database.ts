import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.ts';

export interface TestDatabase {
  url: string;
  pool: Pool;
}

/** A fresh, migrated database for one test file (`empty`: not migrated at all); dropped after the file's tests. */
export async function createTestDatabase(options: { poolSize?: number; empty?: boolean } = {}): Promise<TestDatabase> {
  const template = inject('templateUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(template, 'postgres') });
  await admin.connect();
  await admin.query(`create database ${name} template ${options.empty ? 'template0' : 'tally_template'}`);
  await admin.end();
  const url = withDatabase(template, name);
  const pool = createPool(url, options.poolSize ?? 20);
  afterAll(async () => {
    await pool.end();
    const cleanup = new pg.Client({ connectionString: withDatabase(template, 'postgres') });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${name} with (force)`);
    await cleanup.end();
  });
  return { url, pool };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
