// The worker's loop: fetch generation jobs from the queue as slots free up (users' webhook deliveries
// have their own few slots, so a receiver that hangs can never hold a generation back) (woken by NOTIFY on submit,
// with a polling tick as the fallback), run each to its end, and on a slower clock run the safety net
// (open generations nobody holds: a lost job or a dead processor) and the sweeper (past their deadline:
// failed and refunded), and on a slower one the providers' health check. Any number of workers can run
// this side by side; leases keep them apart.
import type { Logger } from '../log.ts';
import { QUEUES, type Job, type Queue, type QueueName } from '../queue/index.ts';
import type { Notifier } from './notifier.ts';
import type { WebhookJob } from './webhooks.ts';

export interface DispatcherOptions {
  queue: Queue;
  notifier: Notifier;
  log: Logger;
  concurrency: number;
  /** Webhook deliveries at once, apart from the generations' `concurrency`. */
  webhookConcurrency: number;
  /** Runs one generation; resolves when it is ended or handed to someone else. */
  processGeneration(id: string): Promise<unknown>;
  deliverWebhook(job: WebhookJob): Promise<void>;
  /** Safety net and sweeper, run at start and every `maintenanceMs`. */
  maintenance(): Promise<void>;
  /** The providers' health probes, run every `healthCheckMs` (the first one interval after start). */
  healthCheck?(): Promise<void>;
  pollMs?: number;
  maintenanceMs?: number;
  healthCheckMs?: number;
}

export class Dispatcher {
  private running = false;
  private readonly inFlight: Record<'generations' | 'webhooks', number> = { generations: 0, webhooks: 0 };
  private wakeLoop?: () => void;
  private wokenWhileBusy = false;
  private epoch = 0;
  private loopDone?: Promise<void>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly active = new Set<Promise<void>>();
  private unsubscribe?: () => void;

  constructor(private readonly options: DispatcherOptions) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.epoch++;
    await this.options.notifier.listen();
    this.unsubscribe = this.options.notifier.onJobs(() => this.wake());
    this.loopDone = this.loop();
    // Maintenance at once on start (a restarted worker takes up what its predecessor left), then on a clock.
    this.every('generation maintenance', () => this.options.maintenance(), this.options.maintenanceMs ?? 30_000, 0);
    const { healthCheck } = this.options;
    const healthMs = this.options.healthCheckMs ?? 300_000;
    if (healthCheck) this.every('provider health check', healthCheck, healthMs, healthMs);
  }

  /** Runs `task` after `firstDelayMs`, then `intervalMs` after each run ends, until stopped. */
  private every(name: string, task: () => Promise<void>, intervalMs: number, firstDelayMs: number): void {
    const epoch = this.epoch; // a run still going when stopped must not restart the clock
    const tick = (delay: number) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const run: Promise<void> = task()
          .catch((error: unknown) => this.options.log.error({ err: error }, `${name} failed`))
          .finally(() => {
            this.active.delete(run);
            if (this.running && epoch === this.epoch) tick(intervalMs);
          });
        this.active.add(run); // a stop waits for it: it uses the pool the stop is about to close
      }, delay);
      this.timers.add(timer);
    };
    tick(firstDelayMs);
  }

  /** Stops taking work and waits up to `graceMs` for running generations; the rest resume elsewhere once their leases run out. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.unsubscribe?.();
    this.wake();
    await this.loopDone;
    await Promise.race([Promise.allSettled([...this.active]), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  /** Generations and webhooks running now. */
  get busy(): number {
    return this.inFlight.generations + this.inFlight.webhooks;
  }

  private wake(): void {
    if (this.wakeLoop) this.wakeLoop();
    else this.wokenWhileBusy = true; // the loop is fetching: it must look again before sleeping
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const freeHooks = this.options.webhookConcurrency - this.inFlight.webhooks;
        const webhooks = freeHooks > 0 ? await this.options.queue.fetch<WebhookJob>(QUEUES.webhook, freeHooks) : [];
        for (const job of webhooks) this.run('webhooks', job, () => this.options.deliverWebhook(job.data));
        const free = this.options.concurrency - this.inFlight.generations;
        const generations = free > 0 ? await this.options.queue.fetch<{ generationId: string }>(QUEUES.generation, free) : [];
        for (const job of generations) this.run('generations', job, () => this.options.processGeneration(job.data.generationId));
        // A full batch on either side may mean more is waiting: look again at once.
        if ((freeHooks > 0 && webhooks.length === freeHooks) || (free > 0 && generations.length === free)) continue;
      } catch (error) {
        this.options.log.error({ err: error }, 'fetching jobs failed; retrying');
      }
      if (!this.running) break;
      if (this.wokenWhileBusy) {
        this.wokenWhileBusy = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.options.pollMs ?? 2_000);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wakeLoop = done;
      });
      this.wakeLoop = undefined;
    }
  }

  private run(kind: 'generations' | 'webhooks', job: Job<unknown>, work: () => Promise<unknown>): void {
    this.inFlight[kind] += 1;
    const name: QueueName = job.name;
    const task = work()
      .then(
        () => this.options.queue.complete(name, job.id),
        (error: unknown) => {
          this.options.log.error({ err: error, job: job.id, queue: name }, 'job failed; the queue will retry it');
          return this.options.queue.fail(name, job.id, error instanceof Error ? error : new Error(String(error)));
        },
      )
      .catch((error: unknown) => this.options.log.warn({ err: error, job: job.id }, 'could not record the job outcome'))
      .finally(() => {
        this.inFlight[kind] -= 1;
        this.active.delete(task);
        this.wake();
      });
    this.active.add(task);
  }
}
