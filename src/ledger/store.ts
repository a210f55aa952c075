// Reads the state a batch touches, under locks, and writes the plan. Runs inside a transaction that the
// caller opened (the batcher's own, or a domain transaction that must commit with other writes).
//
// Lock order, the same for every batch, so concurrent batches cannot deadlock:
//   1. one advisory lock per idempotency key (sorted by hash): same-key operations run one at a time,
//      across processes, and the second sees the first's stored answer;
//   2. the hold transfers that operations post, void or expire (FOR UPDATE);
//   3. the accounts, sorted by id (FOR UPDATE).
// The balance update then runs under the never-negative CHECK constraint: the database refuses a
// negative flagged balance in the very statement that moves the money, whatever the plan said.
import type { Client } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import { planBatch, type AccountState, type Outcome, type StoredRequest } from './plan.ts';
import type { Operation, Transfer } from './types.ts';

export const TRANSFER_COLUMNS = `id, request_key, position, debit_account_id, credit_account_id, asset, amount, state, posted_amount,
  expires_at, metadata, created_at, resolved_at, resolved_by`;

export interface TransferRow {
  id: string;
  request_key: string;
  position: number;
  debit_account_id: string;
  credit_account_id: string;
  asset: string;
  amount: number;
  state: Transfer['state'];
  posted_amount: number | null;
  expires_at: Date | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
}

export function transferFromRow(row: TransferRow): Transfer {
  return {
    id: row.id,
    requestKey: row.request_key,
    position: row.position,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    asset: row.asset,
    amount: row.amount,
    state: row.state,
    postedAmount: row.posted_amount,
    expiresAt: row.expires_at?.toISOString() ?? null,
    metadata: row.metadata,
    createdAt: row.created_at.toISOString(),
    resolvedAt: row.resolved_at?.toISOString() ?? null,
    resolvedBy: row.resolved_by,
  };
}

/** Applies operations in order inside the caller's transaction; one outcome per operation. */
export async function applyOperations(client: Client, ops: Operation[]): Promise<Outcome[]> {
  const keys = [...new Set(ops.map((op) => op.key))];
  await client.query(
    `select pg_advisory_xact_lock(h) from (select distinct hashtextextended(k, 0) as h from unnest($1::text[]) as k order by h) locks`,
    [keys],
  );

  const stored = await client.query<{ key: string; fingerprint: string; status: StoredRequest['status']; result: StoredRequest['result'] }>(
    'select key, fingerprint, status, result from ledger_requests where key = any($1)',
    [keys],
  );
  const requests = new Map(stored.rows.map((row) => [row.key, row]));

  const holdKeys = new Set<string>();
  const accountIds = new Set<string>();
  for (const op of ops) {
    if (requests.has(op.key)) continue;
    for (const action of op.actions) {
      if (action.type === 'transfer') {
        accountIds.add(action.debit);
        accountIds.add(action.credit);
      } else {
        holdKeys.add(action.hold);
      }
    }
  }

  const holds = new Map<string, Transfer[]>();
  if (holdKeys.size > 0) {
    // A hold is every transfer its operation created as pending: still pending, or resolved by a later key.
    const rows = await client.query<TransferRow>(
      `select ${TRANSFER_COLUMNS} from ledger_transfers
        where request_key = any($1) and (state <> 'posted' or resolved_by is not null)
        order by request_key, position for update`,
      [[...holdKeys]],
    );
    for (const row of rows.rows) {
      const transfer = transferFromRow(row);
      holds.set(transfer.requestKey, [...(holds.get(transfer.requestKey) ?? []), transfer]);
      accountIds.add(transfer.debitAccountId);
      accountIds.add(transfer.creditAccountId);
    }
  }

  const locked = await client.query<{ id: string; asset: string; never_negative: boolean; balance: number; now: Date }>(
    `select id, asset, never_negative, balance, now() as now from ledger_accounts where id = any($1) order by id for update`,
    [[...accountIds]],
  );
  const now = locked.rows[0]?.now ?? (await client.query<{ now: Date }>('select now() as now')).rows[0]!.now;
  const accounts = new Map<string, AccountState>(locked.rows.map((row) => [row.id, { id: row.id, asset: row.asset, neverNegative: row.never_negative, balance: row.balance }]));

  const plan = planBatch(ops, { now, accounts, requests, holds }, () => newId('tr'));

  if (plan.newRequests.length > 0) {
    await client.query(
      `insert into ledger_requests (key, fingerprint, status, error_code, result, created_at)
       select key, fingerprint, status, error_code, result, $6 from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
         as r(key, fingerprint, status, error_code, result)`,
      [
        plan.newRequests.map((r) => r.key),
        plan.newRequests.map((r) => r.fingerprint),
        plan.newRequests.map((r) => r.status),
        plan.newRequests.map((r) => ('error' in r.result ? r.result.error.code : null)),
        plan.newRequests.map((r) => JSON.stringify(r.result)),
        now,
      ],
    );
  }
  if (plan.newTransfers.length > 0) {
    const t = plan.newTransfers;
    await client.query(
      `insert into ledger_transfers (${TRANSFER_COLUMNS})
       select * from unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[],
         $9::bigint[], $10::timestamptz[], $11::jsonb[], $12::timestamptz[], $13::timestamptz[], $14::text[])`,
      [
        t.map((x) => x.id), t.map((x) => x.requestKey), t.map((x) => x.position), t.map((x) => x.debitAccountId),
        t.map((x) => x.creditAccountId), t.map((x) => x.asset), t.map((x) => x.amount), t.map((x) => x.state),
        t.map((x) => x.postedAmount), t.map((x) => x.expiresAt), t.map((x) => (x.metadata ? JSON.stringify(x.metadata) : null)),
        t.map((x) => x.createdAt), t.map((x) => x.resolvedAt), t.map((x) => x.resolvedBy),
      ],
    );
  }
  if (plan.resolvedTransfers.length > 0) {
    const t = plan.resolvedTransfers;
    await client.query(
      `update ledger_transfers as t set state = r.state, posted_amount = r.posted_amount, resolved_at = r.resolved_at, resolved_by = r.resolved_by
         from unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::text[]) as r(id, state, posted_amount, resolved_at, resolved_by)
        where t.id = r.id and t.state = 'pending'`,
      [t.map((x) => x.id), t.map((x) => x.state), t.map((x) => x.postedAmount), t.map((x) => x.resolvedAt), t.map((x) => x.resolvedBy)],
    );
  }
  const deltas = [...plan.balanceDeltas].filter(([, delta]) => delta !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (deltas.length > 0) {
    await client.query(
      `update ledger_accounts as a set balance = a.balance + d.delta
         from unnest($1::text[], $2::bigint[]) as d(id, delta) where a.id = d.id`,
      [deltas.map(([id]) => id), deltas.map(([, delta]) => delta)],
    );
  }
  return plan.outcomes;
}
