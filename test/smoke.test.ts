// `tally smoke` as an operator runs it: against `tally start --demo` every check passes (a line each
// with its time, or JSON); storage that cannot be written and a provider key that is refused each fail
// the run with a line saying which and why; and nothing a user sees changed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/db/embedded.ts';
import { startNanoBananaFake, type NanoBananaFake } from './fakes/nanobanana.ts';
import { runCli, startCli, stopAllClis } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';

let nano: NanoBananaFake;
beforeAll(async () => {
  nano = await startNanoBananaFake();
});
afterAll(async () => {
  await stopAllClis();
  await nano.close();
});

const lineOf = (output: string, check: string) =>
  output.split('\n').find((line) => /^(ok|FAIL)\s+/.test(line) && line.replace(/^(ok|FAIL)\s+/, '').startsWith(`${check} `)) ?? `(no line for ${check})`;

describe('tally smoke', () => {
  it('passes on tally start --demo, a line per check with its time; --json for machines; the user saw nothing change', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tally-smoke-'));
    const env = { TALLY_DATA_DIR: dataDir, PORT: String(await freePort()), TALLY_PG_PORT: String(await freePort()), DATABASE_URL: '' };
    const server = startCli(['start', '--demo'], env);
    await server.waitFor(/demo user token/);
    const userToken = server.output().match(/demo user token: (\S+)/)![1]!;
    const balance = async () =>
      (await (await fetch(`http://127.0.0.1:${env.PORT}/api/credits/balance`, { headers: { authorization: `Bearer ${userToken}` } })).json()) as {
        balance: number;
      };
    const before = await balance();

    const smoke = await runCli(['smoke'], { ...env, TEST_USER_ID: 'demo-user' });
    expect(smoke.code, smoke.output).toBe(0);
    for (const check of ['configuration', 'database', 'migrations', 'ledger invariants', 'storage', 'local generation', 'job schedule', 'alert channels']) {
      expect(lineOf(smoke.output, check)).toMatch(/^ok\s+\S.*\d+ ms/);
    }
    expect(lineOf(smoke.output, 'local generation')).toMatch(/stored for demo-user and deleted; charged to nobody/);
    expect(smoke.output).toMatch(/smoke: all \d+ checks passed/);

    const json = await runCli(['smoke', '--json'], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.output.slice(json.output.indexOf('{'), json.output.lastIndexOf('}') + 1)) as {
      ok: boolean;
      checks: { name: string; ok: boolean; ms: number }[];
    };
    expect(report.ok).toBe(true);
    expect(report.checks.every((c) => c.ok && Number.isInteger(c.ms))).toBe(true);
    expect(await balance()).toEqual(before);
  });

  it('fails with a clear line when storage cannot be written or a provider refuses its key', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tally-smoke-bad-'));
    const blocker = path.join(dataDir, 'not-a-folder');
    writeFileSync(blocker, 'a file where the store wants a folder');
    const smoke = await runCli(['smoke'], {
      DATABASE_URL: db.url,
      TALLY_DATA_DIR: dataDir,
      TALLY_STORAGE_DIR: path.join(blocker, 'files'),
      NANOBANANA_BASE_URL: nano.url,
      NANOBANANA_API_KEY: 'a-key-nanobanana-does-not-know',
      TALLY_URL_ALLOWLIST: '127.0.0.1/32',
    });
    expect(smoke.code).toBe(1);
    expect(lineOf(smoke.output, 'storage')).toMatch(/^FAIL.*(ENOTDIR|not a directory)/);
    expect(lineOf(smoke.output, 'provider nanobanana balance')).toMatch(/^FAIL/);
    expect(lineOf(smoke.output, 'provider nanobanana health')).toMatch(/^FAIL/);
    expect(lineOf(smoke.output, 'database')).toMatch(/^ok/); // one failure does not hide the rest
    expect(smoke.output).toMatch(/smoke: FAILED \(storage, provider nanobanana balance, provider nanobanana health/);
  });
});
