// Run as a separate OS process by the reset test: runs the monthly reset for a period and prints its totals.
import { loadConfig } from '../../src/config/index.ts';
import { Credits } from '../../src/credits/index.ts';
import { createPool } from '../../src/db/pool.ts';
import { Ledger } from '../../src/ledger/index.ts';

const [url, period] = process.argv.slice(2) as [string, string];
const config = loadConfig({ env: {} });
const pool = createPool(url, 6);
const ledger = new Ledger(pool, config.ledger);
const credits = new Credits({ pool, ledger, config: config.credits });
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdout.write(JSON.stringify(await credits.resetMonth(period)));
await pool.end();
