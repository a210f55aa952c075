// The verdicts of `npm run bench`'s summary (bench/summary.ts), from result files shaped as the
// benchmarks write them: a target met is PASS, one missed is MISS, a benchmark without a result says so,
// and a failed proof is never a PASS however fast the run was.
import { describe, expect, it } from 'vitest';
import { formatSummary, summarise } from '../bench/summary.ts';

const proof = (ok: boolean) => ({ accepted: 1000, lost: ok ? 0 : 1, wrong: 0, balanceMismatches: 0, ok });
const results = (over: { submitPerSecond?: number; submitOk?: boolean; readRatio?: number; scaleOk?: boolean } = {}) => ({
  ledger: { results: [{ scenario: 'shared-pool', clients: 32, pairsPerSecond: 6500, p50Ms: 4, p99Ms: 12 }] },
  balances: {
    balanceReads: {
      small: { transfers: 20_000, p50Ms: 1 },
      large: { transfers: 10_010_000, p50Ms: over.readRatio ?? 1.1 },
      ratio: { p50: over.readRatio ?? 1.1 },
      invariantsOk: true,
    },
  },
  generations: {
    overhead: {
      separateProcess: { overheadP50Ms: 3, overheadP99Ms: 9 },
      floor: { overheadP50Ms: 2.5, overheadP99Ms: 5 },
      ratioToFloor: { p50: 1.2, p99: 1.8 },
    },
  },
  submit: {
    summary: { acceptedPerSecond: over.submitPerSecond ?? 1600, p50Ms: 20, p99Ms: 80, ledgerPairsPerSecond: 6000, ratio: 0.27 },
    proof: proof(over.submitOk ?? true),
    referenceLedgerOk: true,
  },
  scale: {
    runs: [1, 2].map((processes) => ({
      processes,
      submit: { acceptedPerSecond: 400 * processes },
      ratioToFirst: processes,
      proof: proof(over.scaleOk ?? true),
    })),
  },
});
const verdicts = (rows: ReturnType<typeof summarise>) => Object.fromEntries(rows.map((r) => [r.target, r.verdict]));

describe('bench summary', () => {
  it('gives each target of the issue its verdict against its threshold', () => {
    expect(verdicts(summarise(results()))).toEqual({
      'sync overhead p50 ≤ 1.3× the floor': 'PASS',
      'sync overhead p99 ≤ 1.5× the floor': 'MISS',
      'submit ≥ 1,500 accepted/s, 32 clients, worker running': 'PASS',
      'submit p99 < 100 ms': 'PASS',
      'submit: 0 lost, 0 doubled, ledger check clean': 'PASS',
      'ledger ≥ 10,000 pairs/s, 32 clients, shared pool': 'MISS',
      'ledger p99 < 50 ms': 'PASS',
      'balance read O(1): p50 at 10,010,000 ≈ at 20,000 transfers': 'PASS',
      'scale-out 1/2 processes: every proof clean': 'PASS',
    });
  });

  it('misses a slow submit and a balance read that grows with the ledger, and never passes a failed proof', () => {
    const rows = verdicts(summarise(results({ submitPerSecond: 1499, readRatio: 30, submitOk: false, scaleOk: false })));
    expect(rows['submit ≥ 1,500 accepted/s, 32 clients, worker running']).toBe('MISS');
    expect(rows['balance read O(1): p50 at 10,010,000 ≈ at 20,000 transfers']).toBe('MISS');
    expect(rows['submit: 0 lost, 0 doubled, ledger check clean']).toBe('MISS');
    expect(rows['scale-out 1/2 processes: every proof clean']).toBe('MISS');
  });

  it('does not pass a latency target when no submission was counted (p99 written as null)', () => {
    const r = results();
    const rows = verdicts(summarise({ ...r, submit: { ...r.submit, summary: { ...r.submit.summary, acceptedPerSecond: 0, p50Ms: null, p99Ms: null } } }));
    expect(rows['submit p99 < 100 ms']).toBe('no result');
  });

  it('says "no result" for a benchmark that wrote none, and prints one table row per target', () => {
    const rows = summarise({});
    expect(rows.map((r) => r.verdict)).toEqual(rows.map(() => 'no result'));
    const table = formatSummary(summarise(results()));
    expect(table.split('\n')).toHaveLength(2 + 9);
    expect(table).toContain('| ledger ≥ 10,000 pairs/s, 32 clients, shared pool');
  });
});
