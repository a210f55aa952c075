// The service as a user runs it: `tally start --demo` on a fresh data dir, health endpoints, the ledger
// check against the running server, a clean Ctrl-C, and a second start on the same data.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/db/embedded.ts';
import { startNanoBananaFake } from './fakes/nanobanana.ts';
import { runCli, startCli, stopAllClis } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';
import { waitForTask } from './support/generations.ts';
import { testPng } from './support/images.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'tally-cli-'));
afterAll(async () => {
  await stopAllClis(); // a failed test must not leave a server (and its PostgreSQL) behind for the next
  rmSync(dataDir, { recursive: true, force: true });
});

async function environment() {
  return { TALLY_DATA_DIR: dataDir, PORT: String(await freePort()), TALLY_PG_PORT: String(await freePort()), DATABASE_URL: '' };
}

describe('tally start --demo', () => {
  it('serves health and readiness on an embedded PostgreSQL, seeds the demo, stops cleanly on Ctrl-C, and restarts on the same data', async () => {
    const env = await environment();
    const first = startCli(['start', '--demo'], env);
    await first.waitFor(/HTTP API listening/);
    expect(first.output()).toMatch(/"msg":"demo data ready"/);
    expect(first.output()).toMatch(/"credits":10/);

    const base = `http://127.0.0.1:${env.PORT}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });

    // The printed demo credentials work as printed.
    const userToken = first.output().match(/demo user token: (\S+)/)![1]!;
    const adminKey = first.output().match(/admin API key:\s+(tly_\S+)/)![1]!;
    expect(await (await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${userToken}` } })).json()).toMatchObject({
      userId: 'demo-user',
      accounts: expect.arrayContaining([expect.objectContaining({ accountId: 'user:demo-user:purchased', balance: 10 })]),
    });
    expect(await (await fetch(`${base}/api/credits/balance`, { headers: { authorization: `Bearer ${userToken}` } })).json()).toMatchObject({
      balance: 10,
      purchased: 10,
      tier: 'free',
    });
    expect((await fetch(`${base}/v1/admin/ledger/check`, { headers: { authorization: `Bearer ${adminKey}` } })).status).toBe(200);

    // Out of the box (no provider key) a generation runs on the local provider, charged: the whole flow.
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(await testPng())], { type: 'image/png' }), 'photo.png');
    form.set('enhancementType', 'lighting');
    const submitted = await fetch(`${base}/api/enhance-image`, { method: 'POST', body: form, headers: { authorization: `Bearer ${userToken}` } });
    expect(submitted.status).toBe(202);
    const task = await waitForTask(
      { request: (method, p, o = {}) => fetch(`${base}${p}`, { method, headers: { authorization: `Bearer ${o.auth}` } }) },
      userToken,
      (await submitted.json()).taskId,
    );
    expect(task).toMatchObject({ status: 'completed', provider: 'local', degraded: false, creditsCharged: 1 });
    expect((await fetch(task.resultUrl!)).headers.get('content-type')).toBe('image/png');

    // The demo sells packages without payment, said so in the log and in the answer.
    expect(first.output()).toMatch(/purchases: DEVELOPMENT mode/);
    const bought = await fetch(`${base}/api/credits/purchase`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ packageId: 'starter' }),
    });
    expect(await bought.json()).toMatchObject({ granted: 10, balance: 19, mode: 'development' });

    // Another command attaches to the running server's database.
    const check = await runCli(['ledger', 'check'], env);
    expect(check.code).toBe(0);
    expect(check.output).toContain('All invariants hold.');

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/"msg":"stopped"/);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

    // Second start: same data, demo seeding changes nothing.
    const second = startCli(['start', '--demo'], env);
    await second.waitFor(/HTTP API listening/);
    expect(second.output()).not.toMatch(/initialising a new embedded PostgreSQL/);
    expect(second.output()).toMatch(/"credits":19/); // the seed's purchase is not repeated; the generation stays paid
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('recovers when the process that owned the embedded PostgreSQL was killed', async () => {
    const env = await environment();
    const crashed = startCli(['start'], env);
    await crashed.waitFor(/HTTP API listening/);
    crashed.child.kill('SIGKILL');
    await crashed.exited;

    const next = startCli(['start'], env);
    await next.waitFor(/HTTP API listening/);
    expect(next.output()).toMatch(/adopted an embedded PostgreSQL/);
    next.child.kill('SIGINT');
    expect(await next.exited).toBe(0);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});

describe('stopping', () => {
  it('Ctrl-C with five generations waiting on a slow provider stops in under 2 s, without an error line, and the next command works at once', async () => {
    const nano = await startNanoBananaFake();
    try {
      nano.set({ processingMs: 120_000, callbacks: false });
      const env = { ...(await environment()), NANOBANANA_BASE_URL: nano.url, NANOBANANA_API_KEY: nano.apiKey, TALLY_URL_ALLOWLIST: '127.0.0.1/32' };
      const cli = startCli(['start', '--demo'], env, { processGroup: true });
      await cli.waitFor(/demo user token: /);
      const base = `http://127.0.0.1:${env.PORT}`;
      const userToken = cli.output().match(/demo user token: (\S+)/)![1]!;
      const image = new Uint8Array(await testPng());
      const taskIds: string[] = [];
      for (let i = 0; i < 5; i++) {
        const form = new FormData();
        form.set('image', new Blob([image], { type: 'image/png' }), 'photo.png');
        form.set('enhancementType', 'lighting');
        const submitted = await fetch(`${base}/api/enhance-image`, { method: 'POST', body: form, headers: { authorization: `Bearer ${userToken}` } });
        expect(submitted.status).toBe(202);
        taskIds.push((await submitted.json()).taskId);
      }
      const deadline = Date.now() + 20_000;
      while (nano.tasks.size < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20)); // the fake has no event to await
      expect(nano.tasks.size).toBe(5);

      // Ctrl-C in a terminal signals the whole foreground process group.
      const started = Date.now();
      process.kill(-cli.child.pid!, 'SIGINT');
      expect(await cli.exited).toBe(0);
      const stoppedIn = Date.now() - started;
      const errors = cli
        .output()
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line) || /Cannot use a pool|terminating connection/i.test(line));
      expect(errors).toEqual([]);
      expect(stoppedIn).toBeLessThan(2_000);
      expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

      const checkStarted = Date.now();
      const check = await runCli(['ledger', 'check'], env);
      expect(check.code).toBe(0);
      expect(Date.now() - checkStarted).toBeLessThan(20_000);

      // The next start resumes the five provider tasks it left: none is submitted again.
      nano.set({ processingMs: 0 });
      const again = startCli(['start', '--demo'], env);
      await again.waitFor(/HTTP API listening/);
      const poll = {
        request: (method: string, p: string, o: { auth?: string } = {}) => fetch(`${base}${p}`, { method, headers: { authorization: `Bearer ${o.auth}` } }),
      };
      for (const id of taskIds) expect(await waitForTask(poll, userToken, id)).toMatchObject({ status: 'completed', provider: 'nanobanana' });
      expect(nano.requests.filter((r) => r.method === 'POST' && r.path.includes('generate'))).toHaveLength(5);
      again.child.kill('SIGINT');
      expect(await again.exited).toBe(0);
    } finally {
      await nano.close();
    }
  });
});

describe('commands against DATABASE_URL', () => {
  it('migrate reports an up-to-date database; ledger check passes on it', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    const migrated = await runCli(['migrate'], { DATABASE_URL: db.url });
    expect(migrated.code).toBe(0);
    expect(migrated.output).toContain('database already up to date');
    const check = await runCli(['ledger', 'check'], { DATABASE_URL: db.url });
    expect(check.code).toBe(0);
  });

  it('ledger check exits non-zero and names the violation', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    await db.pool.query(`insert into ledger_accounts (id, asset, kind, balance) values ('tampered', 'credits', 'wallet', 5)`);
    const check = await runCli(['ledger', 'check'], { DATABASE_URL: db.url });
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/FAIL balance-derivable/);
    expect(check.output).toContain('"id":"tampered"');
  });
});

describe('tally keys', () => {
  it('creates, lists and revokes API keys; TALLY_ADMIN_API_KEY is honoured at start', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    const env = { DATABASE_URL: db.url };
    const created = await runCli(['keys', 'create', '--role', 'service', '--name', 'backend'], env);
    expect(created.code).toBe(0);
    const key = created.output.match(/^(tly_\S+)$/m)![1]!;
    const id = created.output.match(/Created service key (key_\S+)/)![1]!;
    expect((await runCli(['keys', 'list'], env)).output).toContain(`${id}  service  ${key.slice(0, 10)}…  active  backend`);
    expect((await runCli(['keys', 'revoke', id], env)).code).toBe(0);
    expect((await runCli(['keys', 'list'], env)).output).toMatch(new RegExp(`${id}  service  .*revoked`));
    expect((await runCli(['keys', 'revoke', 'key_nope'], env)).code).toBe(1);
    expect((await runCli(['keys', 'create'], env)).code).toBe(2);

    const adminKey = `tly_${'a'.repeat(40)}`;
    const port = String(await freePort());
    const server = startCli(['serve'], { ...env, PORT: port, TALLY_ADMIN_API_KEY: adminKey });
    await server.waitFor(/HTTP API listening/);
    const check = await fetch(`http://127.0.0.1:${port}/v1/admin/ledger/check`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(check.status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

describe('tally credits reset-month', () => {
  it('resets every user for a month, and refuses a malformed month', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    const reset = await runCli(['credits', 'reset-month', '--period', '2030-01'], { DATABASE_URL: db.url });
    expect(reset.code).toBe(0);
    expect(reset.output).toContain('Reset 0 users for 2030-01');
    expect((await runCli(['credits', 'reset-month', '--period', '2030-13'], { DATABASE_URL: db.url })).code).toBe(2);
  });
});

describe('tally providers health', () => {
  it('probes each configured provider and prints a line each; a failing one makes it exit 1', async () => {
    const db = await createTestDatabase({ poolSize: 2 });
    const nano = await startNanoBananaFake();
    try {
      const env = { DATABASE_URL: db.url, NANOBANANA_BASE_URL: nano.url, NANOBANANA_API_KEY: nano.apiKey };
      const healthy = await runCli(['providers', 'health'], env);
      expect(healthy.code).toBe(0);
      expect(healthy.output).toMatch(/^nanobanana\s+ok\s+\d+ ms$/m);
      nano.set({ failure: 'server_error' });
      const failing = await runCli(['providers', 'health'], env);
      expect(failing.code).toBe(1);
      expect(failing.output).toMatch(/^nanobanana\s+FAILED\s+\d+ ms  unavailable: /m);
      const none = await runCli(['providers', 'health'], { DATABASE_URL: db.url });
      expect(none.output).toContain('No AI provider is configured');
    } finally {
      await nano.close();
    }
  });
});

describe('configuration errors', () => {
  it('an invalid value stops the start with a message naming the variable', async () => {
    const result = await runCli(['start'], { PORT: 'not-a-port', TALLY_DATA_DIR: dataDir });
    expect(result.code).toBe(78);
    expect(result.output).toMatch(/PORT \(config key "http.port"\)/);
  });

  it('an unknown command prints the help', async () => {
    const result = await runCli(['frobnicate'], {});
    expect(result.code).toBe(2);
    expect(result.output).toContain('Usage: tally <command>');
  });
});
