// Reads the state a batch touches, under locks, and writes the plan. Runs inside a transaction that the
// caller opened (the batcher's own, or a domain transaction that must commit with other writes).
//
// Lock order, the same for every batch, so concurrent batches cannot deadlock:
//   1. one advisory lock per idempotency key (sorted by hash): same-key operations run one at a time,
//      across processes, and the second sees the first's stored answer;
//   2. the hold transfers that operations post, void or expire (FOR UPDATE);
//   3. the accounts the batch writes, in id order (FOR UPDATE when read `locked`, else in the write
//      statement, just before its balance update). An account a batch only names (the credit side of a
//      new hold, written when the hold is posted) is not locked.
// The balance update then runs under the never-negative CHECK constraint: the database refuses a
// negative flagged balance in the very statement that moves the money, whatever the plan said.
import type { Client } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import type { LedgerCache } from './cache.ts';
import { planBatch, type AccountState, type BatchPlan, type BatchState, type Outcome, type StoredRequest } from './plan.ts';
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

/**
 * How a batch runs. `locked`, inside a transaction: keys, holds and accounts are locked as they are read,
 * so the plan rests on state no one else can change before commit. `optimistic`, outside any
 * transaction: plain reads, then one write statement (its own transaction, committed with it) that
 * proves what the plan assumed: the keys are still new, the holds still pending, and no flagged balance
 * would have gone below zero on the way from the balance it now locks. A hot account (a shared pool) is
 * then held only for that statement and its commit, and a batch costs two round trips. A plan that fails
 * the proof, or that refuses an operation (a refusal may rest on a stale read), raises
 * `OptimisticConflict`: the caller reruns the batch locked.
 */
export type Locking = 'locked' | 'optimistic';

export class OptimisticConflict extends Error {
  override name = 'OptimisticConflict';
  constructor(
    message: string,
    /** The write statement failed, so a transaction around it is aborted (a refusal writes nothing). */
    readonly aborted: boolean,
  ) {
    super(message);
  }
}

interface BatchRead {
  now: string;
  requests: { key: string; fingerprint: string; status: StoredRequest['status']; transfer_ids: string[] | null; error: StoredError | null }[];
  answers: Record<keyof TransferRow, unknown>[];
  holds: Record<keyof TransferRow, unknown>[];
  accounts: { id: string; asset: string; never_negative: boolean; balance: number }[];
}

type StoredError = Extract<StoredRequest['result'], { error: unknown }>['error'];

/**
 * An applied answer as it was first given: transfers the request created are shown as created (a hold
 * later resolved was pending then); transfers it resolved are shown as they are, since a resolved
 * transfer never changes again.
 */
function rebuildAnswer(key: string, ids: string[], rows: Map<string, Transfer>): Transfer[] {
  return ids.map((id) => {
    const transfer = rows.get(id);
    if (!transfer) throw new Error(`ledger: transfer ${id} of request ${key} is missing`);
    if (transfer.requestKey !== key) return transfer;
    const createdPending = transfer.state !== 'posted' || transfer.resolvedBy !== null;
    return createdPending ? { ...transfer, state: 'pending', postedAmount: null, resolvedAt: null, resolvedBy: null } : transfer;
  });
}

/** A transfer row as ledger_read_batch returns it (JSON: timestamps as strings). */
function transferFromJson(row: Record<keyof TransferRow, unknown>): Transfer {
  const time = (value: unknown) => (value === null ? null : new Date(value as string));
  return transferFromRow({
    ...(row as unknown as TransferRow),
    expires_at: time(row.expires_at),
    created_at: time(row.created_at)!,
    resolved_at: time(row.resolved_at),
  });
}

/**
 * Applies operations in order inside the caller's transaction; one outcome per operation. `planned`:
 * the caller commits (an optimistic write in its transaction commits with it), so the plan is handed
 * to it, to be remembered once committed; without it an optimistic write commits by itself.
 */
export async function applyOperations(
  client: Client,
  ops: Operation[],
  locking: Locking = 'locked',
  cache?: LedgerCache,
  planned?: BatchPlan[],
): Promise<Outcome[]> {
  // An optimistic batch whose accounts and holds this process already knows plans without a read.
  const state = (locking === 'optimistic' && cache?.stateFor(ops)) || (await readBatch(client, ops, locking, cache));
  const plan = planBatch(ops, state, () => newId('tr'));
  if (locking === 'optimistic' && plan.newRequests.some((r) => 'error' in r.result)) {
    cache?.forget(ops);
    throw new OptimisticConflict('a refusal must be confirmed under locks', false);
  }
  try {
    await writePlan(client, plan, state.now);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // TL409: the plan's assumptions no longer hold; 23514: a flagged balance would go negative.
    if (locking === 'optimistic' && (code === 'TL409' || code === '23514')) {
      cache?.forget(ops);
      throw new OptimisticConflict((error as Error).message, true);
    }
    throw error;
  }
  // A self-committing optimistic write is done now; anything else is done when the caller commits.
  if (planned) planned.push(plan);
  else if (locking === 'optimistic') cache?.applyCommitted(plan);
  return plan.outcomes;
}

async function readBatch(client: Client, ops: Operation[], locking: Locking, cache?: LedgerCache): Promise<BatchState> {
  const keys = new Set<string>();
  const holdKeys = new Set<string>();
  const accountIds = new Set<string>();
  const written = new Set<string>();
  for (const op of ops) {
    keys.add(op.key);
    for (const action of op.actions) {
      if (action.type === 'transfer') {
        accountIds.add(action.debit);
        accountIds.add(action.credit);
        written.add(action.debit);
        // A new hold's credit side moves only when the hold is posted, in a later batch.
        if (!action.pending) written.add(action.credit);
      } else {
        holdKeys.add(action.hold);
      }
    }
  }
  const unwritten = [...accountIds].filter((id) => !written.has(id));
  const { rows } = await client.query<{ state: BatchRead }>({
    name: 'ledger-read-batch',
    text: 'select ledger_read_batch($1, $2, $3, $4, $5) as state',
    values: [[...keys], [...holdKeys], [...accountIds], locking === 'locked', unwritten],
  });
  const read = rows[0]!.state;
  const answers = new Map(read.answers.map((row) => [row.id as string, transferFromJson(row)]));
  const requests = new Map<string, StoredRequest>(
    read.requests.map((r) => [
      r.key,
      {
        key: r.key,
        fingerprint: r.fingerprint,
        status: r.status,
        result: r.status === 'applied' ? { transfers: rebuildAnswer(r.key, r.transfer_ids!, answers) } : { error: r.error! },
      },
    ]),
  );
  const holds = new Map<string, Transfer[]>();
  for (const row of read.holds) {
    const transfer = transferFromJson(row);
    holds.set(transfer.requestKey, [...(holds.get(transfer.requestKey) ?? []), transfer]);
  }
  const accounts = new Map<string, AccountState>(
    read.accounts.map((a) => [a.id, { id: a.id, asset: a.asset, neverNegative: a.never_negative, balance: a.balance }]),
  );
  cache?.learn(accounts.values(), holds);
  return { now: new Date(read.now), accounts, requests, holds };
}

/**
 * All of a batch's writes in one statement (one round trip): stored answers, new transfers, resolved
 * holds, and each account's net balance change, then the proof of the plan's assumptions (see Locking),
 * which aborts the statement if one fails. The balance update is where the never-negative CHECK
 * constraint bites. It finds rows by `id = any(...)` rather than joining an unnest, which the planner
 * turns into a sequential scan of every account once a batch touches a few dozen of them.
 */
async function writePlan(client: Client, plan: BatchPlan, now: Date): Promise<void> {
  const requests = plan.newRequests;
  const created = plan.newTransfers;
  const resolved = plan.resolvedTransfers;
  // Accounts whose balance dips during the batch are updated (and so locked and checked) even when
  // their net change is zero.
  const deltas = [...plan.balanceDeltas].filter(([id, delta]) => delta !== 0 || plan.lowestDips.get(id)! < 0);
  const dips = deltas.map(([id]) => plan.lowestDips.get(id) ?? 0);
  if (requests.length + created.length + resolved.length + deltas.length === 0) return;
  // Holds still pending at the end of the batch get a deadline row if they expire; holds resolved in
  // it lose theirs.
  const deadlines = new Map(created.filter((t) => t.state === 'pending' && t.expiresAt !== null).map((t) => [t.requestKey, t.expiresAt!]));
  const met = new Set(resolved.filter((t) => t.expiresAt !== null).map((t) => t.requestKey));
  await client.query({
    name: 'ledger-write-plan',
    text: `with stored as (
       insert into ledger_requests (key, fingerprint, status, transfer_ids, error, created_at)
       select key, fingerprint, status, string_to_array(transfer_ids, ','), error, $1 from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
         as r(key, fingerprint, status, transfer_ids, error)
       on conflict (key) do nothing
       returning 1),
     created as (
       insert into ledger_transfers (${TRANSFER_COLUMNS})
       select id, request_key, position, debit_account_id, credit_account_id, asset, amount, state, posted_amount, expires_at, metadata,
              $1, case when resolved_by is not null then $1::timestamptz end, resolved_by
         from unnest($7::text[], $8::text[], $9::smallint[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[],
           $15::bigint[], $16::timestamptz[], $17::jsonb[], $18::text[])
           as t(id, request_key, position, debit_account_id, credit_account_id, asset, amount, state, posted_amount, expires_at, metadata, resolved_by)
       returning 1),
     resolved as (
       update ledger_transfers set state = ($20::text[])[i], posted_amount = ($21::bigint[])[i], resolved_at = $1, resolved_by = ($22::text[])[i]
         from (select array_position($19::text[], id) as i, id as found from ledger_transfers where id = any($19::text[]) and state = 'pending') r
        where id = r.found and state = 'pending' -- rechecked on the latest row version if another batch got there first
          -- a post must find the hold unexpired by the database's clock (a plan may have used a process's)
          and (($20::text[])[i] <> 'posted' or expires_at is null or expires_at > now())
        returning 1),
     deadlines as (
       insert into ledger_hold_deadlines (request_key, expires_at)
       select * from unnest($28::text[], $29::timestamptz[])
       returning 1),
     met as (
       delete from ledger_hold_deadlines where request_key = any($30::text[])
       returning 1),
     -- The accounts are locked in id order first, whatever order the update's plan would visit them in
     -- (a bitmap scan visits them in heap order, which updates keep changing): one order, no deadlock.
     account_locks as (
       select id from ledger_accounts where id = any($23::text[]) order by id for update),
     balances as (
       update ledger_accounts set balance = balance + ($24::bigint[])[array_position($23::text[], id)]
        where id = any($23::text[]) and (select count(*) from account_locks) >= 0
        returning never_negative and balance - ($24::bigint[])[array_position($23::text[], id)] + ($25::bigint[])[array_position($23::text[], id)] < 0 as dipped)
     -- The CTEs run in the order this select reads them: everything else first, the balances last, so
     -- the hot account rows are locked only from their update to the commit.
     select case
       when (select count(*) from stored) <> $26 then ledger_plan_outdated('a key was answered by another batch')
       when (select count(*) from resolved) <> $27 then ledger_plan_outdated('a hold was resolved by another batch')
       when (select count(*) from created) + (select count(*) from deadlines) + (select count(*) from met) < 0 then 0
       when exists (select 1 from balances where dipped) then ledger_plan_outdated('a balance is lower than the plan assumed')
       else 0 end`,
    values: [
      now,
      requests.map((r) => r.key),
      requests.map((r) => r.fingerprint),
      requests.map((r) => r.status),
      requests.map((r) => ('transfers' in r.result ? r.result.transfers.map((t) => t.id).join(',') : null)),
      requests.map((r) => ('error' in r.result ? JSON.stringify(r.result.error) : null)),
      created.map((x) => x.id),
      created.map((x) => x.requestKey),
      created.map((x) => x.position),
      created.map((x) => x.debitAccountId),
      created.map((x) => x.creditAccountId),
      created.map((x) => x.asset),
      created.map((x) => x.amount),
      created.map((x) => x.state),
      created.map((x) => x.postedAmount),
      created.map((x) => x.expiresAt),
      created.map((x) => (x.metadata ? JSON.stringify(x.metadata) : null)),
      created.map((x) => x.resolvedBy), // created_at and resolved_at are the batch's time ($1)
      resolved.map((x) => x.id),
      resolved.map((x) => x.state),
      resolved.map((x) => x.postedAmount),
      resolved.map((x) => x.resolvedBy),
      deltas.map(([id]) => id),
      deltas.map(([, delta]) => delta),
      dips,
      requests.length,
      resolved.length,
      [...deadlines.keys()],
      [...deadlines.values()],
      [...met],
    ],
  });
}
