// Wake-ups across processes over PostgreSQL LISTEN/NOTIFY: a submit wakes idle workers, a provider
// callback (received by any API process) wakes the processor waiting on that attempt. A lost
// notification costs only latency: every waiter also wakes on its own timer and looks again.
import type { Pool, Client } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import { WAKE_CHANNEL } from '../queue/index.ts';

export const CALLBACK_CHANNEL = 'tally_callbacks';

export class Notifier {
  private client?: Client;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectAttempts = 0;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly jobListeners = new Set<() => void>();

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {}

  /**
   * Holds one connection for LISTEN; only processes that wait (workers) need it. When the database
   * drops it (a restart, a failover), it reconnects with backoff; meanwhile every waiter still wakes
   * on its own timer, and once back every waiter is woken to look again (news may have been missed).
   */
  async listen(): Promise<void> {
    this.closed = false;
    if (this.client) return;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = await this.pool.connect();
    client.on('notification', (message) => {
      if (message.channel === WAKE_CHANNEL) this.jobListeners.forEach((wake) => wake());
      else if (message.channel === CALLBACK_CHANNEL && message.payload) this.wake(message.payload);
    });
    client.on('error', (error) => this.lost(client, error));
    try {
      await client.query(`listen ${WAKE_CHANNEL}`);
      await client.query(`listen ${CALLBACK_CHANNEL}`);
    } catch (error) {
      if (this.client !== client) client.release(true);
      throw error;
    }
    if (this.closed) return void client.release(true);
    this.client = client;
    this.reconnectAttempts = 0;
    this.jobListeners.forEach((wake) => wake());
    for (const key of [...this.waiters.keys()]) this.wake(key);
  }

  private lost(client: Client, error: Error): void {
    if (this.client !== client) return; // closed on purpose (a stop), or already replaced
    this.client = undefined;
    client.release(true); // destroyed: a broken LISTEN connection is no use to anyone
    this.log.warn({ err: error }, 'notification connection lost; reconnecting (waiters poll meanwhile)');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = Math.min(10_000, 200 * 2 ** this.reconnectAttempts++);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().then(
        () => this.log.info('notification connection restored'),
        (error: unknown) => {
          this.log.warn({ err: error, retryInMs: Math.min(10_000, 200 * 2 ** this.reconnectAttempts) }, 'notification connection still down; retrying');
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // Destroyed, not returned to the pool: a LISTEN connection with its listeners is no use to anyone else.
    client.release(true);
  }

  onJobs(wake: () => void): () => void {
    this.jobListeners.add(wake);
    return () => this.jobListeners.delete(wake);
  }

  /** Resolves when `key` is notified, after `ms`, or when `signal` aborts, whichever is first. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const set = this.waiters.get(key);
        set?.delete(done);
        if (set?.size === 0) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      set.add(done);
    });
  }

  /** Wakes local waiters on `key` (also used in-process, where no NOTIFY is needed). */
  wake(key: string): void {
    for (const done of [...(this.waiters.get(key) ?? [])]) done();
  }
}
