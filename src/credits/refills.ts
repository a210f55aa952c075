// Auto-refill (docs/rules.md §3): a pool under its threshold opens a refill request and alerts the operator,
// who approves it once the provider credits are bought (no provider here has a purchase API).
import type { Pool } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import { poolAccount } from './accounts.ts';
import { recordAlert } from './alerts.ts';
import { RefillDecisionError } from './errors.ts';
import { resolveAlert } from '../alerts/store.ts';

export interface RefillRequest {
  id: string;
  provider: string;
  amount: number;
  status: 'open' | 'approved' | 'rejected';
  reason: string;
  createdAt: string;
  decidedAt: string | null;
  decidedNote: string | null;
}

const fromRow = (row: Record<string, any>): RefillRequest => ({
  id: row.id,
  provider: row.provider,
  amount: row.amount,
  status: row.status,
  reason: row.reason,
  createdAt: row.created_at.toISOString(),
  decidedAt: row.decided_at?.toISOString() ?? null,
  decidedNote: row.decided_note,
});

/** Opens a request, or returns the pool's open one (one open request per pool). */
export async function openRefillRequest(pool: Pool, input: { provider: string; amount: number; reason: string }): Promise<RefillRequest> {
  const inserted = await pool.query(
    `insert into refill_requests (id, provider, amount, status, reason) values ($1, $2, $3, 'open', $4)
     on conflict (provider) where status = 'open' do nothing returning *`,
    [newId('rfr'), input.provider, input.amount, input.reason],
  );
  if (inserted.rows[0]) {
    await recordAlert(pool, {
      type: 'refill_requested',
      level: 'warning',
      message: `Refill of ${input.amount} ${input.provider} units requested: ${input.reason}`,
      data: { requestId: inserted.rows[0].id, ...input },
    });
    return fromRow(inserted.rows[0]);
  }
  return fromRow((await pool.query(`select * from refill_requests where provider = $1 and status = 'open'`, [input.provider])).rows[0]);
}

export async function listRefillRequests(pool: Pool, status?: RefillRequest['status']): Promise<RefillRequest[]> {
  const { rows } = await pool.query(`select * from refill_requests where $1::text is null or status = $1 order by created_at desc limit 200`, [status ?? null]);
  return rows.map(fromRow);
}

/** Marks an open request decided; returns it, or undefined when it is not open (unknown or decided). */
export async function decideRefillRequest(
  pool: Pool,
  input: { id: string; status: 'approved' | 'rejected'; note?: string },
): Promise<RefillRequest | undefined> {
  const { rows } = await pool.query(
    `update refill_requests set status = $2, decided_at = now(), decided_note = $3 where id = $1 and status = 'open' returning *`,
    [input.id, input.status, input.note ?? null],
  );
  return rows[0] && fromRow(rows[0]);
}

export async function findRefillRequest(pool: Pool, id: string): Promise<RefillRequest | undefined> {
  const { rows } = await pool.query('select * from refill_requests where id = $1', [id]);
  return rows[0] && fromRow(rows[0]);
}

/** The amount of the pool's last refill (external -> available), the base of its default threshold. */
export async function lastRefillAmount(pool: Pool, provider: string): Promise<number | undefined> {
  const { rows } = await pool.query<{ amount: number }>(
    `select amount from ledger_transfers where debit_account_id = $1 and credit_account_id = $2 and state = 'posted' order by id desc limit 1`,
    [poolAccount(provider, 'external'), poolAccount(provider, 'available')],
  );
  return rows[0]?.amount;
}

export async function checkRefillThresholds(deps: {
  pool: Pool;
  providers: string[];
  poolState: (provider: string) => Promise<{ available: number }>;
}): Promise<RefillRequest[]> {
  const opened: RefillRequest[] = [];
  for (const provider of deps.providers) {
    const last = await lastRefillAmount(deps.pool, provider);
    if (!last) continue;
    const { available } = await deps.poolState(provider);
    if (available * 5 < last) {
      opened.push(
        await openRefillRequest(deps.pool, { provider, amount: last, reason: `${available} units available, under 20% of the last refill (${last})` }),
      );
    }
  }
  return opened;
}

export async function decideRefill(
  deps: { pool: Pool; refill: (input: { provider: string; amount: number; reason: string; key: string }) => Promise<unknown> },
  input: { id: string; approve: boolean; note?: string },
): Promise<RefillRequest> {
  const request = await findRefillRequest(deps.pool, input.id);
  if (!request) throw new RefillDecisionError('not_found', `no refill request ${input.id}`);
  if (request.status !== 'open') throw new RefillDecisionError('not_open', `refill request ${input.id} is already ${request.status}`);
  if (input.approve) await deps.refill({ provider: request.provider, amount: request.amount, reason: `refill request ${request.id}`, key: request.id });
  const decided = await decideRefillRequest(deps.pool, { id: input.id, status: input.approve ? 'approved' : 'rejected', note: input.note });
  if (!decided) throw new RefillDecisionError('not_open', `refill request ${input.id} was decided by someone else just now`);
  // The request's alert is answered either way; the outcome is its own (per request) message.
  await resolveAlert(deps.pool, {
    type: 'refill_requested',
    subject: request.provider,
    message: `refill request ${request.id} was ${input.approve ? 'approved' : 'rejected'}`,
  });
  if (input.approve)
    await recordAlert(deps.pool, {
      type: 'refill_done',
      level: 'info',
      subject: request.id,
      message: `Refill of ${request.amount} ${request.provider} units booked`,
      data: { requestId: request.id, provider: request.provider },
    });
  else
    await recordAlert(deps.pool, {
      type: 'refill_failed',
      level: 'warning',
      subject: request.id,
      message: `Refill request of ${request.amount} ${request.provider} units rejected${input.note ? `: ${input.note}` : ''}`,
      data: { requestId: request.id, provider: request.provider },
    });
  return decided;
}
