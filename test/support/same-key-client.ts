// Run as a separate OS process by the concurrency test: fires `count` concurrent transfers that all
// carry one idempotency key, and prints what each call answered.
import { createPool } from '../../src/db/pool.ts';
import { Ledger } from '../../src/ledger/index.ts';

const [url, key, debit, credit, count] = process.argv.slice(2) as [string, string, string, string, string];
const pool = createPool(url, 8);
const ledger = new Ledger(pool, { batchSize: 64, batchConcurrency: 3 });
// Wait for the parent's go signal on stdin so both processes start firing at the same moment.
await new Promise((resolve) => process.stdin.once('data', resolve));
const results = await Promise.all(
  Array.from({ length: Number(count) }, () =>
    ledger.transfer({ key, transfers: [{ debit, credit, amount: 7 }] }).then(
      (r) => ({ transferId: r.transfers[0]!.id, replayed: r.replayed }),
      (e: Error) => ({ error: e.message }),
    ),
  ),
);
process.stdout.write(JSON.stringify(results));
await pool.end();
