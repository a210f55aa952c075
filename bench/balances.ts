// Balance reads against ledger size (`npx tsx bench/ledger.ts --seed-transfers N`): two ledgers in one
// embedded PostgreSQL, alike but for how many posted transfers they hold (10,000 and N), and the ledger's
// own balance call (`Ledger.balanceOf`) for random wallets, measured in rounds that alternate between the
// two, so a swing in the machine's speed falls on both. The target is the same cost at both sizes (O(1)).
//
// Seeding 10 M transfers through the batcher would take most of an hour, so `seedPostedTransfers` writes
// them with set-based SQL straight into the ledger's tables, the one place outside src/ledger that does:
// a benchmark's seeding step, kept here, writing exactly what the ledger would (see its comment), and the
// ledger's invariant check must pass on the result.
import { Ledger, type OpenAccountInput } from '../src/ledger/index.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, withTransaction, type Pool } from '../src/db/pool.ts';
import { formatReport } from '../src/ledger/invariants.ts';
import { log, onCleanup, percentile, round, withDatabase } from './lib.ts';

const ISSUED = 'credits:issued';
const SPENT = 'credits:spent';
const SMALL = 10_000;
const WARMUP_MS = 1000;
const CHUNK = 500_000; // transfers per seeding transaction (a progress line each); a multiple of TRANSFERS_PER_REQUEST, so no request spans two
const TRANSFERS_PER_REQUEST = 8; // seeded requests each carry 8 transfers (balance reads never read requests)

export interface BalanceReadOptions {
  seedTransfers: number;
  wallets: number;
  clients: number;
  /** Measured seconds per ledger size, split over the rounds. */
  seconds: number;
  rounds: number;
}

export interface ReadStats {
  transfers: number;
  reads: number;
  readsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface BalanceReadResult {
  small: ReadStats;
  large: ReadStats;
  /** large ÷ small: 1.0 is O(1). */
  ratio: { p50: number; p99: number; readsPerSecond: number };
  seedSeconds: number;
  transfersPerSecondSeeded: number;
  invariantsOk: boolean;
  checkSeconds: number;
}

export async function runBalanceReads(serverUrl: string, admin: Pool, options: BalanceReadOptions): Promise<BalanceReadResult> {
  const small = await openLedger(serverUrl, admin, 'bench_reads_small', options);
  const large = await openLedger(serverUrl, admin, 'bench_reads_large', options);
  await seedPostedTransfers(small.pool, { count: SMALL, wallets: options.wallets, label: 'small' });
  const started = performance.now();
  await seedPostedTransfers(large.pool, { count: options.seedTransfers, wallets: options.wallets, label: 'large' });
  const seedSeconds = (performance.now() - started) / 1000;
  for (const side of [small, large]) {
    // Steady state, as a long-lived ledger is: vacuumed (visibility map set), statistics fresh, and
    // no autovacuum or checkpoint of the seed's writes landing inside a measured round.
    await side.pool.query('vacuum analyze ledger_accounts, ledger_transfers, ledger_requests');
    await side.pool.query('checkpoint');
  }

  console.log(
    `balance reads: ${options.clients} clients, ${options.rounds} rounds alternating between ${SMALL.toLocaleString('en')} and ` +
      `${options.seedTransfers.toLocaleString('en')} seeded transfers, ${options.seconds} s measured per size`,
  );
  const latencies = { small: [] as number[], large: [] as number[] };
  const counted = { small: 0, large: 0 };
  const roundMs = (options.seconds * 1000) / options.rounds;
  await readFor(small.ledger, options, WARMUP_MS); // warm-up: JIT, connections, plans, caches
  await readFor(large.ledger, options, WARMUP_MS);
  for (let r = 0; r < options.rounds; r++) {
    for (const [name, side] of [
      ['small', small],
      ['large', large],
    ] as const) {
      const samples = await readFor(side.ledger, options, roundMs);
      latencies[name].push(...samples);
      counted[name] += samples.length;
    }
  }
  const stats = (name: 'small' | 'large', transfers: number): ReadStats => {
    const sorted = latencies[name].sort((a, b) => a - b);
    return { transfers, reads: counted[name], readsPerSecond: counted[name] / options.seconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  };
  const smallStats = stats('small', await countTransfers(small.pool));
  const largeStats = stats('large', await countTransfers(large.pool));
  const ratio = {
    p50: largeStats.p50Ms / smallStats.p50Ms,
    p99: largeStats.p99Ms / smallStats.p99Ms,
    readsPerSecond: largeStats.readsPerSecond / smallStats.readsPerSecond,
  };
  for (const s of [smallStats, largeStats])
    console.log(
      `  ${s.transfers.toLocaleString('en').padStart(12)} transfers: ${s.readsPerSecond.toFixed(0).padStart(6)} reads/s  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms`,
    );
  console.log(
    `  large ÷ small: p50 ${ratio.p50.toFixed(2)}x, p99 ${ratio.p99.toFixed(2)}x, reads/s ${ratio.readsPerSecond.toFixed(2)}x (target: 1.0x, the same cost)`,
  );

  const checkStarted = performance.now();
  const report = await large.ledger.checkInvariants();
  const checkSeconds = (performance.now() - checkStarted) / 1000;
  if (report.ok) console.log(`  ledger invariants hold on the large ledger (checked in ${checkSeconds.toFixed(1)} s)`);
  else console.error(formatReport(report));
  await small.close();
  await large.close();
  return {
    small: roundStats(smallStats),
    large: roundStats(largeStats),
    ratio: { p50: round(ratio.p50, 3), p99: round(ratio.p99, 3), readsPerSecond: round(ratio.readsPerSecond, 3) },
    seedSeconds: round(seedSeconds, 1),
    transfersPerSecondSeeded: Math.round(options.seedTransfers / seedSeconds),
    invariantsOk: report.ok,
    checkSeconds: round(checkSeconds, 1),
  };
}

const roundStats = (s: ReadStats): ReadStats => ({ ...s, readsPerSecond: round(s.readsPerSecond, 1), p50Ms: round(s.p50Ms, 3), p99Ms: round(s.p99Ms, 3) });

/** A new database with the ledger's schema, its wallets opened and funded through the ledger itself. */
async function openLedger(serverUrl: string, admin: Pool, database: string, options: BalanceReadOptions) {
  await admin.query(`create database ${database}`);
  const pool = createPool(withDatabase(serverUrl, database), options.clients + 2);
  const close = onCleanup(() => pool.end());
  await migrate(pool);
  const ledger = new Ledger(pool, { batchSize: 512, batchConcurrency: 2, log });
  const wallets = walletIds(options.wallets);
  const accounts: OpenAccountInput[] = [
    { id: ISSUED, asset: 'credits', kind: 'issuance' },
    { id: SPENT, asset: 'credits', kind: 'spent' },
    ...wallets.map((id): OpenAccountInput => ({ id, asset: 'credits', kind: 'wallet', neverNegative: true })),
  ];
  await withTransaction(pool, async (client) => {
    for (const account of accounts) await ledger.openAccount(account, client);
  });
  // Each wallet can pay for every seeded transfer it will be debited, with room to spare.
  const funding = Math.max(1_000_000, Math.ceil(options.seedTransfers / options.wallets) * 2);
  await Promise.all(wallets.map((id) => ledger.transfer({ key: `fund:${id}`, transfers: [{ debit: ISSUED, credit: id, amount: funding }] })));
  return { pool, ledger, close, wallets };
}

function walletIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => walletId(i));
}
const walletId = (i: number) => `wallet:${String(i).padStart(6, '0')}`;

/**
 * Writes `count` posted transfers of 1 credit from the wallets (round robin, so each wallet's rows are
 * spread over the whole table, as a real ledger's are) to `credits:spent`, with what the ledger keeps
 * beside them: a request per 8 transfers (applied, listing its transfer ids) and the cached balances,
 * moved by the same amounts in the same transaction. Runs in chunks, a progress line each.
 */
export async function seedPostedTransfers(pool: Pool, input: { count: number; wallets: number; label: string }): Promise<void> {
  // A throwaway server: let the seed's WAL grow before a checkpoint, instead of one every 1 GB.
  await pool.query(`alter system set max_wal_size = '8GB'`);
  await pool.query('select pg_reload_conf()');
  const started = performance.now();
  // Bulk-load practice: the secondary indexes of ledger_transfers (whatever src/db/migrations defines
  // today, read back from the catalogue) are dropped for the load and rebuilt after it, each in one
  // sorted pass: inserting 10 M rows into an index keyed by wallet, round robin, is random I/O that
  // slows the seed tenfold once the index outgrows memory. Constraint indexes (the primary key) stay.
  const indexes =
    input.count > CHUNK
      ? (
          await pool.query<{ name: string; definition: string }>(
            `select indexname as name, indexdef as definition from pg_indexes
              where schemaname = current_schema() and tablename = 'ledger_transfers'
                and indexname not in (select conname from pg_constraint where conrelid = 'ledger_transfers'::regclass)`,
          )
        ).rows
      : [];
  for (const index of indexes) await pool.query(`drop index ${index.name}`);
  for (let from = 0; from < input.count; from += CHUNK) {
    const to = Math.min(input.count, from + CHUNK);
    await withTransaction(pool, async (client) => {
      await client.query('set local synchronous_commit = off'); // seeding only: a crash just loses the throwaway database
      await client.query(
        `insert into ledger_transfers (id, request_key, position, debit_account_id, credit_account_id, asset, amount, state, posted_amount, resolved_at)
         select 'tr_seed' || lpad(i::text, 12, '0'), 'seed:' || (i / $3), i % $3, 'wallet:' || lpad((i % $4)::text, 6, '0'), $5, 'credits', 1, 'posted', 1, now()
           from generate_series($1::bigint, $2::bigint - 1) as i`,
        [from, to, TRANSFERS_PER_REQUEST, input.wallets, SPENT],
      );
      await client.query(
        `insert into ledger_requests (key, fingerprint, status, transfer_ids)
         select 'seed:' || r, 'seed', 'applied',
                array(select 'tr_seed' || lpad(i::text, 12, '0') from generate_series(r * $3, least(r * $3 + $3, $2::bigint) - 1) as i)
           from generate_series($1::bigint / $3, ($2::bigint - 1) / $3) as r`,
        [from, to, TRANSFERS_PER_REQUEST],
      );
      await client.query(
        `update ledger_accounts a set balance = a.balance - d.n
           from (select 'wallet:' || lpad((i % $3)::text, 6, '0') as id, count(*) as n from generate_series($1::bigint, $2::bigint - 1) as i group by 1) d
          where a.id = d.id`,
        [from, to, input.wallets],
      );
      await client.query('update ledger_accounts set balance = balance + $2 where id = $1', [SPENT, to - from]);
    });
    const seconds = (performance.now() - started) / 1000;
    if (input.count > CHUNK)
      console.log(
        `  seeding ${input.label}: ${to.toLocaleString('en')} / ${input.count.toLocaleString('en')} transfers, ${seconds.toFixed(0)} s, ` +
          `${Math.round(to / seconds).toLocaleString('en')}/s`,
      );
  }
  if (indexes.length > 0) {
    const rebuilding = performance.now();
    await withTransaction(pool, async (client) => {
      await client.query(`set local maintenance_work_mem = '1GB'`);
      for (const index of indexes) await client.query(index.definition);
    });
    console.log(`  seeding ${input.label}: rebuilt ${indexes.map((i) => i.name).join(', ')} in ${((performance.now() - rebuilding) / 1000).toFixed(0)} s`);
  }
}

async function countTransfers(pool: Pool): Promise<number> {
  return (await pool.query<{ n: number }>('select count(*)::bigint as n from ledger_transfers')).rows[0]!.n;
}

/** `clients` closed loops of balance reads of random wallets for `ms`; the latencies of reads that ended inside. */
async function readFor(ledger: Ledger, options: BalanceReadOptions, ms: number): Promise<number[]> {
  const until = performance.now() + ms;
  const samples: number[] = [];
  await Promise.all(
    Array.from({ length: options.clients }, async () => {
      while (performance.now() < until) {
        const wallet = walletId(Math.floor(Math.random() * options.wallets));
        const began = performance.now();
        await ledger.balanceOf(wallet);
        const ended = performance.now();
        if (ended <= until) samples.push(ended - began);
      }
    }),
  );
  return samples;
}
