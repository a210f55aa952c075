// From outbox to channel (see README.md). `enqueue` hands each new notification to the queue once per
// channel whose levels include the alert's, in one transaction with marking it handed over (so a
// crash between the two cannot lose or double it). `deliver` runs queued sends; a failed send is
// failed in pg-boss, which retries it with exponential backoff. Every attempt is a row.
import type { AlertsConfig } from '../config/index.ts';
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import { QUEUES, type Queue } from '../queue/index.ts';
import type { Channel, ChannelName } from './channels.ts';

export interface DeliveryDeps {
  pool: Pool;
  queue: Queue;
  channels: Channel[];
  config: AlertsConfig;
  onAttempt?(channel: ChannelName, ok: boolean): void;
}

interface DeliverJob {
  notificationId: string;
  channel: ChannelName;
}

/**
 * Queues reminders for active, unacknowledged alerts seen again after their cooldown since the last
 * message (one message per cooldown window), then hands every pending notification to the queue.
 */
export async function enqueueNotifications(deps: DeliveryDeps, now: Date): Promise<number> {
  await queueReminders(deps.pool, deps.config, now);
  return withTransaction(deps.pool, async (tx) => {
    const { rows } = await tx.query<{ id: string; level: string }>(
      `select n.id, a.level from alert_notifications n join alerts a on a.id = n.alert_id
        where n.enqueued_at is null order by n.created_at limit 200 for update of n skip locked`,
    );
    const { retryLimit, retryDelaySeconds } = deps.config.delivery;
    for (const row of rows) {
      for (const channel of deps.channels.filter((c) => c.levels.includes(row.level as never))) {
        await deps.queue.sendIn(tx, QUEUES.alert, { notificationId: row.id, channel: channel.name } satisfies DeliverJob, {
          retryLimit,
          retryDelay: retryDelaySeconds,
          retryBackoff: true,
        });
      }
    }
    if (rows.length) await tx.query('update alert_notifications set enqueued_at = now() where id = any($1)', [rows.map((r) => r.id)]);
    return rows.length;
  });
}

async function queueReminders(db: Queryable, config: AlertsConfig, now: Date): Promise<void> {
  const overrides = Object.entries(config.cooldowns);
  await db.query(
    `with due as (
       select a.id from alerts a
        where a.resolved_at is null and a.acknowledged_at is null
          and a.last_seen_at >= coalesce(a.last_notified_at, a.created_at)
                                 + make_interval(mins => coalesce((select m from unnest($2::text[], $3::int[]) o(t, m) where o.t = a.type), $4))
          and not exists (select 1 from alert_notifications n where n.alert_id = a.id and n.enqueued_at is null)
        for update skip locked
     ), marked as (
       update alerts set last_notified_at = $1 where id in (select id from due) returning id
     )
     insert into alert_notifications (id, alert_id, kind, created_at)
     select 'ntf_' || md5(id || $1::text), id, 'reminder', $1 from marked`,
    [now, overrides.map(([t]) => t), overrides.map(([, m]) => m), config.cooldownMinutes],
  );
}

/** Sends up to `batch` queued messages; resolves with how many were attempted. */
export async function deliverQueued(deps: DeliveryDeps, batch = 20): Promise<number> {
  const jobs = await deps.queue.fetch<DeliverJob>(QUEUES.alert, batch);
  await Promise.all(
    jobs.map(async (job) => {
      const error = await sendOne(deps, job.data);
      if (error) await deps.queue.fail(QUEUES.alert, job.id, error);
      else await deps.queue.complete(QUEUES.alert, job.id);
    }),
  );
  return jobs.length;
}

async function sendOne(deps: DeliveryDeps, job: DeliverJob): Promise<Error | undefined> {
  const channel = deps.channels.find((c) => c.name === job.channel);
  // A channel removed from config since: the message is dropped, and that is recorded.
  const { rows } = await deps.pool.query(
    `select n.id, n.kind, a.id as alert_id, a.type, a.subject, a.level, a.message, a.occurrences, a.created_at, a.data->>'recovery' as recovery,
            (select count(*)::int from alert_deliveries d where d.notification_id = n.id and d.channel = $2) as attempts
       from alert_notifications n join alerts a on a.id = n.alert_id where n.id = $1`,
    [job.notificationId, job.channel],
  );
  const row = rows[0];
  if (!row) return undefined;
  let error: Error | undefined;
  if (!channel) error = new Error(`channel ${job.channel} is no longer configured`);
  else {
    try {
      await channel.send({
        notificationId: row.id,
        kind: row.kind,
        alert: {
          id: row.alert_id,
          type: row.type,
          subject: row.subject,
          level: row.level,
          message: row.message,
          occurrences: row.occurrences,
          createdAt: row.created_at.toISOString(),
          recovery: row.recovery ?? undefined,
        },
      });
    } catch (caught) {
      error = caught instanceof Error ? caught : new Error(String(caught));
    }
  }
  await deps.pool.query('insert into alert_deliveries (id, notification_id, channel, attempt, ok, error) values ($1, $2, $3, $4, $5, $6)', [
    newId('dlv'),
    row.id,
    job.channel,
    row.attempts + 1,
    !error,
    error?.message.slice(0, 500) ?? null,
  ]);
  deps.onAttempt?.(job.channel, !error);
  return channel ? error : undefined;
}

export interface ChannelHealth {
  channel: string;
  /** Failed attempts since the last success (0 when the last attempt succeeded). */
  failuresInARow: number;
  lastError: string | null;
  lastAttemptAt: string | null;
}

/** Per channel that was ever tried: how many attempts failed since its last success. */
export async function channelHealth(db: Queryable): Promise<ChannelHealth[]> {
  const { rows } = await db.query(
    `select channel,
            count(*) filter (where not ok and created_at > coalesce((select max(created_at) from alert_deliveries s where s.channel = d.channel and s.ok), '-infinity'))::int as failures,
            (array_agg(error order by created_at desc))[1] as last_error,
            max(created_at) as last_at
       from alert_deliveries d group by channel order by channel`,
  );
  return rows.map((r) => ({
    channel: r.channel,
    failuresInARow: r.failures,
    lastError: r.failures > 0 ? r.last_error : null,
    lastAttemptAt: r.last_at?.toISOString() ?? null,
  }));
}
