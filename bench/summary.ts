// The summary of `npm run bench`: each target of the performance issue, from the JSON the benchmarks
// wrote, as one row — measured, reference (from the same run), ratio, PASS/MISS. Pure: no I/O, so the
// verdicts are unit-tested (test/bench.summary.test.ts).

export interface SummaryRow {
  target: string;
  measured: string;
  reference: string;
  ratio: string;
  verdict: 'PASS' | 'MISS' | 'no result';
}

/** Balance reads count as O(1) when the large ledger's p50 is within this factor of the small one's (noise). */
export const O1_TOLERANCE = 1.25;

type Json = Record<string, any>; // results read back from JSON files

const ms = (n: unknown) => (typeof n === 'number' ? `${n.toFixed(2)} ms` : '–');
const num = (n: unknown, unit = '') => (typeof n === 'number' ? `${Math.round(n).toLocaleString('en')}${unit}` : '–');
const times = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? `${n.toFixed(2)}x` : '–');
const verdict = (ok: boolean | undefined): SummaryRow['verdict'] => (ok === undefined ? 'no result' : ok ? 'PASS' : 'MISS');
const missing = (target: string): SummaryRow => ({ target, measured: '–', reference: '–', ratio: '–', verdict: 'no result' });

export function summarise(results: { ledger?: unknown; balances?: unknown; generations?: unknown; submit?: unknown; scale?: unknown }): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const generations = results.generations as Json | undefined;
  const floor = generations?.overhead;
  if (floor?.ratioToFloor) {
    rows.push({
      target: 'sync overhead p50 ≤ 1.3× the floor',
      measured: ms(floor.separateProcess.overheadP50Ms),
      reference: `floor ${ms(floor.floor.overheadP50Ms)}`,
      ratio: times(floor.ratioToFloor.p50),
      verdict: verdict(floor.ratioToFloor.p50 <= 1.3),
    });
    rows.push({
      target: 'sync overhead p99 ≤ 1.5× the floor',
      measured: ms(floor.separateProcess.overheadP99Ms),
      reference: `floor ${ms(floor.floor.overheadP99Ms)}`,
      ratio: times(floor.ratioToFloor.p99),
      verdict: verdict(floor.ratioToFloor.p99 <= 1.5),
    });
  } else rows.push(missing('sync overhead ≤ 1.3× (p50) / 1.5× (p99) the floor'));

  const submit = results.submit as Json | undefined;
  if (submit?.summary) {
    const s = submit.summary;
    rows.push({
      target: 'submit ≥ 1,500 accepted/s, 32 clients, worker running',
      measured: num(s.acceptedPerSecond, '/s'),
      reference: `ledger alone ${num(s.ledgerPairsPerSecond, ' pairs/s')}`,
      ratio: times(s.ratio),
      verdict: verdict(s.acceptedPerSecond >= 1500),
    });
    rows.push({
      target: 'submit p99 < 100 ms',
      measured: ms(s.p99Ms),
      reference: `p50 ${ms(s.p50Ms)}`,
      ratio: '–',
      verdict: typeof s.p99Ms === 'number' ? verdict(s.p99Ms < 100) : 'no result',
    }); // none counted: NaN, written as null
    const p = submit.proof as Json;
    rows.push({
      target: 'submit: 0 lost, 0 doubled, ledger check clean',
      measured: `${p.lost} lost, ${p.wrong} wrong, ${p.balanceMismatches} balance mismatches`,
      reference: `${num(p.accepted)} accepted`,
      ratio: '–',
      verdict: verdict(p.ok === true && submit.referenceLedgerOk === true),
    });
  } else rows.push(missing('submit ≥ 1,500 accepted/s, p99 < 100 ms, 0 lost, 0 doubled'));

  const ledger = results.ledger as Json | undefined;
  const pairs = (ledger?.results as Json[] | undefined)?.find((r) => r.scenario === 'shared-pool' && r.clients === 32);
  if (pairs) {
    rows.push({
      target: 'ledger ≥ 10,000 pairs/s, 32 clients, shared pool',
      measured: num(pairs.pairsPerSecond, ' pairs/s'),
      reference: 'target 10,000',
      ratio: times(pairs.pairsPerSecond / 10_000),
      verdict: verdict(pairs.pairsPerSecond >= 10_000),
    });
    rows.push({ target: 'ledger p99 < 50 ms', measured: ms(pairs.p99Ms), reference: `p50 ${ms(pairs.p50Ms)}`, ratio: '–', verdict: verdict(pairs.p99Ms < 50) });
  } else rows.push(missing('ledger ≥ 10,000 pairs/s at 32 clients, p99 < 50 ms'));

  const reads = (results.balances as Json | undefined)?.balanceReads;
  if (reads) {
    rows.push({
      target: `balance read O(1): p50 at ${num(reads.large.transfers)} ≈ at ${num(reads.small.transfers)} transfers`,
      measured: ms(reads.large.p50Ms),
      reference: ms(reads.small.p50Ms),
      ratio: times(reads.ratio.p50),
      verdict: verdict(reads.ratio.p50 <= O1_TOLERANCE && reads.invariantsOk === true),
    });
  } else rows.push(missing('balance read O(1)'));

  const runs = (results.scale as Json | undefined)?.runs as Json[] | undefined;
  if (runs && runs.length > 0) {
    const last = runs[runs.length - 1]!;
    rows.push({
      target: `scale-out ${runs.map((r) => r.processes).join('/')} processes: every proof clean`,
      measured: runs.map((r) => `${r.processes}: ${num(r.submit.acceptedPerSecond, '/s')}`).join(', '),
      reference: `${runs[0]!.processes} process: ${num(runs[0]!.submit.acceptedPerSecond, '/s')}`,
      ratio: times(last.ratioToFirst),
      verdict: verdict(runs.every((r) => r.proof.ok === true)),
    });
  } else rows.push(missing('scale-out'));
  return rows;
}

/** A Markdown table, ready to paste. */
export function formatSummary(rows: SummaryRow[]): string {
  const header = ['target', 'measured', 'reference (same run)', 'ratio', 'verdict'];
  const cells = rows.map((r) => [r.target, r.measured, r.reference, r.ratio, r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
