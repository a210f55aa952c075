// Submit with the worker running (the performance issue's target: ≥ 1,500 accepted generations/s at
// 32 clients, p99 < 100 ms, 0 lost, 0 doubled): one `tally serve` and one `tally worker` process
// on an embedded PostgreSQL, `--clients` clients POST /v1/generations (each places a hold) in closed
// loops, then the queue drains and the run proves every accepted generation ended, charged exactly once
// or refunded, each user's balance down by exactly its charges, and `tally ledger check` clean.
// The reference, in alternating rounds on the same server: the ledger alone doing the same number of
// hold+post pairs at the same number of clients (shared pool), so the ratio says what the route costs
// over the ledger's own commit work.   Run: npx tsx bench/submit.ts --help
import { parseArgs } from 'node:util';
import { migrate } from '../src/db/migrate.ts';
import { createPool, withTransaction } from '../src/db/pool.ts';
import { Ledger } from '../src/ledger/index.ts';
import { CREDITS_PER_USER, startCluster, submitLoad, warmUp, type SubmitResult } from './cluster.ts';
import { loadAverage, log, onCleanup, percentile, positive, round, runMain, startPostgres, readFlags, withDatabase, writeResult } from './lib.ts';
import { formatProof, proveGenerations, type Proof } from './proof.ts';

const HELP = `Usage: npx tsx bench/submit.ts [options]

  --seconds N    measured seconds of submissions per round, after 1 s of warm-up (default 5, or BENCH_SECONDS)
  --clients N    concurrent clients, one user each (default 32)
  --rounds N     rounds, each a submit run then the ledger reference (default 2)
  --out FILE     write the JSON result there instead of bench/results/submit-<time>.json
`;
export const TARGETS = { acceptedPerSecond: 1500, p99Ms: 100 };

function options() {
  const values = readFlags(
    () =>
      parseArgs({
        args: process.argv.slice(2),
        options: {
          seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '5' },
          clients: { type: 'string', default: '32' },
          rounds: { type: 'string', default: '2' },
          out: { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }),
    HELP,
  );
  return {
    seconds: positive('--seconds', values.seconds, 3600),
    clients: positive('--clients', values.clients, 1000),
    rounds: positive('--rounds', values.rounds, 20),
    out: values.out,
  };
}

async function main(): Promise<number> {
  const opts = options();
  const loadBefore = loadAverage();
  const server = await startPostgres();
  const cluster = await startCluster(server.url, { database: 'bench_submit', processes: 1, users: opts.clients });
  const reference = await ledgerReference(server.url, opts.clients);
  console.log(
    `submit: ${opts.clients} clients, ${opts.rounds} rounds of ${opts.seconds} s (after 1 s warm-up), worker running; reference: ledger hold+post pairs`,
  );

  const submits: SubmitResult[] = [];
  const pairs: PairsResult[] = [];
  const ids: string[] = await warmUp(cluster);
  for (let r = 0; r < opts.rounds; r++) {
    const run = await submitLoad(cluster, opts.seconds);
    submits.push(run.result);
    ids.push(...run.ids);
    const s = run.result;
    console.log(
      `  round ${r + 1} submit: ${s.acceptedPerSecond.toFixed(0)} accepted/s, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms; ` +
        `drained in ${s.drainSeconds.toFixed(1)} s (${s.completedPerSecond.toFixed(0)} completed/s end to end)`,
    );
    const p = await reference.run(Math.max(s.accepted, opts.clients));
    pairs.push(p);
    console.log(
      `  round ${r + 1} ledger: ${p.pairs} pairs in ${p.seconds.toFixed(2)} s: ${p.pairsPerSecond.toFixed(0)} pairs/s, p50 ${p.p50Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms`,
    );
  }
  const proof: Proof = await proveGenerations({
    pool: cluster.pool,
    env: cluster.env,
    ids,
    users: cluster.users.map((u) => u.id),
    creditsPerUser: CREDITS_PER_USER,
    balanceOf: async (user) => (await cluster.services.credits.balance(user)).balance,
  });
  console.log(`  proof: ${formatProof(proof)}`);
  const ledgerOk = (await reference.check()).ok;

  const summary = summarise(submits, pairs);
  console.log(
    `  submit ${summary.acceptedPerSecond.toFixed(0)} accepted/s (target ≥ ${TARGETS.acceptedPerSecond}), p99 ${summary.p99Ms.toFixed(1)} ms (target < ${TARGETS.p99Ms}); ` +
      `ledger alone ${summary.ledgerPairsPerSecond.toFixed(0)} pairs/s; submit ÷ ledger ${summary.ratio.toFixed(2)}x`,
  );
  const loadAfter = loadAverage();
  console.log(`  load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`);
  const file = writeResult(
    'submit',
    {
      loadAverage: { before: loadBefore, after: loadAfter },
      config: { ...opts, warmupSeconds: 1, processes: 1 },
      summary,
      submits,
      pairs,
      proof,
      referenceLedgerOk: ledgerOk,
    },
    opts.out,
  );
  console.log(`wrote ${file}`);
  await cluster.stop();
  return proof.ok && ledgerOk ? 0 : 1;
}

/** Medians over the rounds (a round's number is already an aggregate; the median resists one stalled round). */
function summarise(submits: SubmitResult[], pairs: PairsResult[]) {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const acceptedPerSecond = median(submits.map((s) => s.acceptedPerSecond));
  const ledgerPairsPerSecond = median(pairs.map((p) => p.pairsPerSecond));
  return {
    acceptedPerSecond: round(acceptedPerSecond, 1),
    p50Ms: round(median(submits.map((s) => s.p50Ms))),
    p99Ms: round(median(submits.map((s) => s.p99Ms))),
    ledgerPairsPerSecond: round(ledgerPairsPerSecond, 1),
    ratio: round(acceptedPerSecond / ledgerPairsPerSecond, 3),
  };
}

interface PairsResult {
  pairs: number;
  seconds: number;
  pairsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** The ledger alone, in this process, on its own database: `count` hold+post pairs over `clients` closed loops. */
async function ledgerReference(serverUrl: string, clients: number) {
  const admin = createPool(serverUrl, 1);
  await admin.query('create database bench_submit_ledger');
  await admin.end();
  const pool = createPool(withDatabase(serverUrl, 'bench_submit_ledger'), 5);
  onCleanup(() => pool.end());
  await migrate(pool);
  const ledger = new Ledger(pool, { batchSize: 512, batchConcurrency: 2, log });
  const wallets = Array.from({ length: 1000 }, (_, i) => `wallet:${i}`);
  await withTransaction(pool, async (client) => {
    for (const [id, asset, kind, neverNegative] of [
      ['credits:issued', 'credits', 'issuance', false],
      ['credits:spent', 'credits', 'spent', false],
      ['pool:external', 'units', 'external', false],
      ['pool:available', 'units', 'pool', true],
      ['pool:consumed', 'units', 'consumed', false],
      ...wallets.map((id) => [id, 'credits', 'wallet', true] as const),
    ] as const)
      await ledger.openAccount({ id, asset, kind, neverNegative }, client);
  });
  await Promise.all([
    ...wallets.map((id) => ledger.transfer({ key: `fund:${id}`, transfers: [{ debit: 'credits:issued', credit: id, amount: 10_000_000 }] })),
    ledger.transfer({ key: 'fund:pool', transfers: [{ debit: 'pool:external', credit: 'pool:available', amount: 1_000_000_000_000 }] }),
  ]);
  await pool.query('analyze');
  let runs = 0;
  const pairs = async (count: number, run: number, latencies: number[]) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let seq = next++; seq < count; seq = next++) {
          const key = `r${run}:${seq}`;
          const wallet = wallets[Math.floor(Math.random() * wallets.length)]!;
          const t0 = performance.now();
          await ledger.placeHold({
            key,
            transfers: [
              { debit: wallet, credit: 'credits:spent', amount: 1 },
              { debit: 'pool:available', credit: 'pool:consumed', amount: 4 },
            ],
          });
          await ledger.postHold({ hold: key });
          latencies.push(performance.now() - t0);
        }
      }),
    );
  };
  await pairs(clients * 20, runs++, []); // warm-up: JIT, connections, the process's account memory
  return {
    async run(count: number): Promise<PairsResult> {
      const latencies: number[] = [];
      const t0 = performance.now();
      await pairs(count, runs++, latencies);
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      return { pairs: count, seconds, pairsPerSecond: count / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
    },
    check: () => ledger.checkInvariants(),
  };
}

runMain(main);
