// User notifications (README.md): upgrade suggestions (written by the upgrade-suggestions job) and
// credits-low notices (written after a charge leaves a user at 1 credit or less). At most one of a kind
// per user per period, by the table's unique (user_id, kind, period): a rerun or a race writes nothing more.
import type { Pool, Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';

export interface UserNotification {
  id: string;
  kind: string;
  period: string;
  data: Record<string, unknown>;
  createdAt: string;
  dismissedAt: string | null;
}

/** A charge that leaves `remaining` credits or fewer raises a credits-low notice (one a day). */
export const CREDITS_LOW_AT = 1;

type Row = { id: string; kind: string; period: string; data: Record<string, unknown>; created_at: Date; dismissed_at: Date | null };
const present = (r: Row): UserNotification => ({
  id: r.id,
  kind: r.kind,
  period: r.period,
  data: r.data,
  createdAt: r.created_at.toISOString(),
  dismissedAt: r.dismissed_at?.toISOString() ?? null,
});

/** The user's notices, newest first; dismissed ones only when asked. */
export async function listNotifications(
  db: Queryable,
  userId: string,
  options: { includeDismissed?: boolean; limit?: number } = {},
): Promise<UserNotification[]> {
  const { rows } = await db.query<Row>(
    `select id, kind, period, data, created_at, dismissed_at from user_notifications
      where user_id = $1 and ($2 or dismissed_at is null) order by created_at desc, id desc limit $3`,
    [userId, options.includeDismissed ?? false, options.limit ?? 50],
  );
  return rows.map(present);
}

/** Dismisses the user's notice (again: unchanged); null when the user has no such notice. */
export async function dismissNotification(db: Queryable, userId: string, id: string): Promise<UserNotification | null> {
  const { rows } = await db.query<Row>(
    `update user_notifications set dismissed_at = coalesce(dismissed_at, now()) where id = $1 and user_id = $2
     returning id, kind, period, data, created_at, dismissed_at`,
    [id, userId],
  );
  return rows[0] ? present(rows[0]) : null;
}

/** After a charge: at `remaining` ≤ CREDITS_LOW_AT, one credits-low notice for the user's UTC day. Returns whether one was written. */
export async function noteCreditsLow(db: Pool, input: { userId: string; remaining: number; now?: Date }): Promise<boolean> {
  if (input.remaining < 0 || input.remaining > CREDITS_LOW_AT) return false;
  const period = (input.now ?? new Date()).toISOString().slice(0, 10);
  const inserted = await db.query(
    `insert into user_notifications (id, user_id, kind, period, data) values ($1, $2, 'credits_low', $3, $4) on conflict (user_id, kind, period) do nothing`,
    [newId('unt'), input.userId, period, JSON.stringify({ remaining: input.remaining })],
  );
  return (inserted.rowCount ?? 0) > 0;
}

/** The service the HTTP routes call. */
export class Notifications {
  constructor(private readonly pool: Pool) {}

  list(userId: string, options: { includeDismissed?: boolean; limit?: number } = {}): Promise<UserNotification[]> {
    return listNotifications(this.pool, userId, options);
  }

  dismiss(userId: string, id: string): Promise<UserNotification | null> {
    return dismissNotification(this.pool, userId, id);
  }
}
