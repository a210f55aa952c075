// tally jobs and tally health as an operator runs them (separate OS processes on a test database).
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { Credits } from '../src/credits/index.ts';
import { freePort } from '../src/db/embedded.ts';
import { Ledger } from '../src/ledger/index.ts';
import { runCli } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';

const db = await createTestDatabase();
const env = { DATABASE_URL: db.url, TALLY_DATA_DIR: mkdtempSync(path.join(inject('dataDir'), 'cli-')) };

describe('tally health and tally jobs', () => {
  it('reports a critical pool as unhealthy with the reason, then healthy once refilled and the jobs ran', async () => {
    const sick = await runCli(['health'], env);
    expect(sick.code, sick.output).toBe(1);
    expect(sick.output).toMatch(/^ok\s+database\s+reachable$/m);
    expect(sick.output).toMatch(/^ok\s+migrations\s+current$/m);
    expect(sick.output).toMatch(/^FAIL\s+pool nanobanana\s+0 available, 0 reserved \(critical: under 40; refill it\)$/m);
    expect(sick.output).toMatch(/^WARN\s+job expire-holds\s+never ran/m);
    expect(sick.output).toMatch(/^UNHEALTHY: .*pool nanobanana/m);

    const config = loadConfig({ env: {} });
    const credits = new Credits({ pool: db.pool, ledger: new Ledger(db.pool, { ...config.ledger, log: pino({ level: 'silent' }) }), config: config.credits });
    await credits.openPlatformAccounts();
    for (const provider of ['nanobanana', 'seedream']) await credits.refill({ provider, amount: 1000, key: `cli-${provider}` });

    const all = await runCli(['jobs', 'run-all'], env);
    expect(all.code, all.output).toBe(0);
    for (const name of [
      'process-enhancement-tasks',
      'check-credit-thresholds',
      'expire-holds',
      'daily-usage-summary',
      'monthly-credit-reset',
      'upgrade-suggestions',
    ]) {
      expect(all.output).toMatch(new RegExp(`^${name}: succeeded`, 'm'));
    }
    const list = await runCli(['jobs', 'list'], env);
    expect(list.output).toMatch(/^NAME\s+SCHEDULE\s+LAST RUN\s+OUTCOME\s+NEXT RUN$/m);
    expect(list.output).toMatch(/^monthly-credit-reset\s+0 0 1 \* \*\s+\S+\s+succeeded\s+\d{4}-\d\d-01T00:00:00.000Z$/m);

    const healthy = await runCli(['health'], env);
    expect(healthy.code, healthy.output).toBe(0);
    expect(healthy.output).toMatch(/^Healthy\.$/m);
    expect((await runCli(['jobs', 'run', 'no-such-job'], env)).code).toBe(2);
  }, 180_000); // five CLI processes, each starting TypeScript: slow on a shared machine

  it('reports a provider that fails its probe as down', async () => {
    const down = { ...env, NANOBANANA_API_KEY: 'nb-key-for-test', NANOBANANA_BASE_URL: `http://127.0.0.1:${await freePort()}` };
    const probe = await runCli(['jobs', 'run', 'provider-health-check'], down);
    expect(probe.code, probe.output).toBe(0); // the job ran; what it found is an alert and the provider's state
    const report = await runCli(['health'], down);
    expect(report.code, report.output).toBe(1);
    expect(report.output).toMatch(/^FAIL\s+provider nanobanana\s+down; .*last probe failed/m);
    expect(report.output).toMatch(/^UNHEALTHY: provider nanobanana/m);
    const { rows } = await db.pool.query(`select level from alerts where type = 'provider_unhealthy' and subject = 'nanobanana' and resolved_at is null`);
    expect(rows).toEqual([{ level: 'critical' }]);
  }, 120_000);
});
