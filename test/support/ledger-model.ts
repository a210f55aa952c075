// What the two property tests of the ledger share: src/ledger/plan.test.ts (the pure planner) and
// test/ledger.property.test.ts (the Ledger on the real database) run the same random scripts and check
// them against the same reference ledger.
//
// Scripts are operation templates that name accounts by slot and holds by "an earlier operation"; a
// Materializer turns them into real operations (keys, times, amounts) only when they run. The reference
// ledger decides one operation at a time on plain maps, written without looking at how plan.ts decides.
import fc from 'fast-check';
import type { LedgerErrorCode } from '../../src/ledger/errors.ts';
import type { Outcome } from '../../src/ledger/plan.ts';
import type { Action, Operation, Transfer, TransferState } from '../../src/ledger/types.ts';

// ---------------------------------------------------------------------------------------------------
// Accounts: two assets, a never-negative wallet side and an unbounded issuing side for each.

export interface AccountSpec {
  id: string;
  name: string;
  asset: string;
  neverNegative: boolean;
}

const ACCOUNT_KINDS = [
  { name: 'issuance', asset: 'credits', neverNegative: false },
  { name: 'alice', asset: 'credits', neverNegative: true },
  { name: 'bob', asset: 'credits', neverNegative: true },
  { name: 'spent', asset: 'credits', neverNegative: false },
  { name: 'external', asset: 'units', neverNegative: false },
  { name: 'pool', asset: 'units', neverNegative: true },
  { name: 'consumed', asset: 'units', neverNegative: true },
];
/** Generator slots: the accounts, then one that is never opened. */
const SLOT_NAMES = [...ACCOUNT_KINDS.map((a) => a.name), 'ghost'];

/** The accounts of one run, their ids under `prefix` (keys of the run's operations are under it too). */
export function accountsFor(prefix: string): AccountSpec[] {
  return ACCOUNT_KINDS.map((a) => ({ ...a, id: `${prefix}${a.name}` }));
}

/** Some money in the never-negative accounts to start with, so that not every early debit is refused. */
export function genesisOperation(prefix: string, amount: number): Operation {
  const id = (name: string) => `${prefix}${name}`;
  return {
    key: `${prefix}genesis`,
    actions: [
      { type: 'transfer', debit: id('issuance'), credit: id('alice'), amount },
      { type: 'transfer', debit: id('issuance'), credit: id('bob'), amount },
      { type: 'transfer', debit: id('external'), credit: id('pool'), amount },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------
// Script templates and their generators. Times are in units (minutes for the planner, whose clock the
// test moves; hours for the database, whose clock it cannot move) from the moment a batch runs.

export interface LegTemplate {
  accounts: [number, number];
  amount: number;
  pending: boolean;
  /** Expiry of a pending leg, in units after the batch's clock; may be now or in the past (refused). */
  expiresIn: number | null;
  expiryAsDate: boolean;
  withMetadata: boolean;
}
/** `self`: the operation's own key, which validation refuses (an operation cannot resolve its own hold). */
export type HoldRef = { kind: 'earlier'; pick: number } | { kind: 'self' } | { kind: 'unknown' };
export type PostAmounts = 'held' | 'partial' | 'over' | 'wrong-length';
export type ActionTemplate =
  | { type: 'transfer'; leg: LegTemplate }
  | { type: 'post'; hold: HoldRef; amounts: PostAmounts; percents: number[] }
  | { type: 'void'; hold: HoldRef }
  | { type: 'expire'; hold: HoldRef; asOfIn: number | null };
export type ReplayVariant = 'same' | 'reshaped' | 'different';
export type StepTemplate = { type: 'fresh'; actions: ActionTemplate[] } | { type: 'replay'; pick: number; variant: ReplayVariant };

const sameAssetPairs = ACCOUNT_KINDS.flatMap((debit, i) =>
  ACCOUNT_KINDS.flatMap((credit, j) => (i !== j && debit.asset === credit.asset ? [[i, j] as [number, number]] : [])),
);
const fundingPairs: [number, number][] = [
  [0, 1],
  [0, 2],
  [4, 5],
];

const pairArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...fundingPairs) },
  { weight: 6, arbitrary: fc.constantFrom(...sameAssetPairs) },
  // Anything at all: same account, other asset, the unopened account.
  { weight: 1, arbitrary: fc.tuple(fc.nat({ max: SLOT_NAMES.length - 1 }), fc.nat({ max: SLOT_NAMES.length - 1 })) },
);

const legArb: fc.Arbitrary<LegTemplate> = fc.record({
  accounts: pairArb,
  amount: fc.integer({ min: 1, max: 25 }),
  pending: fc.boolean(),
  expiresIn: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.constantFrom(1, 2, 4) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 0) },
  ),
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

export const actionArb: fc.Arbitrary<ActionTemplate> = fc.oneof(
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
    // asOf: none (the batch's clock), or from before every expiry to after all of them.
    arbitrary: fc
      .record({ hold: holdRefArb, asOfIn: fc.option(fc.integer({ min: -1, max: 6 }), { nil: null }) })
      .map((expire): ActionTemplate => ({ type: 'expire', ...expire })),
  },
);

// Mostly single actions: one failing action refuses the whole operation, so long ones rarely apply.
const actionsArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(actionArb, { minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.array(actionArb, { minLength: 2, maxLength: 3 }) },
);

const stepArb: fc.Arbitrary<StepTemplate> = fc.oneof(
  { weight: 6, arbitrary: actionsArb.map((actions): StepTemplate => ({ type: 'fresh', actions })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ pick: fc.nat(), variant: fc.constantFrom<ReplayVariant>('same', 'reshaped', 'different') })
      .map((replay): StepTemplate => ({ type: 'replay', ...replay })),
  },
);

export const stepsArb: fc.Arbitrary<StepTemplate[]> = fc.array(stepArb, { minLength: 1, maxLength: 30, size: 'max' });

// ---------------------------------------------------------------------------------------------------
// Materializing templates into operations.

/**
 * What the script meant a step to be; the reference ledger must agree (see INTENDED), or the test is wrong.
 * `malformed`: it names its own key as a hold. `reuse`: other actions under a key that only malformed
 * operations used so far, so nothing was stored under it: a first use, not a conflict.
 */
export type Intent = 'first' | 'replay' | 'conflict' | 'malformed' | 'reuse';

export const INTENDED: Record<Intent, ModelOutcome['kind'][]> = {
  first: ['applied', 'rejected'],
  reuse: ['applied', 'rejected'],
  replay: ['replayed'],
  conflict: ['conflict'],
  malformed: ['invalid'],
};

export interface MaterializedStep {
  op: Operation;
  intent: Intent;
}

export interface KeyEntry {
  key: string;
  /** The actions stored under the key, or (while `malformed`) the actions last refused under it. */
  actions: Action[];
  /** Amounts of the key's pending legs. */
  held: number[];
  /** Only malformed operations used the key so far: nothing is stored under it. */
  malformed: boolean;
}

export interface MaterializerOptions {
  /** Prefix of keys and account ids. */
  prefix?: string;
  /** Milliseconds in a time unit of the templates. */
  timeUnitMs: number;
  /** Keys of the holds still pending, to aim post, void and expire at them often. */
  pendingHolds?: () => ReadonlySet<string>;
}

/** Turns step templates into operations, remembering each key's actions and the amounts it held. */
export class Materializer {
  readonly keys: KeyEntry[] = [];
  private readonly prefix: string;

  constructor(private readonly options: MaterializerOptions) {
    this.prefix = options.prefix ?? '';
  }

  next(step: StepTemplate, nowMs: number): MaterializedStep {
    if (step.type === 'replay' && this.keys.length > 0) {
      // A third of replays go to a key never stored, when there is one: rare otherwise.
      const malformed = this.keys.filter((k) => k.malformed);
      const pool = step.pick % 3 === 0 && malformed.length > 0 ? malformed : this.keys;
      const entry = pool[Math.floor(step.pick / 3) % pool.length]!;
      if (step.variant === 'different' && entry.malformed) {
        // The same key, now without the self-references: the key is free, so this is its first use.
        const kept = entry.actions.filter((a) => a.type === 'transfer' || a.hold !== entry.key);
        entry.actions = kept.length > 0 ? kept : [{ type: 'void', hold: this.unknownHold() }];
        entry.malformed = false;
        return { op: { key: entry.key, actions: entry.actions }, intent: 'reuse' };
      }
      const actions = step.variant === 'same' ? entry.actions : step.variant === 'reshaped' ? entry.actions.map(reshape) : changeMeaning(entry.actions);
      return { op: { key: entry.key, actions }, intent: entry.malformed ? 'malformed' : step.variant === 'different' ? 'conflict' : 'replay' };
    }
    const key = `${this.prefix}k${this.keys.length}`;
    const templates: ActionTemplate[] = step.type === 'fresh' ? step.actions : [{ type: 'void', hold: { kind: 'unknown' } }];
    const actions: Action[] = [];
    const held: number[] = [];
    let holdExpiresIn: number | null | undefined;
    for (const template of templates) {
      if (template.type === 'transfer') {
        // The pending transfers of one operation form one hold with one deadline (the ledger refuses
        // others as malformed), so later pending legs take the first one's expiry.
        if (template.leg.pending && holdExpiresIn === undefined) holdExpiresIn = template.leg.expiresIn;
        const leg = template.leg.pending ? { ...template.leg, expiresIn: holdExpiresIn as number | null } : template.leg;
        actions.push(this.transferAction(leg, actions.length, nowMs));
        if (template.leg.pending) held.push(template.leg.amount);
        continue;
      }
      const hold = this.resolveHold(template.hold, key, held);
      if (template.type === 'void') actions.push({ type: 'void', hold: hold.key });
      else if (template.type === 'expire')
        actions.push({
          type: 'expire',
          hold: hold.key,
          ...(template.asOfIn === null ? {} : { asOf: new Date(nowMs + template.asOfIn * this.options.timeUnitMs) }),
        });
      else actions.push({ type: 'post', hold: hold.key, ...postAmounts(template, hold.held) });
    }
    const malformed = actions.some((a) => a.type !== 'transfer' && a.hold === key);
    this.keys.push({ key, actions, held, malformed });
    return { op: { key, actions }, intent: malformed ? 'malformed' : 'first' };
  }

  private unknownHold(): string {
    return `${this.prefix}no-such-hold`;
  }

  private transferAction(leg: LegTemplate, index: number, nowMs: number): Action {
    const [debit, credit] = leg.accounts;
    const expiresAt = leg.pending && leg.expiresIn !== null ? new Date(nowMs + leg.expiresIn * this.options.timeUnitMs) : undefined;
    return {
      type: 'transfer',
      debit: `${this.prefix}${SLOT_NAMES[debit]!}`,
      credit: `${this.prefix}${SLOT_NAMES[credit]!}`,
      amount: leg.amount,
      ...(leg.pending ? { pending: true } : {}),
      ...(expiresAt === undefined ? {} : { expiresAt: leg.expiryAsDate ? expiresAt : expiresAt.toISOString() }),
      ...(leg.withMetadata ? { metadata: { leg: index, b: 'second', a: { z: 1, y: [1, 2] } } } : {}),
    };
  }

  private resolveHold(ref: HoldRef, ownKey: string, ownHeld: number[]): { key: string; held: number[] } {
    if (ref.kind === 'self') return { key: ownKey, held: [...ownHeld] };
    const holders = this.keys.filter((k) => k.held.length > 0);
    const candidates = holders.length > 0 ? holders : this.keys;
    if (ref.kind === 'unknown' || candidates.length === 0) return { key: this.unknownHold(), held: [] };
    // Mostly a hold the reference ledger says is still pending (else one of the two newest); sometimes any
    // earlier one, settled, refused or never a hold, since those refusals need testing too.
    const pending = this.options.pendingHolds?.() ?? new Set<string>();
    const live = holders.filter((k) => pending.has(k.key));
    const choice = ref.pick % 4;
    const pool = choice === 3 ? candidates : live.length > 0 ? live : candidates.slice(-2);
    const target = pool[Math.floor(ref.pick / 4) % pool.length]!;
    return { key: target.key, held: target.held };
  }
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

/** The same action spelled differently (as a client retrying over JSON might): still the same request. */
export function reshape(action: Action): Action {
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
      // asOf is when the sweeper looked, not part of what was asked (and before every expiry, were it read).
      return { type: 'expire', hold: action.hold, ...(action.asOf === undefined ? { asOf: new Date(0) } : {}) };
  }
}

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  return value;
}

/** Other actions under the same key: an idempotency conflict once the key is stored. Keeps self-references. */
export function changeMeaning(actions: Action[]): Action[] {
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
// The reference ledger: one operation at a time on plain maps, all or nothing by working on a copy.

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
export type ModelOutcome =
  | { kind: 'applied' }
  | { kind: 'rejected'; code: LedgerErrorCode }
  | { kind: 'replayed'; answer: ModelAnswer }
  | { kind: 'conflict' }
  /** Malformed: thrown before anything is read, and nothing stored. */
  | { kind: 'invalid'; code: LedgerErrorCode; field: string };

export interface TransferSummary {
  debit: string;
  credit: string;
  amount: number;
  state: TransferState;
  postedAmount: number | null;
}

export const summarize = (t: Transfer): TransferSummary => ({
  debit: t.debitAccountId,
  credit: t.creditAccountId,
  amount: t.amount,
  state: t.state,
  postedAmount: t.postedAmount,
});

/** What an operation asks for, for the model's own idempotency check (spelling does not count). */
export function meaningOf(actions: Action[]): string {
  return JSON.stringify(
    actions.map((a) => {
      if (a.type === 'transfer') {
        return [
          a.type,
          a.debit,
          a.credit,
          a.amount,
          a.pending === true,
          a.expiresAt === undefined ? null : new Date(a.expiresAt).getTime(),
          sortKeys(a.metadata ?? null),
        ];
      }
      return a.type === 'post' ? [a.type, a.hold, a.amounts ?? null] : [a.type, a.hold];
    }),
  );
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object')
    return Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, sortKeys(v)]);
  return value;
}

export class ReferenceLedger {
  private readonly accounts: ReadonlyMap<string, AccountSpec>;
  private balances: Map<string, number>;
  /** Every transfer, by the key of the operation that created it, in creation order. */
  private transfers = new Map<string, ModelTransfer[]>();
  /** The idempotency store: the first answer of every key, by key. Malformed operations never get here. */
  private answers = new Map<string, { meaning: string; answer: ModelAnswer }>();

  constructor(accounts: Iterable<AccountSpec>) {
    this.accounts = new Map([...accounts].map((a) => [a.id, a]));
    this.balances = new Map([...this.accounts.keys()].map((id) => [id, 0]));
  }

  clone(): ReferenceLedger {
    const copy = new ReferenceLedger(this.accounts.values());
    copy.balances = new Map(this.balances);
    copy.transfers = new Map([...this.transfers].map(([key, list]) => [key, list.map((t) => ({ ...t }))]));
    copy.answers = new Map(this.answers);
    return copy;
  }

  /** Everything later operations can observe, as one comparable string. */
  snapshot(): string {
    const sorted = <T>(map: Map<string, T>) => [...map].sort(([a], [b]) => (a < b ? -1 : 1));
    return JSON.stringify([sorted(this.balances), sorted(this.transfers), sorted(this.answers)]);
  }

  execute(op: Operation, nowMs: number): ModelOutcome {
    // Resolving the hold it places is malformed: refused before any state is read, whatever the key has
    // stored, and nothing is stored, so the key stays free for other actions.
    const selfResolving = op.actions.findIndex((a) => a.type !== 'transfer' && a.hold === op.key);
    if (selfResolving >= 0) return { kind: 'invalid', code: 'invalid_operation', field: `actions[${selfResolving}].hold` };
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

  /** Keys with a stored answer. */
  storedKeys(): string[] {
    return [...this.answers.keys()];
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
      if (
        action.type === 'post' &&
        action.amounts !== undefined &&
        (action.amounts.length !== hold.length || action.amounts.some((a, i) => a > hold[i]!.amount))
      ) {
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

  transfersOf(key: string): TransferSummary[] {
    return (this.transfers.get(key) ?? []).map((t) => ({ debit: t.debit, credit: t.credit, amount: t.amount, state: t.state, postedAmount: t.postedAmount }));
  }

  transferStates(): Record<string, TransferSummary[]> {
    return Object.fromEntries([...this.transfers.keys()].map((key) => [key, this.transfersOf(key)]));
  }
}

/**
 * An answer of the ledger (a plan's outcome, or what `Ledger.execute` returned or threw) reduced to what
 * the reference ledger can tell. Validation names the malformed field; a refusal decided against the
 * ledger's state never does.
 */
export function kindOf(outcome: Outcome): ModelOutcome {
  if (outcome.ok) return outcome.result.replayed ? { kind: 'replayed', answer: { ok: true } } : { kind: 'applied' };
  const { code, replayed, detail } = outcome.error;
  if (replayed) return { kind: 'replayed', answer: { ok: false, code } };
  if (code === 'idempotency_conflict') return { kind: 'conflict' };
  return typeof detail.field === 'string' ? { kind: 'invalid', code, field: detail.field } : { kind: 'rejected', code };
}
