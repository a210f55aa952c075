// Replicas that migrate at start: several `tally migrate` processes at once on a fresh database must
// all succeed (Tally's own migrations and the queue's schema alike), and leave one current schema.
import { describe, expect, it } from 'vitest';
import { migrationStatus } from '../src/db/migrate.ts';
import { QUEUES } from '../src/queue/index.ts';
import { runCli } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';
import { createTestApp } from './support/http.ts';

const PROCESSES = 3;
const ROUNDS = 3;

describe('tally migrate from several processes at once', () => {
  it(`${PROCESSES} processes on a fresh database all succeed, ${ROUNDS} rounds in a row`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const db = await createTestDatabase({ empty: true, poolSize: 2 });
      const runs = await Promise.all(Array.from({ length: PROCESSES }, () => runCli(['migrate'], { DATABASE_URL: db.url, LOG_LEVEL: 'info' })));
      for (const run of runs) expect(run.code, run.output).toBe(0);
      expect((await migrationStatus(db.pool)).current).toBe(true);
      const queues = await db.pool.query<{ name: string }>('select name from pgboss.queue order by name');
      expect(queues.rows.map((r) => r.name)).toEqual(Object.values(QUEUES).sort());
    }
  }, 180_000); // nine process starts, three at a time
});

describe('a rolling upgrade: the database is already migrated by a newer release', () => {
  it('this release still migrates (nothing to do, a warning), starts, and reports ready', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    await db.pool.query("insert into tally_migrations (name, checksum) values ('9999_from_a_newer_release', 'x')");
    const run = await runCli(['migrate'], { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/migrated by a newer release/);
    const status = await migrationStatus(db.pool);
    expect(status).toMatchObject({ compatible: true, current: false, unknown: ['9999_from_a_newer_release'] });
  });

  it('an API process of this release stays ready while the newer one rolls out', async () => {
    const t = await createTestApp();
    await t.db.pool.query("insert into tally_migrations (name, checksum) values ('9999_from_a_newer_release', 'x')");
    expect((await t.request('GET', '/readyz')).status).toBe(200);
    await t.db.pool.query("delete from tally_migrations where name = (select max(name) from tally_migrations where name < '9999')");
    expect((await t.request('GET', '/readyz')).status).toBe(503);
  });

  it('a pending migration is still refused: the schema this code needs is not there', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    await db.pool.query('delete from tally_migrations where name = (select max(name) from tally_migrations)');
    expect(await migrationStatus(db.pool)).toMatchObject({ compatible: false });
    const check = await runCli(['ledger', 'check'], { DATABASE_URL: db.url });
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/run `tally migrate` first/);
  });
});
