// Property tests of the pure planner, no database. Random scripts of operations are planned batch by
// batch; each plan is written to an in-memory table set exactly the way store.ts writes it, and the result
// is checked against the ledger invariants, against the same operations planned one at a time, and
// against a plain reference ledger written here without looking at how plan.ts decides.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LedgerError, type LedgerErrorCode } from './errors.ts';
import { fingerprintOf, MAX_AMOUNT, planBatch, validateOperation, type BatchPlan, type BatchState, type Outcome, type StoredRequest } from './plan.ts';
import type { Action, Operation, Transfer, TransferState } from './types.ts';

const MINUTE = 60_000;
const START = Date.parse('2030-01-01T00:00:00.000Z');
const NUM_RUNS = 200;

/** toEqual, but only paid for when it fails: tens of thousands of checks run per test, and expect() is slow. */
function expectEqual(actual: unknown, expected: unknown, message?: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, message).toEqual(expected);
}

// ---------------------------------------------------------------------------------------------------
// Accounts: two assets, a never-negative wallet side and an unbounded issuing side for each.

interface AccountSpec {
  id: string;
  asset: string;
  neverNegative: boolean;
}

const ACCOUNTS: AccountSpec[] = [
  { id: 'credits:issuance', asset: 'credits', neverNegative: false },
  { id: 'credits:alice', asset: 'credits', neverNegative: true },
  { id: 'credits:bob', asset: 'credits', neverNegative: true },
  { id: 'credits:spent', asset: 'credits', neverNegative: false },
  { id: 'units:external', asset: 'units', neverNegative: false },
  { id: 'units:pool', asset: 'units', neverNegative: true },
  { id: 'units:consumed', asset: 'units', neverNegative: true },
];
/** Slot ids for the generator: the accounts above, then one that was never opened. */
const SLOTS = [...ACCOUNTS.map((a) => a.id), 'credits:ghost'];

// ---------------------------------------------------------------------------------------------------
// Scripts: operation templates that refer to accounts by slot and to holds by "an earlier operation",
// turned into real operations (keys, times, amounts) only when their batch runs.

interface LegTemplate {
  accounts: [number, number];
  amount: number;
  pending: boolean;
  /** Expiry of a pending leg, in minutes after the batch's clock; may be in the past (rejected). */
  expiresIn: number | null;
  expiryAsDate: boolean;
  withMetadata: boolean;
}
type HoldRef = { kind: 'earlier'; pick: number } | { kind: 'self' } | { kind: 'unknown' };
type PostAmounts = 'held' | 'partial' | 'over' | 'wrong-length';
type ActionTemplate =
  | { type: 'transfer'; leg: LegTemplate }
  | { type: 'post'; hold: HoldRef; amounts: PostAmounts; percents: number[] }
  | { type: 'void'; hold: HoldRef }
  | { type: 'expire'; hold: HoldRef; asOfIn: number | null };
type ReplayVariant = 'same' | 'reshaped' | 'different';
type StepTemplate = { type: 'fresh'; actions: ActionTemplate[] } | { type: 'replay'; pick: number; variant: ReplayVariant };

interface Script {
  steps: StepTemplate[];
  batchSizes: number[];
  /** Minutes the clock moves before each batch, so holds expire between batches. */
  advances: number[];
}

const sameAssetPairs = ACCOUNTS.flatMap((debit, i) =>
  ACCOUNTS.flatMap((credit, j) => (i !== j && debit.asset === credit.asset ? [[i, j] as [number, number]] : [])),
);
const fundingPairs: [number, number][] = [[0, 1], [0, 2], [4, 5]];

const pairArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...fundingPairs) },
  { weight: 6, arbitrary: fc.constantFrom(...sameAssetPairs) },
  // Anything at all: same account, other asset, the unopened account.
  { weight: 1, arbitrary: fc.tuple(fc.nat({ max: SLOTS.length - 1 }), fc.nat({ max: SLOTS.length - 1 })) },
);

const legArb: fc.Arbitrary<LegTemplate> = fc.record({
  accounts: pairArb,
  amount: fc.integer({ min: 1, max: 25 }),
  pending: fc.boolean(),
  expiresIn: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.constantFrom(1, 2, 4) }, { weight: 1, arbitrary: fc.constantFrom(-1, 0) }),
  expiryAsDate: fc.boolean(),
  withMetadata: fc.boolean(),
});

const holdRefArb: fc.Arbitrary<HoldRef> = fc.oneof(
  { weight: 10, arbitrary: fc.nat().map((pick): HoldRef => ({ kind: 'earlier', pick })) },
  { weight: 1, arbitrary: fc.constant<HoldRef>({ kind: 'self' }) },
  { weight: 1, arbitrary: fc.constant<HoldRef>({ kind: 'unknown' }) },
);

const postAmountsArb: fc.Arbitrary<PostAmounts> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<PostAmounts>('held') },
  { weight: 4, arbitrary: fc.constant<PostAmounts>('partial') },
  { weight: 1, arbitrary: fc.constantFrom<PostAmounts>('over', 'wrong-length') },
);

const actionArb: fc.Arbitrary<ActionTemplate> = fc.oneof(
  { weight: 6, arbitrary: legArb.map((leg): ActionTemplate => ({ type: 'transfer', leg })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ hold: holdRefArb, amounts: postAmountsArb, percents: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 3 }) })
      .map((post): ActionTemplate => ({ type: 'post', ...post })),
  },
  { weight: 2, arbitrary: holdRefArb.map((hold): ActionTemplate => ({ type: 'void', hold })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ hold: holdRefArb, asOfIn: fc.option(fc.integer({ min: -1, max: 6 }), { nil: null }) })
      .map((expire): ActionTemplate => ({ type: 'expire', ...expire })),
  },
);

// Mostly single actions: one failing action refuses the whole operation, so long ones rarely apply.
const actionsArb = fc.oneof({ weight: 4, arbitrary: fc.array(actionArb, { minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.array(actionArb, { minLength: 2, maxLength: 3 }) });

const stepArb: fc.Arbitrary<StepTemplate> = fc.oneof(
  { weight: 6, arbitrary: actionsArb.map((actions): StepTemplate => ({ type: 'fresh', actions })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ pick: fc.nat(), variant: fc.constantFrom<ReplayVariant>('same', 'reshaped', 'different') })
      .map((replay): StepTemplate => ({ type: 'replay', ...replay })),
  },
);

const scriptArb: fc.Arbitrary<Script> = fc.record({
  steps: fc.array(stepArb, { minLength: 1, maxLength: 30, size: 'max' }),
  batchSizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 8 }),
  advances: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
});

interface MaterializedStep {
  op: Operation;
  /** Null for a first use of its key. */
  replayOf: ReplayVariant | null;
}

/** Turns step templates into operations, remembering each new key's actions and the amounts it held. */
class Materializer {
  readonly fresh: { key: string; actions: Action[]; held: number[] }[] = [];

  /** `pendingHolds`: keys of the holds still pending, to aim post, void and expire at them often. */
  constructor(private readonly pendingHolds: () => ReadonlySet<string> = () => new Set()) {}

  next(step: StepTemplate, nowMs: number): MaterializedStep {
    if (step.type === 'replay' && this.fresh.length > 0) {
      const original = this.fresh[step.pick % this.fresh.length]!;
      const actions = step.variant === 'same' ? original.actions : step.variant === 'reshaped' ? original.actions.map(reshape) : changeMeaning(original.actions);
      return { op: { key: original.key, actions }, replayOf: step.variant };
    }
    const key = `k${this.fresh.length}`;
    const templates: ActionTemplate[] = step.type === 'fresh' ? step.actions : [{ type: 'void', hold: { kind: 'unknown' } }];
    const actions: Action[] = [];
    const held: number[] = [];
    for (const template of templates) {
      if (template.type === 'transfer') {
        actions.push(transferAction(template.leg, actions.length, nowMs));
        if (template.leg.pending) held.push(template.leg.amount);
        continue;
      }
      const hold = this.resolveHold(template.hold, key, held);
      if (template.type === 'void') actions.push({ type: 'void', hold: hold.key });
      else if (template.type === 'expire') actions.push({ type: 'expire', hold: hold.key, ...(template.asOfIn === null ? {} : { asOf: new Date(nowMs + template.asOfIn * MINUTE) }) });
      else actions.push({ type: 'post', hold: hold.key, ...postAmounts(template, hold.held) });
    }
    this.fresh.push({ key, actions, held });
    return { op: { key, actions }, replayOf: null };
  }

  private resolveHold(ref: HoldRef, ownKey: string, ownHeld: number[]): { key: string; held: number[] } {
    if (ref.kind === 'self') return { key: ownKey, held: [...ownHeld] };
    const holders = this.fresh.filter((f) => f.held.length > 0);
    const candidates = holders.length > 0 ? holders : this.fresh;
    if (ref.kind === 'unknown' || candidates.length === 0) return { key: 'no-such-hold', held: [] };
    // Mostly a hold the reference ledger says is still pending (else one of the two newest); sometimes any
    // earlier one, settled, refused or never a hold, since those refusals need testing too.
    const pending = this.pendingHolds();
    const live = holders.filter((f) => pending.has(f.key));
    const choice = ref.pick % 4;
    const pool = choice === 3 ? candidates : live.length > 0 ? live : candidates.slice(-2);
    const target = pool[Math.floor(ref.pick / 4) % pool.length]!;
    return { key: target.key, held: target.held };
  }
}

function transferAction(leg: LegTemplate, index: number, nowMs: number): Action {
  const [debit, credit] = leg.accounts;
  const expiresAt = leg.pending && leg.expiresIn !== null ? new Date(nowMs + leg.expiresIn * MINUTE) : undefined;
  return {
    type: 'transfer',
    debit: SLOTS[debit]!,
    credit: SLOTS[credit]!,
    amount: leg.amount,
    ...(leg.pending ? { pending: true } : {}),
    ...(expiresAt === undefined ? {} : { expiresAt: leg.expiryAsDate ? expiresAt : expiresAt.toISOString() }),
    ...(leg.withMetadata ? { metadata: { leg: index, b: 'second', a: { z: 1, y: [1, 2] } } } : {}),
  };
}

function postAmounts(template: Extract<ActionTemplate, { type: 'post' }>, held: number[]): { amounts?: number[] } {
  const percentOf = (i: number) => template.percents[i % template.percents.length]!;
  if (held.length === 0) return template.amounts === 'held' ? {} : { amounts: [1] };
  switch (template.amounts) {
    case 'held':
      return {};
    case 'partial':
      return { amounts: held.map((amount, i) => Math.max(1, Math.floor((amount * percentOf(i)) / 100))) };
    case 'over':
      return { amounts: held.map((amount, i) => (i === 0 ? amount + 1 : amount)) };
    case 'wrong-length':
      return { amounts: [...held, 1] };
  }
}

/** The same action spelled differently: the fingerprint must not change. */
function reshape(action: Action): Action {
  switch (action.type) {
    case 'transfer': {
      const { pending, expiresAt, metadata, ...rest } = action;
      return {
        ...rest,
        pending: pending ?? false,
        ...(expiresAt === undefined ? {} : { expiresAt: expiresAt instanceof Date ? expiresAt.toISOString() : new Date(expiresAt) }),
        ...(metadata === undefined ? {} : { metadata: reverseKeys(metadata) as Record<string, unknown> }),
      };
    }
    case 'post':
      return { type: 'post', hold: action.hold, ...(action.amounts === undefined ? {} : { amounts: [...action.amounts] }) };
    case 'void':
      return { type: 'void', hold: action.hold };
    case 'expire':
      // asOf is when the sweeper looked, not part of what was asked.
      return { type: 'expire', hold: action.hold, ...(action.asOf === undefined ? { asOf: new Date(START - MINUTE) } : {}) };
  }
}

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]));
  return value;
}

/** Other actions under the same key: must be refused as an idempotency conflict. */
function changeMeaning(actions: Action[]): Action[] {
  const [first, ...rest] = actions;
  const changed: Action =
    first!.type === 'transfer'
      ? { ...first!, amount: first!.amount + 1 }
      : first!.type === 'void'
        ? { type: 'expire', hold: first!.hold }
        : { type: 'void', hold: first!.hold };
  return [changed, ...rest];
}

// ---------------------------------------------------------------------------------------------------
// The reference ledger: one operation at a time, on plain maps, all or nothing by working on a copy.

interface ModelTransfer {
  debit: string;
  credit: string;
  amount: number;
  /** Created as a hold; only these make up the hold addressed by their operation's key. */
  createdPending: boolean;
  state: TransferState;
  postedAmount: number | null;
  expiresAtMs: number | null;
}
type ModelAnswer = { ok: true } | { ok: false; code: LedgerErrorCode };
type ModelOutcome = { kind: 'applied' } | { kind: 'rejected'; code: LedgerErrorCode } | { kind: 'replayed'; answer: ModelAnswer } | { kind: 'conflict' };

/** What an operation asks for, for the model's own idempotency check (spelling does not count). */
function meaningOf(actions: Action[]): string {
  return JSON.stringify(
    actions.map((a) => {
      if (a.type === 'transfer') {
        return [a.type, a.debit, a.credit, a.amount, a.pending === true, a.expiresAt === undefined ? null : new Date(a.expiresAt).getTime(), sortKeys(a.metadata ?? null)];
      }
      return a.type === 'post' ? [a.type, a.hold, a.amounts ?? null] : [a.type, a.hold];
    }),
  );
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') return Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]);
  return value;
}

class ReferenceLedger {
  private balances: Map<string, number>;
  /** Every transfer, by the key of the operation that created it, in creation order. */
  private transfers = new Map<string, ModelTransfer[]>();
  private answers = new Map<string, { meaning: string; answer: ModelAnswer }>();

  constructor(private readonly accounts: ReadonlyMap<string, AccountSpec>) {
    this.balances = new Map([...accounts.keys()].map((id) => [id, 0]));
  }

  execute(op: Operation, nowMs: number): ModelOutcome {
    const meaning = meaningOf(op.actions);
    const earlier = this.answers.get(op.key);
    if (earlier) return earlier.meaning === meaning ? { kind: 'replayed', answer: earlier.answer } : { kind: 'conflict' };
    const balances = new Map(this.balances);
    const transfers = new Map([...this.transfers].map(([key, list]) => [key, list.map((t) => ({ ...t }))]));
    const failure = this.attempt(op, nowMs, balances, transfers);
    this.answers.set(op.key, { meaning, answer: failure === null ? { ok: true } : { ok: false, code: failure } });
    if (failure !== null) return { kind: 'rejected', code: failure };
    this.balances = balances;
    this.transfers = transfers;
    return { kind: 'applied' };
  }

  /** Keys of the holds that can still be posted, voided or expired. */
  pendingHoldKeys(): Set<string> {
    const keys = new Set<string>();
    for (const [key, list] of this.transfers) {
      const hold = list.filter((t) => t.createdPending);
      if (hold.length > 0 && hold.every((t) => t.state === 'pending')) keys.add(key);
    }
    return keys;
  }

  private attempt(op: Operation, nowMs: number, balances: Map<string, number>, transfers: Map<string, ModelTransfer[]>): LedgerErrorCode | null {
    const add = (id: string, amount: number) => balances.set(id, balances.get(id)! + amount);
    for (const action of op.actions) {
      if (action.type === 'transfer') {
        const debit = this.accounts.get(action.debit);
        const credit = this.accounts.get(action.credit);
        if (!debit || !credit) return 'account_not_found';
        if (action.debit === action.credit) return 'same_account';
        if (debit.asset !== credit.asset) return 'asset_mismatch';
        const expiresAtMs = action.expiresAt === undefined ? null : new Date(action.expiresAt).getTime();
        if (expiresAtMs !== null && expiresAtMs <= nowMs) return 'invalid_operation';
        const pending = action.pending === true;
        add(action.debit, -action.amount);
        if (!pending) add(action.credit, action.amount);
        const transfer: ModelTransfer = {
          debit: action.debit,
          credit: action.credit,
          amount: action.amount,
          createdPending: pending,
          state: pending ? 'pending' : 'posted',
          postedAmount: pending ? null : action.amount,
          expiresAtMs,
        };
        transfers.set(op.key, [...(transfers.get(op.key) ?? []), transfer]);
        continue;
      }
      const hold = (transfers.get(action.hold) ?? []).filter((t) => t.createdPending);
      const expiredAt = (ms: number) => (t: ModelTransfer) => t.expiresAtMs !== null && t.expiresAtMs <= ms;
      if (hold.length === 0) return 'hold_not_found';
      if (hold.some((t) => t.state !== 'pending')) return 'hold_not_pending';
      if (action.type === 'post' && hold.some(expiredAt(nowMs))) return 'hold_expired';
      if (action.type === 'expire' && !hold.every(expiredAt(action.asOf === undefined ? nowMs : new Date(action.asOf).getTime()))) return 'hold_not_expired';
      if (action.type === 'post' && action.amounts !== undefined && (action.amounts.length !== hold.length || action.amounts.some((a, i) => a > hold[i]!.amount))) {
        return 'invalid_amount';
      }
      for (const [i, t] of hold.entries()) {
        if (action.type === 'post') {
          const posted = action.amounts?.[i] ?? t.amount;
          add(t.credit, posted);
          add(t.debit, t.amount - posted);
          t.state = 'posted';
          t.postedAmount = posted;
        } else {
          add(t.debit, t.amount);
          t.state = action.type === 'void' ? 'voided' : 'expired';
        }
      }
    }
    // Never-negative accounts start at zero and only ever pass this check, so "still >= 0" is the rule.
    for (const [id, account] of this.accounts) if (account.neverNegative && balances.get(id)! < 0) return 'insufficient_funds';
    return null;
  }

  balanceOf(id: string): number {
    return this.balances.get(id)!;
  }

  pendingOf(id: string): number {
    return [...this.transfers.values()].flat().reduce((sum, t) => sum + (t.state === 'pending' && t.debit === id ? t.amount : 0), 0);
  }

  transferStates(): Record<string, TransferSummary[]> {
    return Object.fromEntries(
      [...this.transfers].map(([key, list]) => [key, list.map((t) => ({ debit: t.debit, credit: t.credit, amount: t.amount, state: t.state, postedAmount: t.postedAmount }))]),
    );
  }
}

interface TransferSummary {
  debit: string;
  credit: string;
  amount: number;
  state: TransferState;
  postedAmount: number | null;
}

// ---------------------------------------------------------------------------------------------------
// The planner under test, with its plans written to in-memory tables the way store.ts writes them.

class PlannedLedger {
  readonly balances = new Map(ACCOUNTS.map((a) => [a.id, 0]));
  readonly requests = new Map<string, StoredRequest>();
  /** ledger_transfers, by id. */
  readonly transfers = new Map<string, Transfer>();
  private readonly positions = new Set<string>();
  private transferCount = 0;

  plan(ops: Operation[], now: Date): BatchPlan {
    const plan = planBatch(ops, this.lockedState(ops, now), () => `tr_${String(++this.transferCount).padStart(6, '0')}`);
    this.write(plan, now);
    return plan;
  }

  /** What store.ts reads under its locks: the batch's stored requests, then the holds and accounts of its new operations. */
  private lockedState(ops: Operation[], now: Date): BatchState {
    const requests = new Map<string, StoredRequest>();
    for (const op of ops) {
      const stored = this.requests.get(op.key);
      if (stored) requests.set(op.key, stored);
    }
    const holdKeys = new Set<string>();
    const accountIds = new Set<string>();
    for (const op of ops) {
      if (requests.has(op.key)) continue;
      for (const action of op.actions) {
        if (action.type === 'transfer') accountIds.add(action.debit).add(action.credit);
        else holdKeys.add(action.hold);
      }
    }
    // A hold is every transfer its operation created as pending: still pending, or resolved by a later key.
    const holds = new Map<string, Transfer[]>();
    const holdRows = [...this.transfers.values()]
      .filter((t) => holdKeys.has(t.requestKey) && (t.state !== 'posted' || t.resolvedBy !== null))
      .sort((a, b) => (a.requestKey < b.requestKey ? -1 : a.requestKey > b.requestKey ? 1 : a.position - b.position));
    for (const row of holdRows) {
      holds.set(row.requestKey, [...(holds.get(row.requestKey) ?? []), { ...row }]);
      accountIds.add(row.debitAccountId).add(row.creditAccountId);
    }
    const accounts = new Map(
      ACCOUNTS.filter((a) => accountIds.has(a.id)).map((a) => [a.id, { id: a.id, asset: a.asset, neverNegative: a.neverNegative, balance: this.balances.get(a.id)! }]),
    );
    return { now, accounts, requests, holds };
  }

  private write(plan: BatchPlan, now: Date): void {
    // Resolved transfers must have existed, pending, before the batch: store.ts writes the whole plan in
    // one statement, whose update cannot see rows inserted by the same statement.
    for (const transfer of plan.resolvedTransfers) {
      const before = this.transfers.get(transfer.id);
      expectEqual(before?.state, 'pending', `resolved transfer ${transfer.id} was not pending before the batch`);
      // store.ts updates only these columns (resolved_at to the batch's now), so the planner may change nothing else.
      expectEqual(transfer, { ...before, state: transfer.state, postedAmount: transfer.postedAmount, resolvedAt: now.toISOString(), resolvedBy: transfer.resolvedBy });
      expectEqual(rowProblems(transfer), []);
    }
    for (const request of plan.newRequests) {
      expectEqual(this.requests.has(request.key), false, `request ${request.key} inserted twice`);
      this.requests.set(request.key, request);
    }
    for (const transfer of plan.newTransfers) {
      const position = `${transfer.requestKey}#${transfer.position}`;
      expectEqual(this.transfers.has(transfer.id), false, `transfer ${transfer.id} inserted twice`);
      expectEqual(this.positions.has(position), false, `unique (request_key, position): ${position}`);
      expectEqual(rowProblems(transfer), []);
      this.transfers.set(transfer.id, transfer);
      this.positions.add(position);
    }
    for (const transfer of plan.resolvedTransfers) this.transfers.set(transfer.id, transfer);
    for (const [id, delta] of plan.balanceDeltas) {
      expectEqual(this.balances.has(id), true, `delta for unknown account ${id}`);
      this.balances.set(id, this.balances.get(id)! + delta);
    }
  }


  pendingOf(id: string): number {
    return [...this.transfers.values()].reduce((sum, t) => sum + (t.state === 'pending' && t.debitAccountId === id ? t.amount : 0), 0);
  }

  transferStates(): Record<string, TransferSummary[]> {
    const byKey = new Map<string, Transfer[]>();
    for (const t of this.transfers.values()) byKey.set(t.requestKey, [...(byKey.get(t.requestKey) ?? []), t]);
    return Object.fromEntries(
      [...byKey].map(([key, list]) => [
        key,
        list.sort((a, b) => a.position - b.position).map((t) => ({ debit: t.debitAccountId, credit: t.creditAccountId, amount: t.amount, state: t.state, postedAmount: t.postedAmount })),
      ]),
    );
  }

  /** The checks of invariants.ts, over the in-memory tables. */
  invariantViolations(): string[] {
    const violations: string[] = [];
    const sums = new Map<string, number>();
    const derived = new Map(ACCOUNTS.map((a) => [a.id, 0]));
    for (const account of ACCOUNTS) {
      const balance = this.balances.get(account.id)!;
      if (account.neverNegative && balance < 0) violations.push(`never-negative: ${account.id} is at ${balance}`);
      sums.set(account.asset, (sums.get(account.asset) ?? 0) + balance);
    }
    for (const t of this.transfers.values()) {
      if (t.state === 'pending') sums.set(t.asset, sums.get(t.asset)! + t.amount);
      const moved = t.state === 'posted' ? t.postedAmount! : t.state === 'pending' ? t.amount : 0;
      derived.set(t.debitAccountId, derived.get(t.debitAccountId)! - moved);
      if (t.state === 'posted') derived.set(t.creditAccountId, derived.get(t.creditAccountId)! + t.postedAmount!);
      if (ACCOUNTS.find((a) => a.id === t.debitAccountId)?.asset !== t.asset || ACCOUNTS.find((a) => a.id === t.creditAccountId)?.asset !== t.asset) {
        violations.push(`transfer-assets-match: ${t.id}`);
      }
      const applied = (key: string | null) => key !== null && this.requests.get(key)?.status === 'applied';
      if (!applied(t.requestKey) || (t.resolvedBy !== null && !applied(t.resolvedBy))) violations.push(`transfers-have-requests: ${t.id}`);
    }
    for (const [asset, sum] of sums) if (sum !== 0) violations.push(`asset-sums-to-zero: ${asset} sums to ${sum}`);
    for (const [id, value] of derived) if (value !== this.balances.get(id)) violations.push(`balance-derivable: ${id} is ${this.balances.get(id)}, transfers say ${value}`);
    return violations;
  }
}

/** The CHECK constraints of ledger_transfers. */
function rowProblems(t: Transfer): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(t.amount) || t.amount <= 0) problems.push(`amount ${t.amount}`);
  if (t.debitAccountId === t.creditAccountId) problems.push('debit = credit');
  if ((t.state === 'posted') !== (t.postedAmount !== null)) problems.push(`state ${t.state} with postedAmount ${t.postedAmount}`);
  if (t.postedAmount !== null && !(t.postedAmount > 0 && t.postedAmount <= t.amount)) problems.push(`postedAmount ${t.postedAmount} of ${t.amount}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// Running a script.

interface StepRecord extends MaterializedStep {
  nowMs: number;
  /** The outcome inside its batch. */
  batched: Outcome;
  /** The same operation planned alone, after the same operations before it. */
  alone: Outcome;
  alonePlan: BatchPlan;
  /** The stored request as it stood when the operation was planned alone. */
  storedBefore: StoredRequest | undefined;
  expected: ModelOutcome;
}

interface PlayedScript {
  records: StepRecord[];
  batched: PlannedLedger;
  alone: PlannedLedger;
  model: ReferenceLedger;
  violationsAfterBatches: string[][];
  materializer: Materializer;
  finalNowMs: number;
}

const GENESIS: Operation = {
  key: 'genesis',
  actions: [
    { type: 'transfer', debit: 'credits:issuance', credit: 'credits:alice', amount: 40 },
    { type: 'transfer', debit: 'credits:issuance', credit: 'credits:bob', amount: 40 },
    { type: 'transfer', debit: 'units:external', credit: 'units:pool', amount: 40 },
  ],
};

function play(script: Script): PlayedScript {
  const model = new ReferenceLedger(new Map(ACCOUNTS.map((a) => [a.id, a])));
  const materializer = new Materializer(() => model.pendingHoldKeys());
  const batched = new PlannedLedger();
  const alone = new PlannedLedger();
  const records: StepRecord[] = [];
  const violationsAfterBatches: string[][] = [];
  let nowMs = START;
  // Some money in the never-negative accounts to start with, so that not every early debit is refused.
  for (const ledger of [batched, alone]) ledger.plan([GENESIS], new Date(nowMs));
  expect(model.execute(GENESIS, nowMs)).toEqual({ kind: 'applied' });
  for (let start = 0, batch = 0; start < script.steps.length; batch++) {
    const size = script.batchSizes[batch % script.batchSizes.length]!;
    nowMs += script.advances[batch % script.advances.length]! * MINUTE;
    const now = new Date(nowMs);
    const steps = script.steps.slice(start, start + size).map((step) => materializer.next(step, nowMs));
    start += size;
    const plan = batched.plan(steps.map((s) => s.op), now);
    for (const [i, step] of steps.entries()) {
      const storedBefore = alone.requests.get(step.op.key);
      const alonePlan = alone.plan([step.op], now);
      records.push({ ...step, nowMs, batched: plan.outcomes[i]!, alone: alonePlan.outcomes[0]!, alonePlan, storedBefore, expected: model.execute(step.op, nowMs) });
    }
    violationsAfterBatches.push(batched.invariantViolations());
  }
  return { records, batched, alone, model, violationsAfterBatches, materializer, finalNowMs: nowMs };
}

/** An outcome reduced to what the reference ledger can tell. */
function kindOf(outcome: Outcome): ModelOutcome {
  if (outcome.ok) return outcome.result.replayed ? { kind: 'replayed', answer: { ok: true } } : { kind: 'applied' };
  const { code, replayed } = outcome.error;
  if (replayed) return { kind: 'replayed', answer: { ok: false, code } };
  return code === 'idempotency_conflict' ? { kind: 'conflict' } : { kind: 'rejected', code };
}

/** An outcome in full, errors included (an Error's own fields are not compared by toEqual). */
function comparable(outcome: Outcome) {
  if (outcome.ok) return { ok: true, result: outcome.result };
  const { error } = outcome;
  return { ok: false, name: error.name, isLedgerError: error instanceof LedgerError, error: error.toJSON(), replayed: error.replayed };
}

const nonZeroDeltas = (plan: BatchPlan) => [...plan.balanceDeltas].filter(([, delta]) => delta !== 0);

function expectNoWrites(plan: BatchPlan): void {
  expectEqual(nonZeroDeltas(plan), []);
  expectEqual(plan.newTransfers, []);
  expectEqual(plan.resolvedTransfers, []);
}

function expectConflict(outcome: Outcome, key: string): void {
  expectEqual(comparable(outcome), {
    ok: false,
    name: 'LedgerError',
    isLedgerError: true,
    error: { code: 'idempotency_conflict', message: `key ${key} was already used for a different operation`, detail: { key } },
    replayed: false,
  });
}

const errorName = (code: LedgerErrorCode) => (code === 'insufficient_funds' ? 'InsufficientFundsError' : 'LedgerError');

/** A replay answers exactly what was stored under the key. */
function expectStoredAnswer(outcome: Outcome, stored: StoredRequest): void {
  if ('error' in stored.result) {
    expectEqual(comparable(outcome), { ok: false, name: errorName(stored.result.error.code), isLedgerError: true, error: stored.result.error, replayed: true });
  } else {
    expectEqual(comparable(outcome), { ok: true, result: { key: stored.key, replayed: true, transfers: stored.result.transfers } });
  }
}

// ---------------------------------------------------------------------------------------------------

describe('planBatch, on random scripts of operations', () => {
  it('agrees with a reference ledger and keeps every ledger invariant after each batch', () => {
    fc.assert(
      fc.property(scriptArb, (script) => {
        const { records, batched, model, violationsAfterBatches } = play(script);
        for (const record of records) {
          validateOperation(record.op); // every generated operation is well-formed
          expectEqual(kindOf(record.batched), record.expected, `${record.op.key}: ${JSON.stringify(record.op.actions)}`);
          // The script's own intent and the model's idempotency rule must agree, or the test is wrong.
          if (record.replayOf !== null) expectEqual(record.expected.kind, record.replayOf === 'different' ? 'conflict' : 'replayed');
        }
        for (const violations of violationsAfterBatches) expectEqual(violations, []);
        for (const account of ACCOUNTS) {
          expect([account.id, batched.balances.get(account.id), batched.pendingOf(account.id)]).toEqual([account.id, model.balanceOf(account.id), model.pendingOf(account.id)]);
          if (account.neverNegative) expect(batched.balances.get(account.id)).toBeGreaterThanOrEqual(0);
        }
        expect(batched.transferStates()).toEqual(model.transferStates());
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('decides a batch exactly as its operations one at a time, and a refused operation writes nothing', () => {
    fc.assert(
      fc.property(scriptArb, (script) => {
        const { records, batched, alone } = play(script);
        for (const record of records) {
          expectEqual(comparable(record.batched), comparable(record.alone));
          const plan = record.alonePlan;
          const outcome = record.alone;
          if (record.storedBefore) {
            // A key seen before: answered from the stored request or refused, and nothing is written.
            expectNoWrites(plan);
            expectEqual(plan.newRequests, []);
            if (fingerprintOf(record.op.actions) === record.storedBefore.fingerprint) expectStoredAnswer(outcome, record.storedBefore);
            else expectConflict(outcome, record.op.key);
          } else if (!outcome.ok) {
            expectNoWrites(plan);
            expectEqual(plan.newRequests, [
              { key: record.op.key, fingerprint: fingerprintOf(record.op.actions), status: 'rejected', result: { error: outcome.error.toJSON() } },
            ]);
          } else {
            expectEqual(plan.newRequests, [
              { key: record.op.key, fingerprint: fingerprintOf(record.op.actions), status: 'applied', result: { transfers: outcome.result.transfers } },
            ]);
            // Every row written is the operation's answer for that transfer, as it stood after the operation.
            const lastById = new Map(outcome.result.transfers.map((t) => [t.id, t]));
            const written = [...plan.newTransfers, ...plan.resolvedTransfers];
            expectEqual(new Set(written.map((t) => t.id)), new Set(lastById.keys()));
            for (const row of written) expectEqual(row, lastById.get(row.id));
          }
        }
        expect(batched.balances).toEqual(alone.balances);
        expect(batched.requests).toEqual(alone.requests);
        expect(batched.transfers).toEqual(alone.transfers);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers a replay of any earlier key from the stored request, and refuses other actions under it', () => {
    fc.assert(
      fc.property(scriptArb, fc.integer({ min: 0, max: 10 }), (script, laterMinutes) => {
        const { records, batched, materializer, finalNowMs } = play(script);
        // In-script replays were answered from the request stored when they ran.
        for (const record of records) {
          if (record.replayOf === null) continue;
          const stored = record.storedBefore!;
          expectEqual(nonZeroDeltas(record.alonePlan), []);
          if (record.replayOf === 'different') expectConflict(record.alone, record.op.key);
          else expectStoredAnswer(record.alone, stored);
        }
        // Every key, replayed later, all in one batch: same answers, no writes at all.
        const now = new Date(finalNowMs + laterMinutes * MINUTE);
        const replays = materializer.fresh.flatMap(({ key, actions }) => [
          { key, actions },
          { key, actions: actions.map(reshape) },
          { key, actions: changeMeaning(actions) },
        ]);
        const plan = batched.plan(replays, now);
        expectNoWrites(plan);
        expectEqual(plan.newRequests, []);
        for (const [i, op] of replays.entries()) {
          const outcome = plan.outcomes[i]!;
          if (i % 3 === 2) expectConflict(outcome, op.key);
          else expectStoredAnswer(outcome, batched.requests.get(op.key)!);
        }
        // ...and the answer is the one the key got the first time.
        for (const record of records) {
          if (record.replayOf !== null) continue;
          const again = plan.outcomes[3 * materializer.fresh.findIndex((f) => f.key === record.op.key)]!;
          expectEqual(again.ok ? again.result.transfers : again.error.toJSON(), record.batched.ok ? record.batched.result.transfers : record.batched.error.toJSON());
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('fingerprintOf', () => {
  const actionsArb = fc.tuple(fc.array(actionArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1000 })).map(([templates, minutes]) => {
    const materializer = new Materializer();
    // An earlier hold to point at, so post/void/expire templates name a real key.
    materializer.next({ type: 'fresh', actions: [{ type: 'transfer', leg: { accounts: [0, 1], amount: 5, pending: true, expiresIn: null, expiryAsDate: false, withMetadata: false } }] }, START);
    return materializer.next({ type: 'fresh', actions: templates }, START + minutes * MINUTE).op.actions;
  });

  it('ignores how the same actions are spelled: metadata key order, Date or string, pending false or absent, expire asOf, a JSON round trip', () => {
    fc.assert(
      fc.property(actionsArb, (actions) => {
        expect(fingerprintOf(actions.map(reshape))).toBe(fingerprintOf(actions));
        expect(fingerprintOf(JSON.parse(JSON.stringify(actions)) as Action[])).toBe(fingerprintOf(actions));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('tells apart different actions, and the same actions in another order', () => {
    fc.assert(
      fc.property(actionsArb, (actions) => {
        expect(fingerprintOf(changeMeaning(actions))).not.toBe(fingerprintOf(actions));
        expect(fingerprintOf([...actions, actions[0]!])).not.toBe(fingerprintOf(actions));
        if (meaningOf([...actions].reverse()) !== meaningOf(actions)) expect(fingerprintOf([...actions].reverse())).not.toBe(fingerprintOf(actions));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('validateOperation', () => {
  const validOp = (): Operation => ({
    key: 'valid-key',
    actions: [
      { type: 'transfer', debit: 'credits:alice', credit: 'credits:bob', amount: 5, pending: true, expiresAt: new Date(START), metadata: { a: 1 } },
      { type: 'post', hold: 'h1', amounts: [1, 2] },
      { type: 'void', hold: 'h2' },
      { type: 'expire', hold: 'h3', asOf: new Date(START).toISOString() },
    ],
  });
  type Corruption = { name: string; code: LedgerErrorCode; corrupt: (op: Operation) => unknown };
  const transferOf = (op: Operation) => op.actions[0] as Extract<Action, { type: 'transfer' }>;
  const corruptions: Corruption[] = [
    { name: 'empty key', code: 'invalid_operation', corrupt: (op) => ({ ...op, key: '' }) },
    { name: 'key with a space', code: 'invalid_operation', corrupt: (op) => ({ ...op, key: 'a b' }) },
    { name: 'key of 201 characters', code: 'invalid_operation', corrupt: (op) => ({ ...op, key: 'k'.repeat(201) }) },
    { name: 'non-ASCII key', code: 'invalid_operation', corrupt: (op) => ({ ...op, key: 'clé' }) },
    { name: 'no actions', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [] }) },
    { name: '101 actions', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: Array.from({ length: 101 }, () => op.actions[2]) }) },
    { name: 'unknown action type', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [{ type: 'refund', hold: 'h' }] }) },
    { name: 'missing debit', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), debit: '' }] }) },
    { name: 'expiring posted transfer', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), pending: false }] }) },
    { name: 'unreadable expiresAt', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), expiresAt: 'soon' }] }) },
    { name: 'array metadata', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), metadata: [] }] }) },
    { name: 'empty hold key', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [{ type: 'void', hold: '' }] }) },
    { name: 'unreadable asOf', code: 'invalid_operation', corrupt: (op) => ({ ...op, actions: [{ type: 'expire', hold: 'h', asOf: 'later' }] }) },
    { name: 'amount zero', code: 'invalid_amount', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), amount: 0 }] }) },
    { name: 'negative amount', code: 'invalid_amount', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), amount: -3 }] }) },
    { name: 'fractional amount', code: 'invalid_amount', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), amount: 1.5 }] }) },
    { name: 'amount above MAX_AMOUNT', code: 'invalid_amount', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), amount: MAX_AMOUNT + 1 }] }) },
    { name: 'amount as a string', code: 'invalid_amount', corrupt: (op) => ({ ...op, actions: [{ ...transferOf(op), amount: '5' }] }) },
    { name: 'post amount zero', code: 'invalid_amount', corrupt: (op) => ({ ...op, actions: [{ type: 'post', hold: 'h', amounts: [1, 0] }] }) },
    { name: 'post amounts not an array', code: 'invalid_amount', corrupt: (op) => ({ ...op, actions: [{ type: 'post', hold: 'h', amounts: 3 }] }) },
  ];

  it('accepts a well-formed operation, MAX_AMOUNT included', () => {
    expect(() => validateOperation(validOp())).not.toThrow();
    expect(() => validateOperation({ key: '~!', actions: [{ type: 'transfer', debit: 'a', credit: 'b', amount: MAX_AMOUNT }] })).not.toThrow();
  });

  it('refuses any malformed operation with a typed error, whichever action is malformed', () => {
    fc.assert(
      fc.property(fc.constantFrom(...corruptions), fc.nat({ max: 3 }), (corruption, position) => {
        const corrupted = corruption.corrupt(validOp()) as Operation;
        // Put the malformed action among valid ones: validation must look at every action.
        if (corrupted.actions.length === 1) corrupted.actions = [...validOp().actions.slice(0, position), corrupted.actions[0]!, ...validOp().actions.slice(position)];
        const error = (() => {
          try {
            validateOperation(corrupted);
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(error, corruption.name).toBeInstanceOf(LedgerError);
        expect((error as LedgerError).code, corruption.name).toBe(corruption.code);
      }),
      { numRuns: 100 },
    );
  });
});
