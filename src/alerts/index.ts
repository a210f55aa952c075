// The alerts domain's surface (see README.md): raise and resolve (store.ts), list and acknowledge, and
// the worker's delivery loop that moves notifications through the queue to the channels.
import type { AlertsConfig } from '../config/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import type { Queue } from '../queue/index.ts';
import { createChannels, type AlertMessage, type Channel, type ChannelName } from './channels.ts';
import { channelHealth, deliverQueued, enqueueNotifications, type ChannelHealth, type DeliveryDeps } from './delivery.ts';
import { acknowledgeAlert, listAlerts, recordAlert, resolveAlert, type Alert, type AlertFilter, type AlertInput } from './store.ts';

export { recordAlert, resolveAlert, openAlerts, subjectOf, type Alert, type AlertLevel, type AlertInput, type AlertFilter } from './store.ts';
export type { ChannelHealth } from './delivery.ts';
export type { ChannelName } from './channels.ts';

export interface AlertsOptions {
  pool: Pool;
  queue: Queue;
  config: AlertsConfig;
  log: Logger;
  clock?: () => Date;
  /** Tests and metrics: told of every delivery attempt. */
  onAttempt?(channel: ChannelName, ok: boolean): void;
  channels?: Channel[];
}

export class Alerts {
  private readonly deps: DeliveryDeps;
  private readonly clock: () => Date;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly options: AlertsOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.deps = {
      pool: options.pool,
      queue: options.queue,
      config: options.config,
      channels: options.channels ?? createChannels(options.config, this.clock),
      onAttempt: options.onAttempt,
    };
  }

  get channels(): ChannelName[] {
    return this.deps.channels.map((c) => c.name);
  }

  raise(alert: AlertInput) {
    return recordAlert(this.options.pool, alert);
  }

  resolve(input: { type: string; subject: string; message: string; now?: Date }) {
    return resolveAlert(this.options.pool, input);
  }

  list(filter: AlertFilter = {}): Promise<Alert[]> {
    return listAlerts(this.options.pool, filter);
  }

  acknowledge(id: string): Promise<Alert | undefined> {
    return acknowledgeAlert(this.options.pool, id);
  }

  channelHealth(): Promise<ChannelHealth[]> {
    return channelHealth(this.options.pool);
  }

  /**
   * Sends a test message to every configured channel at once, bypassing the queue and level routing,
   * so an operator learns now whether each one is reachable (tally smoke --notify).
   */
  async sendTest(now = this.clock()): Promise<{ channel: ChannelName; ok: boolean; ms: number; error?: string }[]> {
    const message: AlertMessage = {
      notificationId: `smoke-${now.getTime()}`,
      kind: 'raised',
      alert: {
        id: 'smoke-test',
        type: 'smoke_test',
        subject: 'platform',
        level: 'info',
        message: 'Tally smoke test: this channel is reachable. No action needed.',
        occurrences: 1,
        createdAt: now.toISOString(),
      },
    };
    return Promise.all(
      this.deps.channels.map(async (channel) => {
        const started = performance.now();
        try {
          await channel.send(message);
          return { channel: channel.name, ok: true, ms: Math.round(performance.now() - started) };
        } catch (error) {
          return { channel: channel.name, ok: false, ms: Math.round(performance.now() - started), error: (error as Error).message };
        }
      }),
    );
  }

  /** One round: reminders and new notifications to the queue, then queued sends out. */
  async flush(now = this.clock()): Promise<{ enqueued: number; attempted: number }> {
    const enqueued = await enqueueNotifications(this.deps, now);
    let attempted = 0;
    for (let n = await deliverQueued(this.deps); n > 0; n = await deliverQueued(this.deps)) attempted += n;
    return { enqueued, attempted };
  }

  /** The worker's loop: a round every `delivery.pollMs` (pg-boss holds retries until they are due). */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.flush()
        .then(() => undefined)
        .catch((error: unknown) => this.options.log.error({ err: error }, 'alert delivery round failed; retrying at the next'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.options.config.delivery.pollMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
