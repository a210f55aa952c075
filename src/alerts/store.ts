// Alerts as rows (see README.md): one active row per (type, subject). A repeat of an active condition
// counts on its row; a new condition inserts a row and a `raised` notification in the same statement's
// transaction, so an alert is never stored without its message (the outbox), nor sent twice.
import type { Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';

export type AlertLevel = 'info' | 'warning' | 'critical';

export interface Alert {
  id: string;
  type: string;
  subject: string;
  level: AlertLevel;
  message: string;
  data: Record<string, unknown>;
  occurrences: number;
  createdAt: string;
  lastSeenAt: string;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
}

export interface AlertInput {
  type: string;
  level: AlertLevel;
  message: string;
  data?: Record<string, unknown>;
  /** What the condition is about (a pool, a provider); defaults to data.provider, else 'platform'. */
  subject?: string;
  /** The clock of the caller (scheduled jobs run on an injectable one). */
  now?: Date;
}

/** The cooldown key's second half, when a caller does not name it. */
export function subjectOf(alert: Pick<AlertInput, 'subject' | 'data'>): string {
  if (alert.subject) return alert.subject;
  const named = alert.data?.provider ?? alert.data?.pool;
  return typeof named === 'string' && named ? named : 'platform';
}

/**
 * Raises an alert, or counts a repeat on the active one of the same type and subject. Returns the
 * alert's id and whether it is new (only a new alert is sent at once; see reminders in delivery.ts).
 * Safe under concurrency: the unique index on active (type, subject) makes racing raisers meet on one row.
 */
export async function recordAlert(db: Queryable, alert: AlertInput): Promise<{ id: string; created: boolean }> {
  const { rows } = await db.query<{ id: string; created: boolean }>(
    `with upserted as (
       insert into alerts (id, type, subject, level, message, data, created_at, last_seen_at)
       values ($1, $2, $3, $4, $5, $6, coalesce($7::timestamptz, now()), coalesce($7::timestamptz, now()))
       on conflict (type, subject) where resolved_at is null do update
          set occurrences = alerts.occurrences + 1,
              last_seen_at = greatest(alerts.last_seen_at, excluded.last_seen_at),
              level = excluded.level, message = excluded.message, data = excluded.data
       returning id, (xmax = 0) as created
     ), outbox as (
       insert into alert_notifications (id, alert_id, kind, created_at)
       select $8, id, 'raised', coalesce($7::timestamptz, now()) from upserted where created
     )
     select id, created from upserted`,
    [newId('alert'), alert.type, subjectOf(alert), alert.level, alert.message, JSON.stringify(alert.data ?? {}), alert.now ?? null, newId('ntf')],
  );
  return rows[0]!;
}

/** The condition cleared: the active alert (if any) is resolved and a `recovered` message queued. */
export async function resolveAlert(db: Queryable, input: { type: string; subject: string; message: string; now?: Date }): Promise<boolean> {
  const { rows } = await db.query(
    `with resolved as (
       update alerts set resolved_at = coalesce($3::timestamptz, now()), data = data || jsonb_build_object('recovery', $4::text)
        where type = $1 and subject = $2 and resolved_at is null returning id
     )
     insert into alert_notifications (id, alert_id, kind, created_at)
     select $5, id, 'recovered', coalesce($3::timestamptz, now()) from resolved returning alert_id`,
    [input.type, input.subject, input.now ?? null, input.message, newId('ntf')],
  );
  return rows.length > 0;
}

export interface AlertFilter {
  /** true: neither acknowledged nor resolved; false: acknowledged or resolved. */
  open?: boolean;
  level?: AlertLevel;
  type?: string;
  limit?: number;
}

export async function listAlerts(db: Queryable, filter: AlertFilter = {}): Promise<Alert[]> {
  const { rows } = await db.query(
    `select * from alerts
      where ($1::boolean is null or ((acknowledged_at is null and resolved_at is null) = $1))
        and ($2::text is null or level = $2) and ($3::text is null or type = $3)
      order by last_seen_at desc, id desc limit $4`,
    [filter.open ?? null, filter.level ?? null, filter.type ?? null, filter.limit ?? 100],
  );
  return rows.map(fromRow);
}

/** Open alerts, newest first: what the original dashboard lists. */
export function openAlerts(db: Queryable, limit = 100): Promise<Alert[]> {
  return listAlerts(db, { open: true, limit });
}

/** Marks an alert seen by an operator (no more reminders); undefined when there is no such alert. */
export async function acknowledgeAlert(db: Queryable, id: string): Promise<Alert | undefined> {
  const { rows } = await db.query(`update alerts set acknowledged_at = coalesce(acknowledged_at, now()) where id = $1 returning *`, [id]);
  return rows[0] && fromRow(rows[0]);
}

function fromRow(row: Record<string, any>): Alert {
  return {
    id: row.id,
    type: row.type,
    subject: row.subject,
    level: row.level,
    message: row.message,
    data: row.data,
    occurrences: row.occurrences,
    createdAt: row.created_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    acknowledgedAt: row.acknowledged_at?.toISOString() ?? null,
    resolvedAt: row.resolved_at?.toISOString() ?? null,
  };
}
