// A worker process for tests: connects to DATABASE_URL and runs scheduler rounds at the times given,
// printing what it ran as one JSON line. Modes:
//   reset <iso>          one round of the real monthly-credit-reset job
//   probe <iso> <count>  rounds at <count> consecutive minutes of a job that records when it ran
//   long                 runs a job named "long" (1 s heartbeat) that prints "started" and never ends
import pino from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import { createPool } from '../../src/db/pool.ts';
import { Jobs, type JobDefinition, type RunResult } from '../../src/jobs/index.ts';
import { createServices } from '../../src/services.ts';

const [mode, iso, count] = process.argv.slice(2);
const config = loadConfig({ env: process.env });
const pool = createPool(config.database.url!, 5);
const log = pino({ level: 'silent' });
const results: RunResult[] = [];

if (mode === 'reset') {
  const services = createServices({ config, pool, log });
  const jobs = new Jobs({ pool }, { log, definitions: services.jobs.definitions.filter((j) => j.name === 'monthly-credit-reset') });
  results.push(...(await jobs.tick(new Date(iso!))));
  await services.ledger.drain();
} else if (mode === 'probe') {
  const probe: JobDefinition = {
    name: 'probe',
    schedule: '* * * * *',
    description: 'records its own run',
    enabled: true,
    maxRunSeconds: 60,
    async run({ now }) {
      await pool.query(`insert into probe_runs (pid, slot, started_at) values ($1, $2, clock_timestamp())`, [process.pid, now]);
      await pool.query('select pg_sleep(0.05)');
      await pool.query(`update probe_runs set ended_at = clock_timestamp() where pid = $1 and slot = $2`, [process.pid, now]);
      return {};
    },
  };
  const jobs = new Jobs({ pool }, { log, definitions: [probe] });
  for (let i = 0; i < Number(count); i++) results.push(...(await jobs.tick(new Date(Date.parse(iso!) + i * 60_000))));
} else if (mode === 'long') {
  const long: JobDefinition = {
    name: 'long',
    schedule: '0 0 1 1 *',
    description: 'runs until its process is killed',
    enabled: true,
    maxRunSeconds: 900,
    run: () => {
      process.stdout.write('started\n');
      return new Promise(() => setInterval(() => undefined, 60_000)); // never settles; the process is killed
    },
  };
  await new Jobs({ pool }, { log, definitions: [long], heartbeatSeconds: 1 }).run('long', { trigger: 'cli' });
}
process.stdout.write(`${JSON.stringify(results.map((r) => (r.ran ? { ran: true, name: r.run.name, outcome: r.run.outcome, error: r.run.error } : r)))}\n`);
await pool.end();
