// Which PostgreSQL a command talks to: DATABASE_URL when set, else the embedded one under the data dir
// (attached if a running `tally start` holds it, started for this command and stopped after otherwise).
import type { Config } from '../config/index.ts';
import type { Logger } from '../log.ts';
import { openEmbeddedPostgres, type EmbeddedServer } from './embedded.ts';
import { createPool, type Pool } from './pool.ts';

export interface Database {
  pool: Pool;
  url: string;
  embedded?: EmbeddedServer;
  close(): Promise<void>;
}

export async function connectDatabase(config: Config, log: Logger): Promise<Database> {
  const embedded = config.database.url ? undefined : await openEmbeddedPostgres({ dataDir: config.dataDir, port: config.database.embeddedPort, log });
  const url = config.database.url ?? embedded!.url;
  const pool = createPool(url, config.database.poolSize);
  return {
    pool,
    url,
    embedded,
    async close() {
      await pool.end();
      await embedded?.stop();
    },
  };
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
