// Group commit: operations that arrive while a batch is committing wait and go together in the next
// one, so N concurrent callers share one transaction and one fsync instead of paying N. Each caller
// still gets its own outcome (plan.ts decides each operation as if it ran alone, in arrival order).
// TigerBeetle batches client requests the same way.
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import type { Outcome } from './plan.ts';
import type { LedgerCache } from './cache.ts';
import { applyOperations, OptimisticConflict, type Locking } from './store.ts';
import type { Operation } from './types.ts';

interface Waiting {
  op: Operation;
  settle: (outcome: Outcome) => void;
  fail: (error: unknown) => void;
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure
const MAX_ATTEMPTS = 5;

export interface BatcherOptions {
  batchSize: number;
  concurrency: number;
  /** What this process remembers of the ledger (shared with the ledger's transactions). */
  cache: LedgerCache;
  log?: Logger;
}

export class Batcher {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private pumpScheduled = false;
  private idle: (() => void)[] = [];
  /** Operations per committed batch, for the metrics and the benchmark. */
  readonly stats = { batches: 0, operations: 0, retries: 0, lockedReruns: 0 };

  constructor(
    private readonly pool: Pool,
    private readonly options: BatcherOptions,
  ) {}

  submit(op: Operation): Promise<Outcome> {
    return new Promise((settle, fail) => {
      this.queue.push({ op, settle, fail });
      this.schedulePump();
    });
  }

  /** Resolves once every submitted operation has its outcome. */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Starts batches on the next turn of the event loop rather than at once: the callers answered by the
   * batch that just committed (and any others woken in this turn) submit their next operations in
   * microtasks of this turn, and should ride the next batch instead of waiting for the one after.
   */
  private schedulePump() {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batchSize);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedulePump();
        else if (this.inFlight === 0) this.idle.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  private async run(batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await this.commit(batch.map((w) => w.op));
      this.stats.batches++;
      this.stats.operations += batch.length;
      batch.forEach((w, i) => w.settle(outcomes[i]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.fail(error);
      // Something unexpected broke the shared transaction: run each operation on its own so only the
      // operation that causes it fails.
      this.options.log?.warn({ err: error, size: batch.length }, 'ledger batch failed; retrying its operations one by one');
      await Promise.all(batch.map((w) => this.run([w])));
    }
  }

  /**
   * Optimistic first: a read and one self-committing write, no transaction around them. A batch whose
   * optimistic plan the database does not confirm reruns locked, in a transaction.
   */
  private async commit(ops: Operation[]): Promise<Outcome[]> {
    let locking: Locking = 'optimistic';
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        if (locking === 'optimistic') return await applyOperations(client, ops, locking, this.options.cache);
        await client.query('begin');
        const outcomes = await applyOperations(client, ops, locking);
        await client.query('commit');
        return outcomes;
      } catch (error) {
        if (locking === 'locked') await client.query('rollback').catch(() => undefined);
        if (error instanceof OptimisticConflict) {
          locking = 'locked';
          this.stats.lockedReruns++;
          continue;
        }
        const code = (error as { code?: string }).code;
        if (!code || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw error;
        this.stats.retries++;
      } finally {
        client.release();
      }
    }
  }
}
