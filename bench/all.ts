// `npm run bench`: every benchmark of the performance issue, one after another, each as its own process
// (its own embedded PostgreSQL, output streamed as it runs), then one summary table — each target, the
// measured number, its reference from the same run, the ratio, PASS/MISS — and one JSON under
// bench/results/ with the machine, the load average before and after, the config and every number.
// Exits 1 when a correctness proof fails (lost or doubled work, a broken ledger invariant); a missed
// performance target is reported as MISS, not as a failure.   Run: npx tsx bench/all.ts --help
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadAverage, positive, ROOT, readFlags, UsageError, writeResult } from './lib.ts';
import { summarise, formatSummary } from './summary.ts';

const HELP = `Usage: npx tsx bench/all.ts [options]   (npm run bench -- [options])

  --seconds N          measured seconds per run of each benchmark (default 3, or BENCH_SECONDS)
  --seed-transfers N   ledger size for the balance-read comparison (default 1000000; the issue's
                       target is stated at 10000000, which adds ~3 minutes of seeding)
  --processes 1,2,4    process counts for the scale-out run (default 1,2,4)
  --calls N            sequential calls for each overhead comparison (default 150)
  --only a,b           run only some of: ledger, balances, generations, submit, scale
`;
const BENCHES = ['ledger', 'balances', 'generations', 'submit', 'scale'] as const;
type Bench = (typeof BENCHES)[number];

function options() {
  const values = readFlags(
    () =>
      parseArgs({
        args: process.argv.slice(2),
        options: {
          seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '3' },
          'seed-transfers': { type: 'string', default: '1000000' },
          processes: { type: 'string', default: '1,2,4' },
          calls: { type: 'string', default: '150' },
          only: { type: 'string', default: BENCHES.join(',') },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }),
    HELP,
  );
  const only = values.only.split(',').map((b) => b.trim());
  for (const b of only)
    if (!(BENCHES as readonly string[]).includes(b)) throw new UsageError(`--only: unknown benchmark "${b}" (expected ${BENCHES.join(', ')})`);
  return {
    seconds: positive('--seconds', values.seconds, 3600),
    seedTransfers: positive('--seed-transfers', values['seed-transfers'], 1_000_000_000),
    processes: values.processes,
    calls: positive('--calls', values.calls, 100_000),
    only: new Set(only as Bench[]),
  };
}

/** Runs one benchmark as its own process, its output streamed; resolves with its exit code. */
function run(args: string[]): Promise<number | null> {
  console.log(`\n$ npx tsx ${args.join(' ')}`);
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function main(): Promise<number> {
  const opts = options();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-all-'));
  const loadBefore = loadAverage();
  const started = performance.now();
  const s = String(opts.seconds);
  const plan: Record<Bench, string[]> = {
    ledger: ['bench/ledger.ts', '--seconds', s, '--out', path.join(dir, 'ledger.json')],
    balances: ['bench/ledger.ts', '--seed-transfers', String(opts.seedTransfers), '--seconds', s, '--out', path.join(dir, 'balances.json')],
    generations: ['bench/generations.ts', '--seconds', s, '--calls', String(opts.calls), '--out', path.join(dir, 'generations.json')],
    submit: ['bench/submit.ts', '--seconds', s, '--out', path.join(dir, 'submit.json')],
    scale: [
      'bench/scale.ts',
      '--seconds',
      s,
      '--processes',
      opts.processes,
      '--calls',
      String(Math.ceil(opts.calls / 2)),
      '--out',
      path.join(dir, 'scale.json'),
    ],
  };
  const exitCodes: Partial<Record<Bench, number | null>> = {};
  const results: Partial<Record<Bench, unknown>> = {};
  try {
    for (const bench of BENCHES) {
      if (!opts.only.has(bench)) continue;
      exitCodes[bench] = await run(plan[bench]);
      try {
        results[bench] = JSON.parse(readFileSync(path.join(dir, `${bench}.json`), 'utf8'));
      } catch {
        results[bench] = undefined; // it failed before writing: shown as "no result" below
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAfter = loadAverage();
  const rows = summarise(results);
  const minutes = (performance.now() - started) / 60_000;
  console.log(`\n${formatSummary(rows)}\n`);
  console.log(`${minutes.toFixed(1)} minutes; load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')} (${os.cpus().length} CPUs)`);
  const failed = Object.entries(exitCodes).filter(([, code]) => code !== 0);
  if (failed.length > 0)
    console.error(`failed (a proof, an invariant or the run itself): ${failed.map(([name, code]) => `${name} (exit ${code})`).join(', ')}`);
  const file = writeResult('bench', {
    loadAverage: { before: loadBefore, after: loadAfter },
    minutes: Number(minutes.toFixed(2)),
    config: { ...opts, only: [...opts.only] },
    exitCodes,
    summary: rows,
    results,
  });
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  return failed.length > 0 ? 1 : 0;
}

void main()
  .catch((error: unknown) => {
    console.error(error instanceof UsageError ? error.message : error);
    return 1;
  })
  .then((code) => process.exit(code));
