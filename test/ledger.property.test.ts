// Property test of the Ledger against the real PostgreSQL: random scripts of operations (test/support/
// ledger-model.ts) go through `Ledger.execute` (batched, two batches in flight), or each in its own
// `Ledger.transaction` alternately from two Ledger instances (two processes' memories, each stale about
// the other's writes), and every answer, the final balances and holds, the stored requests, the SQL
// invariants and a full replay of the script are checked against the plain reference ledger of ledger-model.ts. Operations are sent together (Promise.all) when the
// reference ledger gives the same answers in every order, and one after another otherwise, so the reference
// stays exact however the batches interleave.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Ledger, LedgerError, type Operation, type OperationResult } from '../src/ledger/index.ts';
import type { Outcome } from '../src/ledger/plan.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import {
  accountsFor,
  genesisOperation,
  INTENDED,
  kindOf,
  Materializer,
  ReferenceLedger,
  stepsArb,
  summarize,
  type ModelOutcome,
  type StepTemplate,
} from './support/ledger-model.ts';

/** The script's time unit: the database clock, which the test cannot move, never sits near an expiry. */
const HOUR = 3_600_000;
const NUM_RUNS = 25;

let db: TestDatabase;
let ledger: Ledger;
let other: Ledger;

beforeAll(async () => {
  db = await createTestDatabase();
  ledger = new Ledger(db.pool, { batchSize: 32, batchConcurrency: 2 });
  other = new Ledger(db.pool, { batchSize: 32, batchConcurrency: 2 });
});

interface Script {
  steps: StepTemplate[];
  /** How many operations are sent at a time (together when the order cannot matter). */
  chunkSizes: number[];
}

const scriptArb: fc.Arbitrary<Script> = fc.record({
  steps: stepsArb,
  chunkSizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }),
});

// ---------------------------------------------------------------------------------------------------
// Sending operations together.

/** True when the model gives every operation the same answer, and ends in the same state, in every order. */
function orderIndependent(model: ReferenceLedger, ops: Operation[], nowMs: number): boolean {
  if (ops.length < 2) return true;
  let first: string | undefined;
  for (const order of permutations(ops.map((_, i) => i))) {
    const trial = model.clone();
    const outcomes: ModelOutcome[] = [];
    for (const i of order) outcomes[i] = trial.execute(ops[i]!, nowMs);
    const result = JSON.stringify(outcomes) + trial.snapshot();
    if (first === undefined) first = result;
    else if (result !== first) return false;
  }
  return true;
}

function permutations(items: number[]): number[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

// ---------------------------------------------------------------------------------------------------
// Talking to the real ledger.

type Send = (op: Operation) => Promise<Outcome>;

async function answerOf(run: () => Promise<OperationResult>): Promise<Outcome> {
  try {
    return { ok: true, result: await run() };
  } catch (error) {
    if (error instanceof LedgerError) return { ok: false, error };
    throw error;
  }
}

const throughExecute: Send = (op) => answerOf(() => ledger.execute(op));

/**
 * Each operation in a transaction of its own, from the two instances in turn. A refusal is an answer
 * the caller takes inside the transaction (as the credits domain does), so the transaction commits and
 * the refusal stays stored, as `execute` stores it.
 */
let turn = 0;
const throughTransactions: Send = (op) => {
  const l = turn++ % 2 ? other : ledger;
  return l.transaction((client) => answerOf(() => l.executeIn(client, op)));
};

/** What a replay must repeat: the transfers answered, or the error stored. */
const storedPart = (answer: Outcome) => (answer.ok ? { transfers: answer.result.transfers } : { error: answer.error.toJSON() });

let runCount = 0;
let lastRunPassed = true;

interface RunStats {
  operations: number;
  sentTogether: number;
  kinds: Map<string, number>;
}

async function runScript(script: Script, stats: RunStats, send: Send): Promise<void> {
  // A failed run may leave the shared database breaking an invariant, and every later run would then fail
  // on the same rows: fast-check would "shrink" to an empty script. Skipping such runs keeps the run that
  // broke it as the counterexample.
  if (!lastRunPassed) fc.pre((await ledger.checkInvariants()).ok);
  lastRunPassed = false;
  const prefix = `run${++runCount}-`;
  const accounts = accountsFor(prefix);
  await Promise.all(accounts.map((a) => ledger.openAccount({ id: a.id, asset: a.asset, kind: a.name, neverNegative: a.neverNegative })));
  const model = new ReferenceLedger(accounts);
  const materializer = new Materializer({ prefix, timeUnitMs: HOUR, pendingHolds: () => model.pendingHoldKeys() });

  const genesis = genesisOperation(prefix, 20);
  expect(model.execute(genesis, Date.now())).toEqual({ kind: 'applied' });
  const sent: { op: Operation; answer: Outcome }[] = [{ op: genesis, answer: await send(genesis) }];
  expect(sent[0]!.answer.ok).toBe(true);
  /** The answer stored under each key: what every replay of it must repeat. Malformed operations store none. */
  const storedAnswers = new Map([[genesis.key, sent[0]!.answer]]);

  for (let start = 0, chunk = 0; start < script.steps.length; chunk++) {
    const size = script.chunkSizes[chunk % script.chunkSizes.length]!;
    const nowMs = Date.now();
    const steps = script.steps.slice(start, start + size).map((step) => materializer.next(step, nowMs));
    start += size;
    const ops = steps.map((s) => s.op);
    const together = orderIndependent(model, ops, nowMs);
    const expected = ops.map((op) => model.execute(op, nowMs));
    const answers: Outcome[] = [];
    if (together) answers.push(...(await Promise.all(ops.map(send))));
    else for (const op of ops) answers.push(await send(op));

    for (const [i, op] of ops.entries()) {
      const answer = answers[i]!;
      const outcome = expected[i]!;
      expect(kindOf(answer), `${op.key}: ${JSON.stringify(op.actions)}`).toEqual(outcome);
      // The script's own intent and the model's rules must agree, or the test is wrong.
      expect(INTENDED[steps[i]!.intent], `${op.key} meant as ${steps[i]!.intent}`).toContain(outcome.kind);
      if (outcome.kind === 'replayed') expect(storedPart(answer), `replay of ${op.key}`).toEqual(storedPart(storedAnswers.get(op.key)!));
      if (outcome.kind === 'applied' || outcome.kind === 'rejected') storedAnswers.set(op.key, answer);
      sent.push({ op, answer });
      const label = outcome.kind === 'rejected' ? `rejected:${outcome.code}` : outcome.kind;
      stats.kinds.set(label, (stats.kinds.get(label) ?? 0) + 1);
    }
    stats.operations += ops.length;
    if (together && ops.length > 1) stats.sentTogether += ops.length;
  }

  const expectLedgerMatchesModel = async () => {
    const balances = await Promise.all(accounts.map((a) => ledger.balanceOf(a.id)));
    expect(balances.map((b) => [b.accountId, b.balance, b.pending])).toEqual(accounts.map((a) => [a.id, model.balanceOf(a.id), model.pendingOf(a.id)]));
    for (const [i, a] of accounts.entries()) if (a.neverNegative) expect(balances[i]!.balance).toBeGreaterThanOrEqual(0);
    const keys = [genesis.key, ...materializer.keys.map((k) => k.key)];
    const transfers = await Promise.all(keys.map((key) => ledger.transfersOf(key)));
    expect(Object.fromEntries(keys.map((key, i) => [key, transfers[i]!.map(summarize)]))).toEqual(
      Object.fromEntries(keys.map((key) => [key, model.transfersOf(key)])),
    );
    // Exactly the keys the model stored an answer for: none for a key only malformed operations used.
    const { rows } = await db.pool.query<{ key: string }>('select key from ledger_requests where starts_with(key, $1)', [prefix]);
    expect(rows.map((r) => r.key).sort()).toEqual(model.storedKeys().sort());
    const report = await ledger.checkInvariants();
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  };
  await expectLedgerMatchesModel();

  // Replay the whole run at once: every key answers as stored (or conflicts, or is malformed, again), nothing moves.
  const replayed = await Promise.all(sent.map(({ op }) => send(op)));
  for (const [i, { op }] of sent.entries()) {
    const expected: ModelOutcome = model.execute(op, Date.now());
    expect(['replayed', 'conflict', 'invalid']).toContain(expected.kind);
    expect(kindOf(replayed[i]!), `replay of ${op.key}`).toEqual(expected);
    if (expected.kind === 'replayed') expect(storedPart(replayed[i]!), `replay of ${op.key}`).toEqual(storedPart(storedAnswers.get(op.key)!));
    if (expected.kind === 'conflict') expect(replayed[i]!.ok === false && replayed[i]!.error.toJSON().detail).toEqual({ key: op.key });
  }
  await expectLedgerMatchesModel();
  lastRunPassed = true;
}

describe('Ledger against a reference ledger, on the real database', () => {
  for (const [how, send] of [
    ['batched by execute', throughExecute],
    ['each in a Ledger.transaction, from two instances in turn', throughTransactions],
  ] as const) {
    it(`answers every operation as the reference does, keeps the invariants, and a replay of the run changes nothing (${how})`, async () => {
      const stats: RunStats = { operations: 0, sentTogether: 0, kinds: new Map() };
      await fc.assert(
        fc.asyncProperty(scriptArb, (script) => runScript(script, stats, send)),
        { numRuns: NUM_RUNS },
      );
      // The runs must have exercised what they claim to: concurrency, and answers of every kind.
      expect(stats.sentTogether).toBeGreaterThan(stats.operations / 10);
      for (const kind of ['applied', 'replayed', 'conflict', 'invalid', 'rejected:insufficient_funds', 'rejected:hold_not_pending'])
        expect(stats.kinds.get(kind) ?? 0, kind).toBeGreaterThan(0);
      if (send === throughTransactions) {
        // Both ways of planning a step ran, and stale memories made proofs fail and transactions rerun.
        const steps = [ledger, other].map((l) => l.transactionStats);
        for (const field of ['optimisticSteps', 'lockedSteps', 'reruns'] as const) expect(steps[0]![field] + steps[1]![field], field).toBeGreaterThan(0);
      }
    });
  }
});
