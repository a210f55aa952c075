// What one process remembers of the ledger so that most optimistic batches need no read at all: the
// accounts it has seen (asset and flag never change; the balance is an estimate) and the holds it knows
// to be pending. Nothing here is trusted: a plan made from it is proven by the write statement like any
// optimistic plan (keys new, holds pending, no dip below zero from the locked balance), and one that
// refuses anything is rerun under locks. A stale entry costs a rerun, never a wrong answer.
import type { AccountState, BatchPlan, BatchState } from './plan.ts';
import type { Operation, Transfer } from './types.ts';

const MAX_ENTRIES = 100_000;

export class LedgerCache {
  private readonly accounts = new Map<string, AccountState>();
  private readonly holds = new Map<string, Transfer[]>();

  /** The state for planning `ops` from memory, or undefined when something must be read first. */
  stateFor(ops: Operation[]): BatchState | undefined {
    const accounts = new Map<string, AccountState>();
    const holds = new Map<string, Transfer[]>();
    for (const op of ops) {
      for (const action of op.actions) {
        if (action.type === 'transfer') {
          for (const id of [action.debit, action.credit]) {
            const account = this.accounts.get(id);
            if (!account) return undefined;
            accounts.set(id, account);
          }
        } else if (action.type === 'expire') {
          return undefined; // expiry is judged by the database's clock: read it
        } else {
          const hold = this.holds.get(action.hold);
          if (!hold) return undefined;
          holds.set(action.hold, hold);
          for (const t of hold) {
            for (const id of [t.debitAccountId, t.creditAccountId]) {
              const account = this.accounts.get(id);
              if (!account) return undefined;
              accounts.set(id, account);
            }
          }
        }
      }
    }
    // Keys are assumed new (the write proves it); times come from this process's clock, and the write
    // refuses to post a hold the database considers expired.
    return { now: new Date(), accounts, requests: new Map(), holds };
  }

  /** Learns what a read returned. */
  learn(accounts: Iterable<AccountState>, holds: Iterable<[string, Transfer[]]>): void {
    this.bound();
    for (const account of accounts) this.accounts.set(account.id, { ...account });
    for (const [key, transfers] of holds) {
      if (transfers.every((t) => t.state === 'pending')) this.holds.set(key, transfers);
      else this.holds.delete(key);
    }
  }

  /** Applies a committed plan: balances move by its deltas, new holds are remembered, resolved ones forgotten. */
  applyCommitted(plan: BatchPlan): void {
    this.bound();
    for (const [id, delta] of plan.balanceDeltas) {
      const account = this.accounts.get(id);
      if (account) this.accounts.set(id, { ...account, balance: account.balance + delta });
    }
    const created = new Map<string, Transfer[]>();
    for (const t of plan.newTransfers) if (t.state === 'pending') created.set(t.requestKey, [...(created.get(t.requestKey) ?? []), t]);
    for (const [key, transfers] of created) this.holds.set(key, transfers);
    for (const t of plan.resolvedTransfers) this.holds.delete(t.requestKey);
  }

  /** Forgets what a failed proof showed to be stale. */
  forget(ops: Operation[]): void {
    for (const op of ops) {
      for (const action of op.actions) {
        if (action.type === 'transfer') {
          this.accounts.delete(action.debit);
          this.accounts.delete(action.credit);
        } else {
          this.holds.delete(action.hold);
        }
      }
    }
  }

  private bound() {
    if (this.accounts.size > MAX_ENTRIES) this.accounts.clear();
    if (this.holds.size > MAX_ENTRIES) this.holds.clear();
  }
}
