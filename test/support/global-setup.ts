// One embedded PostgreSQL for the whole run. The schema is migrated once into a template database;
// every test file gets its own database copied from it (see database.ts), so files never share state.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { freePort, openEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { migrateQueue } from '../../src/queue/index.ts';
import { createPool } from '../../src/db/pool.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    templateUrl: string;
    dataDir: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tally-test-'));
  const server = await openEmbeddedPostgres({ dataDir, port: await freePort(), log: pino({ level: 'silent' }), database: 'tally_template' });
  const pool = createPool(server.url, 2);
  await migrate(pool);
  await migrateQueue(pool);
  await pool.end();
  project.provide('templateUrl', server.url);
  project.provide('dataDir', dataDir);
  return async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
