// Pauses and their audit as rows (README.md). A pause and its audit row, or a resume and its audit
// row, commit together; the alert is raised in the same transaction, so none exists without the others.
import { recordAlert, resolveAlert } from '../alerts/index.ts';
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import type { ActivePause, PauseScope } from './decide.ts';

export interface PauseView {
  id: string;
  scope: PauseScope;
  provider: string | null;
  message: string;
  reason: string;
  createdBy: string;
  createdAt: string;
  active: boolean;
  resumedBy: string | null;
  resumedAt: string | null;
  resumeReason: string | null;
}

interface PauseRow {
  id: string;
  scope: PauseScope;
  provider: string | null;
  message: string;
  reason: string;
  created_by: string;
  created_at: Date;
  resumed_by: string | null;
  resumed_at: Date | null;
  resume_reason: string | null;
}

const COLUMNS = 'id, scope, provider, message, reason, created_by, created_at, resumed_by, resumed_at, resume_reason';

export async function insertPause(
  pool: Pool,
  input: { scope: PauseScope; provider: string | null; message: string; reason: string; actor: string },
): Promise<PauseView> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<PauseRow>(
      `insert into control_pauses (id, scope, provider, message, reason, created_by) values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`,
      [newId('pause'), input.scope, input.provider, input.message, input.reason, input.actor],
    );
    const pause = rows[0]!;
    await audit(client, {
      action: 'pause',
      subject: pause.id,
      actor: input.actor,
      reason: input.reason,
      data: { scope: input.scope, provider: input.provider },
    });
    const what = `${input.scope}${input.provider ? ` through ${input.provider}` : ' platform-wide'}`;
    await recordAlert(client, {
      type: 'pause',
      level: 'critical',
      subject: pause.id,
      message: `Paused ${what} by ${input.actor}: ${input.reason}`,
      data: { pauseId: pause.id, scope: input.scope, provider: input.provider, actor: input.actor, reason: input.reason },
    });
    return present(pause);
  });
}

/** Ends an active pause; `undefined` when there is no such pause, the row unchanged when it was already resumed. */
export async function endPause(
  pool: Pool,
  input: { id: string; actor: string; reason: string | null },
): Promise<{ pause: PauseView; resumed: boolean } | undefined> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<PauseRow>(
      `update control_pauses set resumed_at = now(), resumed_by = $2, resume_reason = $3 where id = $1 and resumed_at is null returning ${COLUMNS}`,
      [input.id, input.actor, input.reason],
    );
    if (rows.length === 0) {
      const existing = await client.query<PauseRow>(`select ${COLUMNS} from control_pauses where id = $1`, [input.id]);
      return existing.rows[0] ? { pause: present(existing.rows[0]), resumed: false } : undefined;
    }
    const pause = rows[0]!;
    await audit(client, {
      action: 'resume',
      subject: pause.id,
      actor: input.actor,
      reason: input.reason,
      data: { scope: pause.scope, provider: pause.provider },
    });
    await resolveAlert(client, { type: 'pause', subject: pause.id, message: `Resumed by ${input.actor}${input.reason ? `: ${input.reason}` : ''}` });
    return { pause: present(pause), resumed: true };
  });
}

/** Active pauses, oldest first (the oldest one's message is the one users see). */
export async function activePauses(db: Queryable): Promise<ActivePause[]> {
  const { rows } = await db.query<ActivePause>('select id, scope, provider, message from control_pauses where resumed_at is null order by created_at, id');
  return rows;
}

/** Active pauses and the most recent ended ones. */
export async function listPauses(db: Queryable, recent: number): Promise<{ active: PauseView[]; recent: PauseView[] }> {
  const [active, ended] = await Promise.all([
    db.query<PauseRow>(`select ${COLUMNS} from control_pauses where resumed_at is null order by created_at, id`),
    db.query<PauseRow>(`select ${COLUMNS} from control_pauses where resumed_at is not null order by resumed_at desc, id limit $1`, [recent]),
  ]);
  return { active: active.rows.map(present), recent: ended.rows.map(present) };
}

async function audit(
  db: Queryable,
  entry: { action: string; subject: string; actor: string; reason: string | null; data: Record<string, unknown> },
): Promise<void> {
  await db.query('insert into control_audit (id, action, subject, actor, reason, data) values ($1, $2, $3, $4, $5, $6)', [
    newId('aud'),
    entry.action,
    entry.subject,
    entry.actor,
    entry.reason,
    JSON.stringify(entry.data),
  ]);
}

function present(row: PauseRow): PauseView {
  return {
    id: row.id,
    scope: row.scope,
    provider: row.provider,
    message: row.message,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    active: row.resumed_at === null,
    resumedBy: row.resumed_by,
    resumedAt: row.resumed_at?.toISOString() ?? null,
    resumeReason: row.resume_reason,
  };
}
