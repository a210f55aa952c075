// The pure heart of the ledger: given a batch of operations and the locked state they touch, decide
// each operation's outcome and the writes that follow. No I/O here, so it is property-tested without a
// database; store.ts reads the state (under row locks) and writes the plan (under CHECK constraints).
import { createHash } from 'node:crypto';
import { ledgerError, LedgerError } from './errors.ts';
import type { Action, Operation, OperationResult, Transfer } from './types.ts';

export interface AccountState {
  id: string;
  asset: string;
  neverNegative: boolean;
  balance: number;
}

export type StoredResult = { transfers: Transfer[] } | { error: { code: LedgerError['code']; message: string; detail: Record<string, unknown> } };

export interface StoredRequest {
  key: string;
  fingerprint: string;
  status: 'applied' | 'rejected';
  result: StoredResult;
}

export interface BatchState {
  now: Date;
  accounts: ReadonlyMap<string, AccountState>;
  requests: ReadonlyMap<string, StoredRequest>;
  /** Transfers created as holds, by the key of the operation that created them. */
  holds: ReadonlyMap<string, Transfer[]>;
}

export type Outcome = { ok: true; result: OperationResult } | { ok: false; error: LedgerError };

export interface BatchPlan {
  outcomes: Outcome[];
  newRequests: StoredRequest[];
  /** Transfers created by this batch, in their final state. */
  newTransfers: Transfer[];
  /** Transfers that existed before this batch and changed state in it. */
  resolvedTransfers: Transfer[];
  /** Net change of each account's balance. */
  balanceDeltas: Map<string, number>;
  /**
   * Lowest point each account's balance reaches during the batch, relative to where it started (≤ 0).
   * The plan is valid for any starting balance at or above -lowestDip: what an optimistic batch must
   * confirm against the balance it finally locks.
   */
  lowestDips: Map<string, number>;
}

export const MAX_AMOUNT = 2 ** 50; // far above any real balance, far below 2^53
const MAX_ACTIONS = 100;
const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** Shape checks that need no state. Throws; nothing is stored for a malformed operation. */
export function validateOperation(op: Operation): void {
  if (typeof op?.key !== 'string' || !KEY_PATTERN.test(op.key)) {
    throw ledgerError('invalid_operation', 'key must be 1-200 printable ASCII characters without spaces', { field: 'key' });
  }
  if (!Array.isArray(op.actions) || op.actions.length === 0 || op.actions.length > MAX_ACTIONS) {
    throw ledgerError('invalid_operation', `an operation needs 1-${MAX_ACTIONS} actions`, { field: 'actions' });
  }
  op.actions.forEach((action, index) => validateAction(action, `actions[${index}]`, op.key));
  // One hold, one deadline: the sweeper expires a hold as a whole.
  const expiries = new Set(
    op.actions.flatMap((a) => (a.type === 'transfer' && a.pending ? [a.expiresAt === undefined ? null : new Date(a.expiresAt).getTime()] : [])),
  );
  if (expiries.size > 1) throw ledgerError('invalid_operation', 'the pending transfers of one operation must share one expiresAt', { field: 'actions' });
}

function validateAction(action: Action, field: string, opKey: string): void {
  switch (action?.type) {
    case 'transfer': {
      for (const side of ['debit', 'credit'] as const) {
        if (typeof action[side] !== 'string' || action[side].length === 0)
          throw ledgerError('invalid_operation', `${side} account id is required`, { field: `${field}.${side}` });
      }
      assertAmount(action.amount, `${field}.amount`);
      if (action.expiresAt !== undefined) {
        if (!action.pending) throw ledgerError('invalid_operation', 'only a pending transfer can expire', { field: `${field}.expiresAt` });
        if (Number.isNaN(new Date(action.expiresAt).getTime()))
          throw ledgerError('invalid_operation', 'expiresAt is not a valid time', { field: `${field}.expiresAt` });
      }
      if (action.metadata !== undefined && (typeof action.metadata !== 'object' || action.metadata === null || Array.isArray(action.metadata))) {
        throw ledgerError('invalid_operation', 'metadata must be an object', { field: `${field}.metadata` });
      }
      return;
    }
    case 'post':
      if (action.amounts !== undefined) {
        if (!Array.isArray(action.amounts)) throw ledgerError('invalid_amount', 'amounts must be an array', { field: `${field}.amounts` });
        action.amounts.forEach((amount, i) => assertAmount(amount, `${field}.amounts[${i}]`));
      }
    // falls through: post, void and expire all name a hold
    case 'void':
    case 'expire':
      if (action.hold === opKey)
        throw ledgerError('invalid_operation', 'an operation cannot resolve the hold it places; post or void it in a later operation', {
          field: `${field}.hold`,
        });
      if (action.type === 'expire' && action.asOf !== undefined && Number.isNaN(new Date(action.asOf).getTime())) {
        throw ledgerError('invalid_operation', 'asOf is not a valid time', { field: `${field}.asOf` });
      }
      if (typeof action.hold !== 'string' || action.hold.length === 0)
        throw ledgerError('invalid_operation', 'hold key is required', { field: `${field}.hold` });
      return;
    default:
      throw ledgerError('invalid_operation', 'action type must be transfer, post, void or expire', { field: `${field}.type` });
  }
}

function assertAmount(amount: unknown, field: string): asserts amount is number {
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_AMOUNT) {
    throw ledgerError('invalid_amount', `amount must be a positive integer up to ${MAX_AMOUNT}`, { field, amount });
  }
}

/** Same actions, same fingerprint: key order in metadata and Date vs string do not matter. */
export function fingerprintOf(actions: Action[]): string {
  const canonical = actions.map((a) => {
    switch (a.type) {
      case 'transfer':
        return [
          a.type,
          a.debit,
          a.credit,
          a.amount,
          Boolean(a.pending),
          a.expiresAt === undefined ? null : new Date(a.expiresAt).toISOString(),
          canonicalJson(a.metadata ?? null),
        ];
      case 'post':
        return [a.type, a.hold, a.amounts ?? null];
      default:
        return [a.type, a.hold];
    }
  });
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

function canonicalJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonicalJson((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** Decides a batch in order, as if its operations ran one after another. */
export function planBatch(ops: Operation[], state: BatchState, newTransferId: () => string): BatchPlan {
  const now = state.now.toISOString();
  const balances = new Map([...state.accounts].map(([id, account]) => [id, account.balance]));
  const requests = new Map(state.requests);
  const holds = new Map(state.holds);
  const created = new Map<string, Transfer>();
  const resolved = new Map<string, Transfer>();
  const balanceDeltas = new Map<string, number>();
  const lowestDips = new Map<string, number>();
  const newRequests: StoredRequest[] = [];

  const outcomes = ops.map((op): Outcome => {
    const fingerprint = fingerprintOf(op.actions);
    const stored = requests.get(op.key);
    if (stored) return replay(stored, fingerprint, op.key);

    const attempt = attemptOperation(op);
    const request: StoredRequest = attempt.ok
      ? { key: op.key, fingerprint, status: 'applied', result: { transfers: attempt.changes } }
      : { key: op.key, fingerprint, status: 'rejected', result: { error: attempt.error.toJSON() } };
    requests.set(op.key, request);
    newRequests.push(request);
    if (!attempt.ok) return { ok: false, error: attempt.error };

    for (const [account, delta] of attempt.effects) {
      balances.set(account, balances.get(account)! + delta);
      const net = (balanceDeltas.get(account) ?? 0) + delta;
      balanceDeltas.set(account, net);
      lowestDips.set(account, Math.min(lowestDips.get(account) ?? 0, net));
    }
    for (const transfer of attempt.changes) (created.has(transfer.id) || transfer.requestKey === op.key ? created : resolved).set(transfer.id, transfer);
    for (const [key, transfers] of attempt.holds) holds.set(key, transfers);
    return { ok: true, result: { key: op.key, replayed: false, transfers: attempt.changes } };
  });

  return { outcomes, newRequests, newTransfers: [...created.values()], resolvedTransfers: [...resolved.values()], balanceDeltas, lowestDips };

  type Attempt = { ok: true; changes: Transfer[]; effects: Map<string, number>; holds: Map<string, Transfer[]> } | { ok: false; error: LedgerError };

  function attemptOperation(op: Operation): Attempt {
    const effects = new Map<string, number>();
    const changes: Transfer[] = [];
    const touchedHolds = new Map<string, Transfer[]>();
    const move = (account: string, delta: number) => effects.set(account, (effects.get(account) ?? 0) + delta);
    const reject = (code: LedgerError['code'], message: string, detail: Record<string, unknown> = {}): Attempt => ({
      ok: false,
      error: ledgerError(code, message, detail),
    });

    for (const [index, action] of op.actions.entries()) {
      if (action.type === 'transfer') {
        const debit = state.accounts.get(action.debit);
        const credit = state.accounts.get(action.credit);
        if (!debit || !credit)
          return reject('account_not_found', `account ${debit ? action.credit : action.debit} does not exist`, {
            action: index,
            account: debit ? action.credit : action.debit,
          });
        if (debit.id === credit.id) return reject('same_account', 'debit and credit accounts must differ', { action: index });
        if (debit.asset !== credit.asset)
          return reject('asset_mismatch', `cannot move ${debit.asset} into a ${credit.asset} account`, {
            action: index,
            debitAsset: debit.asset,
            creditAsset: credit.asset,
          });
        const expiresAt = action.expiresAt === undefined ? null : new Date(action.expiresAt).toISOString();
        if (expiresAt !== null && expiresAt <= now) return reject('invalid_operation', 'expiresAt must be in the future', { action: index, expiresAt });
        const transfer: Transfer = {
          id: newTransferId(),
          requestKey: op.key,
          position: changes.filter((t) => t.requestKey === op.key).length,
          debitAccountId: debit.id,
          creditAccountId: credit.id,
          asset: debit.asset,
          amount: action.amount,
          state: action.pending ? 'pending' : 'posted',
          postedAmount: action.pending ? null : action.amount,
          expiresAt,
          metadata: action.metadata ?? null,
          createdAt: now,
          resolvedAt: null,
          resolvedBy: null,
        };
        move(debit.id, -action.amount);
        if (!action.pending) move(credit.id, action.amount);
        changes.push(transfer);
        if (action.pending) touchedHolds.set(op.key, [...(touchedHolds.get(op.key) ?? []), transfer]);
        continue;
      }

      const hold = touchedHolds.get(action.hold) ?? holds.get(action.hold);
      if (!hold || hold.length === 0) return reject('hold_not_found', `no hold with key ${action.hold}`, { action: index, hold: action.hold });
      const settled = hold.find((t) => t.state !== 'pending');
      if (settled)
        return reject('hold_not_pending', `hold ${action.hold} is already ${settled.state}`, { action: index, hold: action.hold, state: settled.state });
      const expired = hold.some((t) => t.expiresAt !== null && t.expiresAt <= now);
      if (action.type === 'post' && expired)
        return reject('hold_expired', `hold ${action.hold} expired and can no longer be posted`, { action: index, hold: action.hold });
      const asOf = action.type === 'expire' && action.asOf !== undefined ? new Date(action.asOf).toISOString() : now;
      if (action.type === 'expire' && !hold.every((t) => t.expiresAt !== null && t.expiresAt <= asOf))
        return reject('hold_not_expired', `hold ${action.hold} has not expired`, { action: index, hold: action.hold });
      if (action.type === 'post' && action.amounts && action.amounts.length !== hold.length) {
        return reject('invalid_amount', `hold ${action.hold} has ${hold.length} transfers; ${action.amounts.length} amounts given`, { action: index });
      }
      const overPosted = action.type === 'post' ? hold.findIndex((t, i) => (action.amounts?.[i] ?? 0) > t.amount) : -1;
      if (overPosted >= 0) return reject('invalid_amount', 'cannot post more than was held', { action: index, held: hold[overPosted]!.amount });

      const after = hold.map((t, i): Transfer => {
        const base = { ...t, resolvedAt: now, resolvedBy: op.key };
        if (action.type !== 'post') {
          move(t.debitAccountId, t.amount);
          return { ...base, state: action.type === 'void' ? 'voided' : 'expired' };
        }
        const posted = action.amounts?.[i] ?? t.amount;
        move(t.creditAccountId, posted);
        if (posted < t.amount) move(t.debitAccountId, t.amount - posted);
        return { ...base, state: 'posted', postedAmount: posted };
      });
      changes.push(...after);
      touchedHolds.set(action.hold, after);
    }

    for (const [id, delta] of effects) {
      const account = state.accounts.get(id)!;
      const balance = balances.get(id)!;
      if (delta < 0 && account.neverNegative && balance + delta < 0) {
        return reject('insufficient_funds', `account ${id} has ${balance} ${account.asset}, needs ${-delta}`, {
          account: id,
          asset: account.asset,
          available: balance,
          requested: -delta,
        });
      }
    }
    return { ok: true, changes, effects, holds: touchedHolds };
  }
}

function replay(stored: StoredRequest, fingerprint: string, key: string): Outcome {
  if (stored.fingerprint !== fingerprint) {
    return { ok: false, error: ledgerError('idempotency_conflict', `key ${key} was already used for a different operation`, { key }) };
  }
  if ('error' in stored.result) {
    const { code, message, detail } = stored.result.error;
    return { ok: false, error: ledgerError(code, message, detail, true) };
  }
  return { ok: true, result: { key, replayed: true, transfers: stored.result.transfers } };
}
