import type { Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';

export type AlertLevel = 'info' | 'warning' | 'critical';

export interface Alert {
  id: string;
  type: string;
  level: AlertLevel;
  message: string;
  data: Record<string, unknown>;
  createdAt: string;
  acknowledgedAt: string | null;
}

export async function recordAlert(db: Queryable, alert: { type: string; level: AlertLevel; message: string; data?: Record<string, unknown> }): Promise<void> {
  await db.query('insert into alerts (id, type, level, message, data) values ($1, $2, $3, $4, $5)', [
    newId('alert'),
    alert.type,
    alert.level,
    alert.message,
    JSON.stringify(alert.data ?? {}),
  ]);
}

export async function openAlerts(db: Queryable, limit = 100): Promise<Alert[]> {
  const { rows } = await db.query('select * from alerts where acknowledged_at is null order by created_at desc limit $1', [limit]);
  return rows.map((row) => ({
    id: row.id,
    type: row.type,
    level: row.level,
    message: row.message,
    data: row.data,
    createdAt: row.created_at.toISOString(),
    acknowledgedAt: row.acknowledged_at?.toISOString() ?? null,
  }));
}
