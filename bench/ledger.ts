// Ledger throughput benchmark: concurrent clients each loop hold→post pairs (the shape of one paid
// generation) against a throwaway embedded PostgreSQL with default durability (synchronous_commit on),
// so every shared commit pays a real WAL fsync. Run: npx tsx bench/ledger.ts --help
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { freePort, openEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, withTransaction, type Pool } from '../src/db/pool.ts';
import { Ledger, type OpenAccountInput, type TransferInput } from '../src/ledger/index.ts';
import { formatReport } from '../src/ledger/invariants.ts';
import { runBalanceReads, type BalanceReadResult } from './balances.ts';
import { loadAverage, positive as positiveFlag, writeResult } from './lib.ts';

const SCENARIOS = ['shared-pool', 'wallets-only'] as const;
type Scenario = (typeof SCENARIOS)[number];

const WARMUP_MS = 1000;
/** Hard cap on pairs in one run, so a very fast machine cannot grow memory or drain wallets without bound. */
const MAX_PAIRS_PER_RUN = 2_000_000;
/** A run that has not finished this long after its end is stuck (a lock wait, a dead server): give up. */
const STUCK_AFTER_MS = 60_000;
const WALLET_FUNDING = 1_000_000; // credits per wallet: far more than MAX_PAIRS_PER_RUN spreads over them
const POOL_FUNDING = 1_000_000_000_000; // provider units in the one shared pool
const POOL_UNITS_PER_PAIR = 4;
const EXTRA_CONNECTIONS = 3; // beyond the batcher's: seeding, ANALYZE, invariant checks

const ACCOUNTS = {
  issued: 'credits:issued',
  spent: 'credits:spent',
  poolSource: 'pool:nanobanana:purchased',
  pool: 'pool:nanobanana:available',
  poolConsumed: 'pool:nanobanana:consumed',
} as const;

interface Options {
  seconds: number;
  clients: number[];
  scenarios: Scenario[];
  batchSize: number;
  batchConcurrency: number;
  wallets: number;
  /** Balance-read mode: seed this many posted transfers and compare reads at 10,000 and at this size. */
  seedTransfers: number;
  readClients: number;
  rounds: number;
  out?: string;
}

interface RunResult {
  scenario: Scenario;
  clients: number;
  pairsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  opsPerBatch: number;
  /** Share of batches whose optimistic plan the database did not confirm, rerun under locks. */
  lockedRerunShare: number;
}

const HELP = `Usage: npx tsx bench/ledger.ts [options]

  --seconds N              measured seconds per run, after ${WARMUP_MS / 1000} s of warm-up (default 5, or BENCH_SECONDS)
  --clients 8,32,64        concurrent clients, one run per value
  --scenarios A,B          any of ${SCENARIOS.join(', ')} (default both)
  --batch-size N           most operations per shared commit (default 512)
  --batch-concurrency N    batches in flight at once (default 2, the config default)
  --wallets N              pre-funded user wallets (default 10000)
  --out FILE               write the JSON result there instead of bench/results/ledger-<time>.json

Balance reads (instead of the pair runs above):
  --seed-transfers N       seed N posted transfers (e.g. 10_000_000) and measure balance reads at
                           10,000 and at N transfers in alternating rounds; prints the ratio (target 1.0)
  --read-clients N         concurrent readers (default 8)
  --rounds N               alternating rounds per size (default 4); --seconds is split over them
`;

function parseOptions(argv: string[]): Options {
  const { values } = tryParse(() =>
    parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '5' },
        clients: { type: 'string', default: '8,32,64' },
        scenarios: { type: 'string', default: SCENARIOS.join(',') },
        'batch-size': { type: 'string', default: '512' },
        'batch-concurrency': { type: 'string', default: '2' },
        wallets: { type: 'string', default: '10000' },
        'seed-transfers': { type: 'string' },
        'read-clients': { type: 'string', default: '8' },
        rounds: { type: 'string', default: '4' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const scenarios = values.scenarios.split(',').map((s) => s.trim());
  for (const s of scenarios)
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new UsageError(`unknown scenario "${s}" (expected ${SCENARIOS.join(', ')})`);
  return {
    seconds: positive('--seconds', values.seconds, 3600),
    clients: values.clients.split(',').map((c) => positive('--clients', c, 10_000)),
    scenarios: [...new Set(scenarios)] as Scenario[],
    batchSize: positive('--batch-size', values['batch-size'], 5000),
    batchConcurrency: positive('--batch-concurrency', values['batch-concurrency'], 64),
    wallets: positive('--wallets', values.wallets, 1_000_000),
    seedTransfers: values['seed-transfers'] === undefined ? 0 : positiveFlag('--seed-transfers', values['seed-transfers'], 1_000_000_000),
    readClients: positive('--read-clients', values['read-clients'], 256),
    rounds: positive('--rounds', values.rounds, 100),
    out: values.out,
  };
}

class UsageError extends Error {}

function tryParse<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message); // unknown flag, missing value
  }
}

function positive(flag: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got "${text}"`);
  return value;
}

const log = pino({ level: 'warn' }, pino.destination(2)); // stderr: keep stdout for the table

// Cleanup runs once, in reverse order of registration, whether the run ends, fails or is interrupted.
const cleanups: (() => unknown)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse())
      await Promise.resolve()
        .then(step)
        .catch((error) => console.error('cleanup step failed:', error));
  })();
  return cleaning;
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log.level = 'silent'; // operations still queued fail once the pool closes: expected, not worth a warning each
    console.error(`\n${signal}: stopping the benchmark and removing its database…`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const server = await openEmbeddedPostgres({ dataDir, port: await freePort(), log, database: 'postgres' });
  cleanups.push(() => server.stop());
  const admin = createPool(server.url, 1);
  cleanups.push(() => withTimeout(admin.end(), 2000));

  const version = (await admin.query<{ version: string }>('select version()')).rows[0]!.version;
  const synchronousCommit = (await admin.query<{ synchronous_commit: string }>('show synchronous_commit')).rows[0]!.synchronous_commit;
  console.log(
    `${version}\nsynchronous_commit=${synchronousCommit}, batch size ${options.batchSize}, batch concurrency ${options.batchConcurrency}, ` +
      `${options.wallets} wallets, ${options.seconds} s per run after ${WARMUP_MS / 1000} s warm-up\n`,
  );

  if (options.seedTransfers > 0) return balanceReads(server.url, admin, options, version);

  const results: RunResult[] = [];
  const loadBefore = loadAverage();
  let violated = false;
  for (const scenario of options.scenarios) {
    // A fresh database per scenario, so one scenario's rows do not slow the next.
    const database = `bench_${scenario.replace(/-/g, '_')}`;
    await admin.query(`create database ${database}`);
    const pool = createPool(withDatabase(server.url, database), options.batchConcurrency + EXTRA_CONNECTIONS);
    const closePool = () => withTimeout(pool.end(), 2000);
    cleanups.push(closePool);
    await migrate(pool);
    const ledger = new Ledger(pool, { batchSize: options.batchSize, batchConcurrency: options.batchConcurrency, log });

    const wallets = await seed(ledger, pool, scenario, options.wallets);

    for (const clients of options.clients) {
      const result = await runClients(ledger, scenario, clients, wallets, options.seconds * 1000);
      results.push(result);
      console.log(
        `${scenario.padEnd(12)} ${String(clients).padStart(3)} clients: ${result.pairsPerSecond.toFixed(0).padStart(6)} pairs/s  ` +
          `p50 ${result.p50Ms.toFixed(1)} ms  p99 ${result.p99Ms.toFixed(1)} ms  ${result.opsPerBatch.toFixed(1)} ops/batch`,
      );
    }

    const report = await ledger.checkInvariants();
    if (report.ok) {
      console.log(
        `${scenario}: invariants hold (${report.counts.accounts} accounts, ${report.counts.transfers} transfers, ${report.counts.pending} pending)\n`,
      );
    } else {
      violated = true;
      console.error(formatReport(report));
    }
    cleanups.splice(cleanups.indexOf(closePool), 1);
    await closePool();
  }

  console.log(formatTable(results));
  const load = { before: loadBefore, after: loadAverage() };
  console.log(`\nload average before ${load.before.join(' ')}, after ${load.after.join(' ')}`);
  const file = writeResults(results, options, version, synchronousCommit, load);
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  if (violated) console.error('\nLedger invariants were violated: see the report above.');
  return violated ? 1 : 0;
}

async function balanceReads(url: string, admin: Pool, options: Options, postgres: string): Promise<number> {
  const loadBefore = loadAverage();
  const result: BalanceReadResult = await runBalanceReads(url, admin, {
    seedTransfers: options.seedTransfers,
    wallets: options.wallets,
    clients: options.readClients,
    seconds: options.seconds,
    rounds: options.rounds,
  });
  const loadAfter = loadAverage();
  console.log(`load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`);
  const file = writeResult(
    'balances',
    { postgres, loadAverage: { before: loadBefore, after: loadAfter }, config: { ...options, warmupSeconds: WARMUP_MS / 1000 }, balanceReads: result },
    options.out,
  );
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  return result.invariantsOk ? 0 : 1;
}

/** Opens the accounts and funds them; returns the wallet ids. */
async function seed(ledger: Ledger, pool: Pool, scenario: Scenario, walletCount: number): Promise<string[]> {
  const started = performance.now();
  const wallets = Array.from({ length: walletCount }, (_, i) => `wallet:${String(i).padStart(6, '0')}`);
  const accounts: OpenAccountInput[] = [
    { id: ACCOUNTS.issued, asset: 'credits', kind: 'issuance' },
    { id: ACCOUNTS.spent, asset: 'credits', kind: 'spent' },
    ...wallets.map((id): OpenAccountInput => ({ id, asset: 'credits', kind: 'wallet', neverNegative: true })),
  ];
  if (scenario === 'shared-pool') {
    accounts.push(
      { id: ACCOUNTS.poolSource, asset: 'nanobanana-units', kind: 'external' },
      { id: ACCOUNTS.pool, asset: 'nanobanana-units', kind: 'pool', neverNegative: true },
      { id: ACCOUNTS.poolConsumed, asset: 'nanobanana-units', kind: 'consumed' },
    );
  }
  // One transaction: one commit instead of one fsync per account.
  await withTransaction(pool, async (client) => {
    for (const account of accounts) await ledger.openAccount(account, client);
  });

  // All at once: the batcher packs them into a few shared commits.
  const fundings = wallets.map((id) => ledger.transfer({ key: `fund:${id}`, transfers: [{ debit: ACCOUNTS.issued, credit: id, amount: WALLET_FUNDING }] }));
  if (scenario === 'shared-pool') {
    fundings.push(ledger.transfer({ key: 'fund:pool', transfers: [{ debit: ACCOUNTS.poolSource, credit: ACCOUNTS.pool, amount: POOL_FUNDING }] }));
  }
  await Promise.all(fundings);

  // Fresh statistics: plans made on the empty tables would pick sequential scans.
  await pool.query('analyze ledger_accounts, ledger_transfers, ledger_requests');
  console.log(`${scenario}: seeded ${accounts.length} accounts and funded ${fundings.length} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return wallets;
}

/** `clients` loops of hold→post pairs: warm-up, then `measureMs` measured. */
async function runClients(ledger: Ledger, scenario: Scenario, clients: number, wallets: string[], measureMs: number): Promise<RunResult> {
  const runId = `${scenario}:${clients}:${Date.now().toString(36)}`;
  const startedAt = performance.now();
  const measureFrom = startedAt + WARMUP_MS;
  const measureUntil = measureFrom + measureMs;
  const latencies: number[] = [];
  let pairs = 0;
  let failure: unknown;

  // Batch counters at the edges of the measured window, so warm-up batches are not counted.
  // The end is taken by the first client to pass the end of the window (a timer can fire too late,
  // after the clients have finished).
  let statsAtStart = { ...ledger.batchStats };
  let statsAtEnd: typeof statsAtStart | undefined;
  const startTimer = setTimeout(() => (statsAtStart = { ...ledger.batchStats }), WARMUP_MS);
  const markEnd = () => (statsAtEnd ??= { ...ledger.batchStats });
  const endTimer = setTimeout(markEnd, WARMUP_MS + measureMs);

  const transfersFor = (wallet: string): TransferInput[] =>
    scenario === 'shared-pool'
      ? [
          { debit: wallet, credit: ACCOUNTS.spent, amount: 1 },
          { debit: ACCOUNTS.pool, credit: ACCOUNTS.poolConsumed, amount: POOL_UNITS_PER_PAIR },
        ]
      : [{ debit: wallet, credit: ACCOUNTS.spent, amount: 1 }];

  const client = async (index: number) => {
    for (let seq = 0; failure === undefined && pairs < MAX_PAIRS_PER_RUN && performance.now() < measureUntil; seq++) {
      const key = `${runId}:${index}:${seq}`;
      const wallet = wallets[Math.floor(Math.random() * wallets.length)]!;
      const began = performance.now();
      try {
        await ledger.placeHold({ key, transfers: transfersFor(wallet) });
        await ledger.postHold({ hold: key });
      } catch (error) {
        failure ??= error; // stops every client; reported below
        return;
      }
      const ended = performance.now();
      pairs++;
      if (ended >= measureFrom && ended < measureUntil) latencies.push(ended - began);
      else if (ended >= measureUntil) markEnd();
    }
  };

  try {
    const all = Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
    const stuck = measureUntil - performance.now() + STUCK_AFTER_MS;
    await withTimeout(all, stuck, `${scenario} with ${clients} clients did not finish within ${STUCK_AFTER_MS / 1000} s of its end`);
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
  }
  if (failure !== undefined) throw failure;

  latencies.sort((a, b) => a - b);
  const end = statsAtEnd ?? { ...ledger.batchStats };
  const batches = end.batches - statsAtStart.batches;
  return {
    scenario,
    clients,
    pairsPerSecond: latencies.length / (measureMs / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    opsPerBatch: batches > 0 ? (end.operations - statsAtStart.operations) / batches : 0,
    lockedRerunShare: batches > 0 ? (end.lockedReruns - statsAtStart.lockedReruns) / batches : 0,
  };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A Markdown table, so it can be pasted into bench/README.md as is. */
function formatTable(results: RunResult[]): string {
  const header = ['scenario', 'clients', 'pairs/s', 'p50 ms', 'p99 ms', 'ops/batch', 'reruns'];
  const rows = results.map((r) => [
    r.scenario,
    String(r.clients),
    r.pairsPerSecond.toFixed(0),
    r.p50Ms.toFixed(1),
    r.p99Ms.toFixed(1),
    r.opsPerBatch.toFixed(1),
    `${(r.lockedRerunShare * 100).toFixed(1)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (i < 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 1 ? `-${'-'.repeat(w)}-` : `-${'-'.repeat(w)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function writeResults(
  results: RunResult[],
  options: Options,
  postgres: string,
  synchronousCommit: string,
  load: { before: number[]; after: number[] },
): string {
  const round = (n: number, digits: number) => Number(n.toFixed(digits));
  const body = {
    results: results.map((r) => ({
      ...r,
      pairsPerSecond: round(r.pairsPerSecond, 1),
      p50Ms: round(r.p50Ms, 2),
      p99Ms: round(r.p99Ms, 2),
      opsPerBatch: round(r.opsPerBatch, 2),
      lockedRerunShare: round(r.lockedRerunShare, 4),
    })),
    postgres,
    loadAverage: load,
    config: {
      batchSize: options.batchSize,
      batchConcurrency: options.batchConcurrency,
      seconds: options.seconds,
      warmupSeconds: WARMUP_MS / 1000,
      wallets: options.wallets,
      poolSize: options.batchConcurrency + EXTRA_CONNECTIONS,
      synchronousCommit,
    },
  };
  return writeResult('ledger', body, options.out);
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Rejects with `message` (or resolves, when none) if `promise` has not settled within `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, message?: string): Promise<T | void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => (message ? reject(new Error(message)) : resolve()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

void main()
  .catch((error: unknown) => {
    if (error instanceof UsageError) console.error(`${error.message}\n\n${HELP}`);
    else if (!interrupted) console.error('benchmark failed:', error);
    return 1;
  })
  .then(async (code) => {
    await cleanup();
    process.exit(interrupted ? 130 : code);
  });
