// The ledger's public surface. Every balance change in Tally goes through `execute` (batched, its own
// commit) or `executeIn` (inside a caller's transaction, for writes that must commit with other rows;
// in a `transaction` those are planned optimistically too).
import { createHash } from 'node:crypto';
import { withTransaction, type Client, type Pool, type Queryable } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import { Batcher } from './batcher.ts';
import { LedgerCache } from './cache.ts';
import { ledgerError } from './errors.ts';
import { checkInvariants, type InvariantCheck, type InvariantReport } from './invariants.ts';
import { validateOperation, type BatchPlan, type Outcome } from './plan.ts';
import {
  countOwnersWithBalance,
  lastPostedAmount,
  ownerBalances,
  lockSpendableBalances,
  postedInto,
  postedIntoBySourceKind,
  spendableBalances,
} from './reads.ts';
import { applyOperations, OptimisticConflict, TRANSFER_COLUMNS, transferFromRow, type Locking, type TransferRow } from './store.ts';
import type { Account, AccountId, Action, Balance, HistoryEntry, Operation, OperationResult, Transfer } from './types.ts';

export * from './errors.ts';
export type * from './types.ts';
export type { InvariantCheck, InvariantReport } from './invariants.ts';

export interface OpenAccountInput {
  id: AccountId;
  asset: string;
  kind: string;
  ownerId?: string | null;
  neverNegative?: boolean;
  metadata?: Record<string, unknown>;
}

export type TransferInput = Omit<Extract<Action, { type: 'transfer' }>, 'type' | 'pending' | 'expiresAt'>;

const ACCOUNT_ID = /^[A-Za-z0-9_:.@-]{1,200}$/;

/** An account's balance with what its pending debits hold; pending is derived, never stored. */
const BALANCE_SELECT = `select a.id, a.asset, a.balance,
    coalesce((select sum(amount) from ledger_transfers where debit_account_id = a.id and state = 'pending'), 0)::bigint as pending
  from ledger_accounts a`;

/** A transaction opened by `Ledger.transaction`: how its operations are planned, and the plans to remember once it commits. */
interface OpenTransaction {
  locking: Locking;
  planned: BatchPlan[];
}

export class Ledger {
  private readonly batcher: Batcher;
  private readonly cache = new LedgerCache();
  private readonly open = new WeakMap<Client, OpenTransaction>();

  constructor(
    private readonly pool: Pool,
    options: { batchSize: number; batchConcurrency: number; log?: Logger },
  ) {
    this.batcher = new Batcher(pool, { batchSize: options.batchSize, concurrency: options.batchConcurrency, cache: this.cache, log: options.log });
  }

  get batchStats() {
    return this.batcher.stats;
  }

  /** `transaction`'s steps: planned optimistically, planned under locks (a refusal confirmed, or a rerun), and transactions rerun. */
  readonly transactionStats = { optimisticSteps: 0, lockedSteps: 0, reruns: 0 };

  /** Opens an account, or returns it if one with this id exists with the same asset, kind and flags. */
  async openAccount(input: OpenAccountInput, db: Queryable = this.pool): Promise<Account> {
    if (!ACCOUNT_ID.test(input.id)) throw ledgerError('invalid_operation', 'account id must be 1-200 of A-Z a-z 0-9 _ : . @ -', { field: 'id' });
    if (!input.asset || !input.kind) throw ledgerError('invalid_operation', 'asset and kind are required', { field: input.asset ? 'kind' : 'asset' });
    await db.query(
      `insert into ledger_accounts (id, asset, kind, owner_id, never_negative, metadata) values ($1, $2, $3, $4, $5, $6)
       on conflict (id) do nothing`,
      [input.id, input.asset, input.kind, input.ownerId ?? null, input.neverNegative ?? false, JSON.stringify(input.metadata ?? {})],
    );
    const account = (await this.getAccount(input.id, db))!;
    if (
      account.asset !== input.asset ||
      account.kind !== input.kind ||
      account.neverNegative !== (input.neverNegative ?? false) ||
      account.ownerId !== (input.ownerId ?? null)
    ) {
      throw ledgerError('account_conflict', `account ${input.id} exists with other properties`, { account: input.id });
    }
    return account;
  }

  async getAccount(id: AccountId, db: Queryable = this.pool): Promise<Account | undefined> {
    const { rows } = await db.query('select * from ledger_accounts where id = $1', [id]);
    const row = rows[0];
    return (
      row && {
        id: row.id,
        asset: row.asset,
        kind: row.kind,
        ownerId: row.owner_id,
        neverNegative: row.never_negative,
        balance: row.balance,
        metadata: row.metadata,
        createdAt: row.created_at.toISOString(),
      }
    );
  }

  /** Runs one operation (its actions all or none) in a shared batched commit. */
  async execute(op: Operation): Promise<OperationResult> {
    validateOperation(op);
    return unwrap(await this.batcher.submit(op));
  }

  /**
   * Runs one operation inside the caller's open transaction; it commits or rolls back with it. Locked
   * (keys, holds and accounts locked as they are read), unless the transaction is one of `transaction`'s.
   */
  async executeIn(client: Client, op: Operation): Promise<OperationResult> {
    validateOperation(op);
    const open = this.open.get(client);
    if (!open) return unwrap((await applyOperations(client, [op]))[0]!);
    if (open.locking === 'optimistic') {
      try {
        this.transactionStats.optimisticSteps++;
        return unwrap((await applyOperations(client, [op], 'optimistic', this.cache, open.planned))[0]!);
      } catch (error) {
        // A refusal planned from memory wrote nothing: it is confirmed under locks in the same transaction.
        if (!(error instanceof OptimisticConflict) || error.aborted) throw error;
      }
    }
    this.transactionStats.lockedSteps++;
    return unwrap((await applyOperations(client, [op], 'locked', this.cache, open.planned))[0]!);
  }

  /**
   * Runs `work` in a transaction whose `executeIn` operations are optimistic, as `execute`'s batches
   * are: planned from what this process remembers (no read when it knows every account and hold they
   * touch) and proven by their write statement, whose row locks then last until the commit. If a proof
   * fails, that statement has aborted the transaction: it is rolled back and `work` runs once more, with
   * every operation read under locks. `work` must therefore do nothing but database work on `client`.
   */
  async transaction<T>(work: (client: Client) => Promise<T>): Promise<T> {
    for (const locking of ['optimistic', 'locked'] as const) {
      const open: OpenTransaction = { locking, planned: [] };
      try {
        const result = await withTransaction(this.pool, async (client) => {
          this.open.set(client, open);
          try {
            return await work(client);
          } finally {
            this.open.delete(client);
          }
        });
        for (const plan of open.planned) this.cache.applyCommitted(plan);
        return result;
      } catch (error) {
        if (locking === 'locked' || !(error instanceof OptimisticConflict)) throw error;
        this.transactionStats.reruns++;
      }
    }
    throw new Error('unreachable');
  }

  /** Posted transfers, linked: all move or none does. */
  transfer(input: { key: string; transfers: TransferInput[] }): Promise<OperationResult> {
    return this.execute({ key: input.key, actions: input.transfers.map((t) => ({ type: 'transfer', ...t })) });
  }

  /** Pending transfers: the debit side is reserved now; post or void them later by `key`. */
  placeHold(input: { key: string; transfers: TransferInput[]; expiresAt?: Date }): Promise<OperationResult> {
    return this.execute({ key: input.key, actions: input.transfers.map((t) => ({ type: 'transfer', ...t, pending: true, expiresAt: input.expiresAt })) });
  }

  postHold(input: { hold: string; amounts?: number[]; key?: string }): Promise<OperationResult> {
    return this.execute({ key: input.key ?? derivedKey('post', input.hold), actions: [{ type: 'post', hold: input.hold, amounts: input.amounts }] });
  }

  voidHold(input: { hold: string; key?: string }): Promise<OperationResult> {
    return this.execute({ key: input.key ?? derivedKey('void', input.hold), actions: [{ type: 'void', hold: input.hold }] });
  }

  /** Voids every hold past its expiry (the sweeper). Returns how many holds it expired. */
  async expireHolds(now?: Date, limit = 1000): Promise<number> {
    const { rows } = await this.pool.query<{ request_key: string }>(
      `select request_key from ledger_hold_deadlines where expires_at <= coalesce($1, now()) order by expires_at limit $2`,
      [now ?? null, limit],
    );
    const outcomes = await Promise.all(
      rows.map((row) =>
        this.batcher.submit({
          key: derivedKey('expire', row.request_key),
          actions: [{ type: 'expire', hold: row.request_key, ...(now ? { asOf: now } : {}) }],
        }),
      ),
    );
    return outcomes.filter((o) => o.ok && !o.result.replayed).length;
  }

  /** Holds past their expiry by more than `graceSeconds` that no sweeper voided (for health reports). */
  async overdueHolds(graceSeconds: number, now = new Date()): Promise<{ count: number; oldest: string | null }> {
    const { rows } = await this.pool.query<{ count: number; oldest: Date | null }>(
      `select count(*)::int as count, min(expires_at) as oldest from ledger_hold_deadlines where expires_at < $1::timestamptz - make_interval(secs => $2)`,
      [now, graceSeconds],
    );
    return { count: rows[0]!.count, oldest: rows[0]!.oldest?.toISOString() ?? null };
  }

  /** With `ownerId`, only that owner's account is found: others are "not found", never "forbidden". */
  async balanceOf(accountId: AccountId, options: { ownerId?: string; db?: Queryable } = {}): Promise<Balance> {
    const { rows } = await (options.db ?? this.pool).query<{ id: string; asset: string; balance: number; pending: number }>(
      `${BALANCE_SELECT} where a.id = $1 and ($2::text is null or a.owner_id = $2)`,
      [accountId, options.ownerId ?? null],
    );
    const row = rows[0];
    if (!row) throw ledgerError('account_not_found', `account ${accountId} does not exist`, { account: accountId });
    return { accountId: row.id, asset: row.asset, balance: row.balance, pending: row.pending, posted: row.balance + row.pending };
  }

  /** Newest first. Pass the returned cursor to read the next page. */
  async history(
    accountId: AccountId,
    options: { cursor?: string; limit?: number; ownerId?: string } = {},
  ): Promise<{ entries: HistoryEntry[]; cursor: string | null }> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const owned = await this.pool.query('select 1 from ledger_accounts where id = $1 and ($2::text is null or owner_id = $2)', [
      accountId,
      options.ownerId ?? null,
    ]);
    if (owned.rowCount === 0) throw ledgerError('account_not_found', `account ${accountId} does not exist`, { account: accountId });
    const { rows } = await this.pool.query<TransferRow>(
      `(select ${TRANSFER_COLUMNS} from ledger_transfers where debit_account_id = $1 and ($2::text is null or id < $2) order by id desc limit $3)
       union all
       (select ${TRANSFER_COLUMNS} from ledger_transfers where credit_account_id = $1 and ($2::text is null or id < $2) order by id desc limit $3)
       order by id desc limit $3`,
      [accountId, options.cursor ?? null, limit],
    );
    const entries = rows.map((row) => entryFor(accountId, transferFromRow(row)));
    return { entries, cursor: rows.length === limit ? rows[rows.length - 1]!.id : null };
  }

  /** Spendable balances of many accounts in one read; missing accounts (or another owner's) are absent. */
  balances(ids: AccountId[], options: { ownerId?: string; db?: Queryable } = {}): Promise<Map<AccountId, number>> {
    return spendableBalances(options.db ?? this.pool, ids, options.ownerId);
  }

  /** Balances read under row locks held until `client`'s transaction ends (see reads.ts for why that is safe). */
  lockBalances(client: Client, ids: AccountId[], options: { ownerId?: string } = {}): Promise<Map<AccountId, number>> {
    return lockSpendableBalances(client, ids, options.ownerId);
  }

  /** The newest posted amount from `debit` to `credit` (e.g. a pool's last refill), or null. */
  lastPosted(input: { debit: AccountId; credit: AccountId }): Promise<number | null> {
    return lastPostedAmount(this.pool, input);
  }

  /** Posted inflow of `account` over windows of `windowsDays` days ending at `until`. */
  inflow(input: { account: AccountId; until: Date; windowsDays: number[] }): Promise<number[]> {
    return postedInto(this.pool, input);
  }

  /** Posted inflow of `account` in [from, to), by the kind of the account it came from (posted holds count when posted). */
  inflowBySourceKind(input: { account: AccountId; from: Date; to: Date }): Promise<Map<string, number>> {
    return postedIntoBySourceKind(this.pool, input);
  }

  /** Each owner's balance summed over its accounts of `kinds` (for lists of many users in one read). */
  balancesOfOwners(ownerIds: string[], kinds: string[]): Promise<Map<string, number>> {
    return ownerBalances(this.pool, ownerIds, kinds);
  }

  /** How many owners hold a positive balance in an account of one of `kinds`. */
  ownersWithBalance(kinds: string[]): Promise<number> {
    return countOwnersWithBalance(this.pool, kinds);
  }

  async accountsOwnedBy(ownerId: string): Promise<Balance[]> {
    const { rows } = await this.pool.query<{ id: string; asset: string; balance: number; pending: number }>(
      `${BALANCE_SELECT} where a.owner_id = $1 order by a.id`,
      [ownerId],
    );
    return rows.map((row) => ({ accountId: row.id, asset: row.asset, balance: row.balance, pending: row.pending, posted: row.balance + row.pending }));
  }

  async transfersOf(requestKey: string, db: Queryable = this.pool): Promise<Transfer[]> {
    const { rows } = await db.query<TransferRow>(`select ${TRANSFER_COLUMNS} from ledger_transfers where request_key = $1 order by position`, [requestKey]);
    return rows.map(transferFromRow);
  }

  checkInvariants(extra: InvariantCheck[] = []): Promise<InvariantReport> {
    return checkInvariants(this.pool, extra);
  }

  /** Waits for queued operations to commit (for shutdown). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }
}

/** `post:<hold>`, hashed when that would pass the key length limit. */
function derivedKey(prefix: string, hold: string): string {
  const key = `${prefix}:${hold}`;
  return key.length <= 200 ? key : `${prefix}:sha256:${createHash('sha256').update(hold).digest('base64url')}`;
}

function unwrap(outcome: Outcome): OperationResult {
  if (!outcome.ok) throw outcome.error;
  return outcome.result;
}

function entryFor(accountId: AccountId, transfer: Transfer): HistoryEntry {
  const direction = transfer.debitAccountId === accountId ? 'debit' : 'credit';
  const moved = transfer.state === 'posted' ? transfer.postedAmount! : transfer.state === 'pending' && direction === 'debit' ? transfer.amount : 0;
  return { transfer, direction, effect: direction === 'debit' ? -moved : moved };
}
