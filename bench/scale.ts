// Scale-out on one database: for each count n (default 1, 2, 4), n `tally serve` and n `tally worker`
// processes on a fresh database of one embedded PostgreSQL, `--clients` clients spread across the APIs
// (client i → API i mod n) submitting with the workers running, then the queue drained, then the sync
// overhead (sequential /api/infer across the APIs against the provider called directly), then the proof
// (0 lost, 0 charged twice, balances exact, `tally ledger check` clean). Prints the curve and each
// count's ratio to the 1-process run. On a machine with few cores the curve shows where the CPU runs
// out; the proof shows that no process-local state breaks correctness when it does.
//   Run: npx tsx bench/scale.ts --help
import { parseArgs } from 'node:util';
import { CREDITS_PER_USER, startCluster, submitLoad, syncOverhead, warmUp, type OverheadResult, type SubmitResult } from './cluster.ts';
import { loadAverage, positive, round, runMain, startPostgres, readFlags, writeResult } from './lib.ts';
import { formatProof, proveGenerations, type Proof } from './proof.ts';

const HELP = `Usage: npx tsx bench/scale.ts [options]

  --processes 1,2,4   API + worker process pairs, one run per value (default 1,2,4)
  --seconds N         measured seconds of submissions per run, after 1 s of warm-up (default 5, or BENCH_SECONDS)
  --clients N         concurrent submitting clients, one user each (default 32)
  --calls N           sequential /api/infer calls (and as many direct) for the overhead (default 100)
  --out FILE          write the JSON result there instead of bench/results/scale-<time>.json
`;

export interface ScaleRun {
  processes: number;
  submit: SubmitResult;
  overhead: OverheadResult;
  proof: Proof;
  /** acceptedPerSecond ÷ the 1-process run's (the first run's, when 1 is not among the counts). */
  ratioToFirst: number;
}

function options() {
  const values = readFlags(
    () =>
      parseArgs({
        args: process.argv.slice(2),
        options: {
          processes: { type: 'string', default: '1,2,4' },
          seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '5' },
          clients: { type: 'string', default: '32' },
          calls: { type: 'string', default: '100' },
          out: { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }),
    HELP,
  );
  return {
    processes: values.processes.split(',').map((n) => positive('--processes', n.trim(), 16)),
    seconds: positive('--seconds', values.seconds, 3600),
    clients: positive('--clients', values.clients, 1000),
    calls: positive('--calls', values.calls, 100_000),
    out: values.out,
  };
}

async function main(): Promise<number> {
  const opts = options();
  const loadBefore = loadAverage();
  const server = await startPostgres();
  const runs: ScaleRun[] = [];
  for (const processes of opts.processes) {
    const cluster = await startCluster(server.url, { database: `bench_scale_${processes}`, processes, users: opts.clients, poolSize: 8 });
    const ids = await warmUp(cluster);
    const load = await submitLoad(cluster, opts.seconds);
    const overhead = await syncOverhead(cluster, opts.calls);
    const proof = await proveGenerations({
      pool: cluster.pool,
      env: cluster.env,
      ids: [...ids, ...load.ids, ...overhead.ids],
      users: cluster.users.map((u) => u.id),
      creditsPerUser: CREDITS_PER_USER,
      balanceOf: async (user) => (await cluster.services.credits.balance(user)).balance,
    });
    await cluster.stop();
    const first = runs[0]?.submit.acceptedPerSecond ?? load.result.acceptedPerSecond; // the first count run (1 by default)
    const run = { processes, submit: load.result, overhead: overhead.result, proof, ratioToFirst: load.result.acceptedPerSecond / first };
    runs.push(run);
    const s = run.submit;
    const o = run.overhead;
    console.log(
      `${processes} process${processes === 1 ? '' : 'es'}: ${s.acceptedPerSecond.toFixed(0)} submits/s (${run.ratioToFirst.toFixed(2)}x), p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms; ` +
        `drained in ${s.drainSeconds.toFixed(1)} s; sync overhead p50 ${o.overheadP50Ms.toFixed(2)} ms, p99 ${o.overheadP99Ms.toFixed(2)} ms\n  proof: ${formatProof(proof)}`,
    );
  }
  console.log(`\n${formatCurve(runs)}`);
  const loadAfter = loadAverage();
  console.log(`\nload average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`);
  const file = writeResult(
    'scale',
    {
      loadAverage: { before: loadBefore, after: loadAfter },
      config: { ...opts, warmupSeconds: 1 },
      runs: runs.map((r) => ({
        ...r,
        ratioToFirst: round(r.ratioToFirst, 3),
        submit: Object.fromEntries(Object.entries(r.submit).map(([k, v]) => [k, round(v, 2)])),
        overhead: Object.fromEntries(Object.entries(r.overhead).map(([k, v]) => [k, round(v, 2)])),
      })),
    },
    opts.out,
  );
  console.log(`wrote ${file}`);
  return runs.every((r) => r.proof.ok) ? 0 : 1;
}

function formatCurve(runs: ScaleRun[]): string {
  const header = ['processes', 'submits/s', 'ratio to first', 'p50 ms', 'p99 ms', 'overhead p50 ms', 'overhead p99 ms', 'proof'];
  const rows = runs.map((r) => [
    String(r.processes),
    r.submit.acceptedPerSecond.toFixed(0),
    `${r.ratioToFirst.toFixed(2)}x`,
    r.submit.p50Ms.toFixed(1),
    r.submit.p99Ms.toFixed(1),
    r.overhead.overheadP50Ms.toFixed(2),
    r.overhead.overheadP99Ms.toFixed(2),
    r.proof.ok ? 'clean' : 'FAILED',
  ]);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---:').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

runMain(main);
