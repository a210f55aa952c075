import { Hono } from 'hono';
import type { Pool } from '../db/pool.ts';
import { migrationStatus } from '../db/migrate.ts';

export interface AppDependencies {
  pool: Pool;
}

export function createApp(deps: AppDependencies): Hono {
  const app = new Hono();

  // Liveness: the process is up and serving. No dependency is checked, so a database outage does not
  // get the process restarted.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  // Readiness: the database answers and its schema is what this code expects.
  app.get('/readyz', async (c) => {
    try {
      const status = await migrationStatus(deps.pool);
      if (!status.current) {
        return problem(503, 'Not ready', `migrations not current: ${status.pending.length} pending, ${status.changed.length} changed, ${status.unknown.length} unknown. Run \`tally migrate\`.`);
      }
      return c.json({ status: 'ready', migrations: status.applied.length });
    } catch {
      return problem(503, 'Not ready', 'the database is unreachable');
    }
  });

  return app;
}

function problem(status: number, title: string, detail: string): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title, status, detail }), { status, headers: { 'content-type': 'application/problem+json' } });
}
