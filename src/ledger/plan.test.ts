// Property tests of the pure planner, no database. Random scripts of operations (test/support/ledger-model.ts)
// are planned batch by batch; each plan is written to an in-memory table set exactly the way store.ts writes
// it, and the result is checked against the ledger invariants, against the same operations planned one at a
// time, and against the plain reference ledger of ledger-model.ts, written without looking at how plan.ts decides.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accountsFor,
  actionArb,
  changeMeaning,
  genesisOperation,
  INTENDED,
  kindOf,
  Materializer,
  meaningOf,
  ReferenceLedger,
  reshape,
  stepsArb,
  summarize,
  type Intent,
  type MaterializedStep,
  type ModelOutcome,
  type StepTemplate,
  type TransferSummary,
} from '../../test/support/ledger-model.ts';
import { LedgerError, type LedgerErrorCode } from './errors.ts';
import { fingerprintOf, MAX_AMOUNT, planBatch, validateOperation, type BatchPlan, type BatchState, type Outcome, type StoredRequest } from './plan.ts';
import type { Action, Operation, Transfer } from './types.ts';

const MINUTE = 60_000;
const START = Date.parse('2030-01-01T00:00:00.000Z');
const NUM_RUNS = 200;
const ACCOUNTS = accountsFor('');
const GENESIS = genesisOperation('', 40);

/** toEqual, but only paid for when it fails: tens of thousands of checks run per test, and expect() is slow. */
function expectEqual(actual: unknown, expected: unknown, message?: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, message).toEqual(expected);
}

/** What validateOperation throws, if anything. */
function validationError(op: Operation): LedgerError | undefined {
  try {
    validateOperation(op);
    return undefined;
  } catch (error) {
    if (error instanceof LedgerError) return error;
    throw error;
  }
}

interface Script {
  steps: StepTemplate[];
  batchSizes: number[];
  /** Minutes the clock moves before each batch, so holds expire between batches. */
  advances: number[];
}

const scriptArb: fc.Arbitrary<Script> = fc.record({
  steps: stepsArb,
  batchSizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 8 }),
  advances: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
});

// ---------------------------------------------------------------------------------------------------
// The planner under test, with its plans written to in-memory tables the way store.ts writes them.

class PlannedLedger {
  readonly balances = new Map(ACCOUNTS.map((a) => [a.id, 0]));
  readonly requests = new Map<string, StoredRequest>();
  /** ledger_transfers, by id. */
  readonly transfers = new Map<string, Transfer>();
  private readonly positions = new Set<string>();
  private transferCount = 0;

  /**
   * What `Ledger.execute` does with the operations of one batch: a malformed operation throws before
   * anything is read and never joins the batch; the others are planned together and the plan written.
   */
  run(ops: Operation[], now: Date): BatchRun {
    const refusals = ops.map(validationError);
    const planned = ops.filter((_, i) => refusals[i] === undefined);
    const state = this.lockedState(planned, now);
    const plan = planBatch(planned, state, () => `tr_${String(++this.transferCount).padStart(6, '0')}`);
    this.write(plan, now);
    let next = 0;
    const outcomes = refusals.map((error): Outcome => (error ? { ok: false, error } : plan.outcomes[next++]!));
    return { outcomes, planned, state, plan };
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
      ACCOUNTS.filter((a) => accountIds.has(a.id)).map((a) => [
        a.id,
        { id: a.id, asset: a.asset, neverNegative: a.neverNegative, balance: this.balances.get(a.id)! },
      ]),
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
      expectEqual(transfer, {
        ...before,
        state: transfer.state,
        postedAmount: transfer.postedAmount,
        resolvedAt: now.toISOString(),
        resolvedBy: transfer.resolvedBy,
      });
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
    return Object.fromEntries([...byKey].map(([key, list]) => [key, list.sort((a, b) => a.position - b.position).map(summarize)]));
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
    for (const [id, value] of derived)
      if (value !== this.balances.get(id)) violations.push(`balance-derivable: ${id} is ${this.balances.get(id)}, transfers say ${value}`);
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

interface BatchRun {
  /** One per operation; a malformed operation's is the error validation threw. */
  outcomes: Outcome[];
  /** The well-formed operations, planned together. */
  planned: Operation[];
  /** What the plan was made from: the stored requests, holds and accounts read for the batch. */
  state: BatchState;
  plan: BatchPlan;
}

interface StepRecord extends MaterializedStep {
  /** The outcome inside its batch. */
  batched: Outcome;
  /** The same operation planned alone, after the same operations before it. */
  alone: Outcome;
  alonePlan: BatchPlan;
  /** The stored request as it stood before and after the operation was planned alone. */
  storedBefore: StoredRequest | undefined;
  storedAfter: StoredRequest | undefined;
  expected: ModelOutcome;
}

interface BatchRecord extends BatchRun {
  /** Lowest point of each account's balance at the batch's operation boundaries, relative to its start, per the reference ledger. */
  modelDips: Map<string, number>;
}

interface PlayedScript {
  records: StepRecord[];
  batches: BatchRecord[];
  batched: PlannedLedger;
  alone: PlannedLedger;
  model: ReferenceLedger;
  violationsAfterBatches: string[][];
  materializer: Materializer;
  finalNowMs: number;
}

function play(script: Script): PlayedScript {
  const model = new ReferenceLedger(ACCOUNTS);
  const materializer = new Materializer({ timeUnitMs: MINUTE, pendingHolds: () => model.pendingHoldKeys() });
  const batched = new PlannedLedger();
  const alone = new PlannedLedger();
  const records: StepRecord[] = [];
  const batches: BatchRecord[] = [];
  const violationsAfterBatches: string[][] = [];
  let nowMs = START;
  for (const ledger of [batched, alone]) ledger.run([GENESIS], new Date(nowMs));
  expect(model.execute(GENESIS, nowMs)).toEqual({ kind: 'applied' });
  for (let start = 0, batch = 0; start < script.steps.length; batch++) {
    const size = script.batchSizes[batch % script.batchSizes.length]!;
    nowMs += script.advances[batch % script.advances.length]! * MINUTE;
    const now = new Date(nowMs);
    const steps = script.steps.slice(start, start + size).map((step) => materializer.next(step, nowMs));
    start += size;
    const run = batched.run(
      steps.map((s) => s.op),
      now,
    );
    const startBalances = new Map(ACCOUNTS.map((a) => [a.id, model.balanceOf(a.id)]));
    const modelDips = new Map(ACCOUNTS.map((a) => [a.id, 0]));
    for (const [i, step] of steps.entries()) {
      const storedBefore = alone.requests.get(step.op.key);
      const aloneRun = alone.run([step.op], now);
      const expected = model.execute(step.op, nowMs);
      for (const a of ACCOUNTS) modelDips.set(a.id, Math.min(modelDips.get(a.id)!, model.balanceOf(a.id) - startBalances.get(a.id)!));
      records.push({
        ...step,
        batched: run.outcomes[i]!,
        alone: aloneRun.outcomes[0]!,
        alonePlan: aloneRun.plan,
        storedBefore,
        storedAfter: alone.requests.get(step.op.key),
        expected,
      });
    }
    batches.push({ ...run, modelDips });
    violationsAfterBatches.push(batched.invariantViolations());
  }
  return { records, batches, batched, alone, model, violationsAfterBatches, materializer, finalNowMs: nowMs };
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
  const seen = outcome.ok ? outcome : { name: outcome.error.name, code: outcome.error.code, detail: outcome.error.detail, replayed: outcome.error.replayed };
  expectEqual(seen, { name: 'LedgerError', code: 'idempotency_conflict', detail: { key }, replayed: false });
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
    const intents = new Map<Intent, number>();
    fc.assert(
      fc.property(scriptArb, (script) => {
        const { records, batched, model, violationsAfterBatches } = play(script);
        for (const record of records) {
          expectEqual(kindOf(record.batched), record.expected, `${record.op.key}: ${JSON.stringify(record.op.actions)}`);
          // The script's own intent and the model's rules must agree, or the test is wrong.
          expectEqual(
            INTENDED[record.intent].includes(record.expected.kind),
            true,
            `${record.op.key} meant as ${record.intent}, model says ${record.expected.kind}`,
          );
          intents.set(record.intent, (intents.get(record.intent) ?? 0) + 1);
        }
        for (const violations of violationsAfterBatches) expectEqual(violations, []);
        for (const account of ACCOUNTS) {
          expect([account.id, batched.balances.get(account.id), batched.pendingOf(account.id)]).toEqual([
            account.id,
            model.balanceOf(account.id),
            model.pendingOf(account.id),
          ]);
          if (account.neverNegative) expect(batched.balances.get(account.id)).toBeGreaterThanOrEqual(0);
        }
        expect(batched.transferStates()).toEqual(model.transferStates());
        // Malformed operations stored nothing: the keys with a stored request are exactly the model's.
        expect([...batched.requests.keys()].sort()).toEqual(model.storedKeys().sort());
      }),
      { numRuns: NUM_RUNS },
    );
    // The scripts exercised every kind of step, a key reused after malformed operations included.
    for (const intent of Object.keys(INTENDED) as Intent[]) expect(intents.get(intent) ?? 0, intent).toBeGreaterThan(0);
  });

  it('decides a batch exactly as its operations one at a time, and a refused operation writes nothing', () => {
    fc.assert(
      fc.property(scriptArb, (script) => {
        const { records, batched, alone } = play(script);
        for (const record of records) {
          expectEqual(comparable(record.batched), comparable(record.alone));
          const plan = record.alonePlan;
          const outcome = record.alone;
          if (kindOf(outcome).kind === 'invalid') {
            // Refused before anything was read: not planned, and the key is left as it was.
            expectEqual(plan.newRequests, []);
            expectNoWrites(plan);
            expectEqual(record.storedAfter, record.storedBefore);
          } else if (record.storedBefore) {
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
          if (record.intent !== 'replay' && record.intent !== 'conflict') continue;
          const stored = record.storedBefore!;
          expectEqual(nonZeroDeltas(record.alonePlan), []);
          if (record.intent === 'conflict') expectConflict(record.alone, record.op.key);
          else expectStoredAnswer(record.alone, stored);
        }
        // Every key, replayed later, all in one batch: same answers, no writes at all. A key that only
        // malformed operations used has nothing stored: they are refused by validation again, every time.
        const replays: Operation[] = [];
        for (const { key, actions, malformed } of materializer.keys) {
          const variants = [actions, actions.map(reshape), changeMeaning(actions)].map((a) => ({ key, actions: a }));
          if (!malformed) {
            replays.push(...variants);
            continue;
          }
          expectEqual(batched.requests.has(key), false);
          const field = `actions[${actions.findIndex((a) => a.type !== 'transfer' && a.hold === key)}].hold`;
          for (const op of variants) {
            const error = validationError(op);
            expectEqual(error && kindOf({ ok: false, error }), { kind: 'invalid', code: 'invalid_operation', field });
          }
        }
        const { plan, outcomes } = batched.run(replays, new Date(finalNowMs + laterMinutes * MINUTE));
        expectNoWrites(plan);
        expectEqual(plan.newRequests, []);
        for (const [i, op] of replays.entries()) {
          if (i % 3 === 2) expectConflict(outcomes[i]!, op.key);
          else expectStoredAnswer(outcomes[i]!, batched.requests.get(op.key)!);
        }
        // ...and the answer is the one the key got when it was first stored.
        for (const record of records) {
          if (record.intent !== 'first' && record.intent !== 'reuse') continue;
          const again = outcomes[replays.findIndex((op) => op.key === record.op.key)]!;
          expectEqual(
            again.ok ? again.result.transfers : again.error.toJSON(),
            record.batched.ok ? record.batched.result.transfers : record.batched.error.toJSON(),
          );
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('reports the lowest point of each balance within a batch, and its plan holds from any balance at least that high', () => {
    fc.assert(
      fc.property(scriptArb, (script) => {
        for (const { planned, state, plan, modelDips } of play(script).batches) {
          for (const [id, dip] of plan.lowestDips) expectEqual(dip <= 0, true, `lowest dip of ${id} is ${dip}`);
          // store.ts updates (and checks) every account with a balance change, by its lowest dip.
          for (const id of plan.balanceDeltas.keys()) expectEqual(plan.lowestDips.has(id), true, `no lowest dip for ${id}`);
          expectEqual(new Map(ACCOUNTS.map((a) => [a.id, plan.lowestDips.get(a.id) ?? 0])), modelDips);
          for (const [id, dip] of plan.lowestDips) {
            const account = state.accounts.get(id)!;
            if (account.neverNegative) expectEqual(account.balance + dip >= 0, true, `${id} read at ${account.balance} dips by ${dip}`);
          }
          // What an optimistic batch relies on: from the lowest balances the plan allows (each never-negative
          // account at -lowestDip), the same operations apply, move the same money, and dip as low.
          const lowest: BatchState = {
            ...state,
            accounts: new Map([...state.accounts].map(([id, a]) => [id, a.neverNegative ? { ...a, balance: 0 - (plan.lowestDips.get(id) ?? 0) } : a])),
          };
          const replanned = planBatch(
            planned,
            lowest,
            (() => {
              let n = 0;
              return () => `tr_lowest_${++n}`;
            })(),
          );
          expectEqual(replanned.outcomes.map(kindOf), plan.outcomes.map(kindOf));
          expectEqual(replanned.balanceDeltas, plan.balanceDeltas);
          expectEqual(replanned.lowestDips, plan.lowestDips);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('fingerprintOf', () => {
  const actionsArb = fc.tuple(fc.array(actionArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1000 })).map(([templates, minutes]) => {
    const materializer = new Materializer({ timeUnitMs: MINUTE });
    // An earlier hold to point at, so post/void/expire templates name a real key.
    materializer.next(
      {
        type: 'fresh',
        actions: [{ type: 'transfer', leg: { accounts: [0, 1], amount: 5, pending: true, expiresIn: null, expiryAsDate: false, withMetadata: false } }],
      },
      START,
    );
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
  /** `field`: the field the error names, for corruptions of one action (which lands at `actions[position]`). */
  type Corruption = { name: string; code: LedgerErrorCode; field?: string; corrupt: (op: Operation) => unknown };
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
    // An operation cannot resolve the hold it places (refused even with no hold placed, as there is no state to look at).
    {
      name: 'post of its own hold',
      code: 'invalid_operation',
      field: 'hold',
      corrupt: (op) => ({ ...op, actions: [{ type: 'post', hold: op.key, amounts: [1] }] }),
    },
    { name: 'void of its own hold', code: 'invalid_operation', field: 'hold', corrupt: (op) => ({ ...op, actions: [{ type: 'void', hold: op.key }] }) },
    {
      name: 'expire of its own hold',
      code: 'invalid_operation',
      field: 'hold',
      corrupt: (op) => ({ ...op, actions: [{ type: 'expire', hold: op.key, asOf: new Date(START) }] }),
    },
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
        if (corrupted.actions.length === 1)
          corrupted.actions = [...validOp().actions.slice(0, position), corrupted.actions[0]!, ...validOp().actions.slice(position)];
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
        if (corruption.field) expect((error as LedgerError).detail.field, corruption.name).toBe(`actions[${position}].${corruption.field}`);
      }),
      { numRuns: 100 },
    );
  });
});
