// The job queue: pg-boss on the same PostgreSQL, through our own pool (no second pool per process).
// Jobs are sent inside the caller's transaction, so a generation, its credit hold and its job commit
// together or not at all. pg-boss keeps the jobs, retries and backoff; src/generations/dispatcher.ts
// fetches and runs them, woken by NOTIFY so normal work does not wait for a polling tick.
import PgBoss from 'pg-boss';
import { withMigrationLock } from '../db/migrate.ts';
import type { Pool, Queryable } from '../db/pool.ts';

export const QUEUES = {
  /** { generationId }: run (or resume) one generation. */
  generation: 'generation-process',
  /** { generationId, event }: POST a result to the user's webhook. */
  webhook: 'webhook-deliver',
  /** { notificationId, channel }: send one alert message to one channel (src/alerts). */
  alert: 'alert-deliver',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Channel the submitters NOTIFY after enqueuing, so idle workers fetch at once. */
export const WAKE_CHANNEL = 'tally_jobs';

const SCHEMA = 'pgboss';

const QUEUE_OPTIONS: Record<QueueName, PgBoss.Queue> = {
  // A generation's own state machine decides success and failure; a job fails only on an unexpected
  // error (database down, a bug), and then it is retried with backoff.
  [QUEUES.generation]: { name: QUEUES.generation, retryLimit: 5, retryDelay: 2, retryBackoff: true, expireInSeconds: 3600 },
  [QUEUES.webhook]: { name: QUEUES.webhook, retryLimit: 8, retryDelay: 5, retryBackoff: true, expireInSeconds: 120 },
  // Each send sets its own retries from config.alerts.delivery; these are the queue's defaults.
  [QUEUES.alert]: { name: QUEUES.alert, retryLimit: 6, retryDelay: 30, retryBackoff: true, expireInSeconds: 120 },
};

function adapter(db: Queryable): PgBoss.Db {
  return { executeSql: (text: string, values?: unknown[]) => db.query(text, values) as never };
}

function createBoss(pool: Pool, options: { supervise: boolean }): PgBoss {
  return new PgBoss({
    db: adapter(pool),
    schema: SCHEMA,
    migrate: false,
    supervise: options.supervise,
    schedule: false,
    // Keep finished jobs a day for inspection; the generations table is the durable record.
    deleteAfterDays: 1,
  });
}

/** Installs (or upgrades) pg-boss's schema and our queues; part of `tally migrate`, under its lock. */
export function migrateQueue(pool: Pool): Promise<void> {
  // pg-boss runs its schema changes on the connection that holds the lock (a pool of one still works).
  return withMigrationLock(pool, async (client) => {
    const boss = new PgBoss({ db: adapter(client), schema: SCHEMA, migrate: true, supervise: false, schedule: false });
    boss.on('error', () => undefined);
    await boss.start();
    for (const options of Object.values(QUEUE_OPTIONS)) {
      if (!(await boss.getQueue(options.name))) await boss.createQueue(options.name, options);
    }
    await boss.stop({ graceful: false, close: false, wait: true });
  });
}

export interface Job<T> {
  id: string;
  name: QueueName;
  data: T;
}

export class Queue {
  private readonly boss: PgBoss;
  private started = false;

  constructor(
    private readonly pool: Pool,
    options: { supervise: boolean; onError?: (error: Error) => void },
  ) {
    this.boss = createBoss(pool, options);
    this.boss.on('error', options.onError ?? (() => undefined));
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    this.started = true;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: false, close: false, wait: true });
  }

  /** Enqueues inside the caller's open transaction and wakes idle workers when it commits. */
  async sendIn(client: Queryable, name: QueueName, data: object, options: PgBoss.SendOptions = {}): Promise<string> {
    const id = await this.boss.send(name, data, { ...options, db: adapter(client) });
    if (!id) throw new Error(`the ${name} job was not enqueued`);
    await client.query('select pg_notify($1, $2)', [WAKE_CHANNEL, name]);
    return id;
  }

  async fetch<T>(name: QueueName, batchSize: number): Promise<Job<T>[]> {
    const jobs = await this.boss.fetch<T>(name, { batchSize });
    return jobs.map((job) => ({ id: job.id, name, data: job.data }));
  }

  async complete(name: QueueName, id: string): Promise<void> {
    await this.boss.complete(name, id);
  }

  async fail(name: QueueName, id: string, error: Error): Promise<void> {
    await this.boss.fail(name, id, { message: error.message });
  }

  /** Jobs waiting or running, for health reports and tests. */
  async pending(name: QueueName): Promise<number> {
    const { rows } = await this.pool.query<{ count: number }>(`select count(*)::int as count from ${SCHEMA}.job where name = $1 and state < 'completed'`, [
      name,
    ]);
    return rows[0]!.count;
  }
}
