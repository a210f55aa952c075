import pg from 'pg';

// bigint columns (credits, provider units) come back as JS numbers. Amounts are bounded far below
// 2^53 by validation, so a value outside the safe range means corrupted data: fail loudly.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} is outside the safe integer range`);
  return value;
});

export type Pool = pg.Pool;
export type Client = pg.PoolClient;
/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export function createPool(url: string, size: number): Pool {
  // Generic plans: Tally's prepared statements take small arrays of ids and always want index
  // lookups, so re-planning each execution for its parameters (PostgreSQL's default for the first
  // runs, and whenever it judges a custom plan cheaper) only costs time: ~20% of ledger throughput.
  const pool = new pg.Pool({ connectionString: url, max: size, application_name: 'tally', options: '-c plan_cache_mode=force_generic_plan' });
  // A client that loses its connection (a server restart, a failover) must not crash the process:
  // pg-pool listens on idle clients only, and a checked-out client without a listener throws an
  // unhandled 'error' event. The query in flight fails on its own; the broken client is discarded on
  // release and the next query opens a fresh connection.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Runs `work` in a transaction on one client; rolls back on any error. */
export async function withTransaction<T>(pool: Pool, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
