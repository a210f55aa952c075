// Replicas that migrate at start: several `tally migrate` processes at once on a fresh database must
// all succeed (Tally's own migrations and the queue's schema alike), and leave one current schema.
import { describe, expect, it } from 'vitest';
import { migrationStatus } from '../src/db/migrate.ts';
import { runCli } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';

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
      expect(queues.rows.length).toBeGreaterThan(0);
    }
  });
});
