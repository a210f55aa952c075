// Provider credentials set at run time (src/credentials/README.md): stored encrypted (unreadable in the
// database), never answered nor logged, used without a restart, and still working after the encryption
// key is rotated with `tally keys rotate-encryption` (resumable).
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { ProviderCredentials } from '../src/credentials/index.ts';
import { startKieFake, type KieFake } from './fakes/kie.ts';
import { runCli } from './support/cli.ts';
import { enhanceAs as enhance } from './support/generations.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { startImageServer, type ImageServer } from './support/images.ts';

const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');
const FIRST = 'kie-first-secret-0123456789-A1b2';
const SECOND = 'kie-second-secret-9876543210-Z9y8';

let t: TestApp;
let kie: KieFake;
let images: ImageServer;
let logs = '';
const responses: string[] = [];

beforeAll(async () => {
  [kie, images] = await Promise.all([startKieFake(), startImageServer()]);
  const sink = new Writable({ write: (chunk, _enc, done) => ((logs += chunk.toString()), done()) });
  t = await createTestApp(
    { TALLY_ENCRYPTION_KEY: OLD_KEY, TALLY_URL_ALLOWLIST: '127.0.0.1/32', TALLY_GENERATION_POLL_INTERVAL_MS: '50', LOG_LEVEL: 'debug' },
    {},
    undefined,
    { worker: true, listen: true, log: pino({ level: 'debug' }, sink) },
  );
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
});
afterAll(async () => {
  await Promise.all([kie.close(), images.close()]);
});

async function call(method: string, path: string, body?: unknown) {
  const response = await t.request(method, path, { auth: t.adminKey, body });
  responses.push(await response.clone().text());
  return response;
}

const enhanceAs = (user: string) => enhance(t, user, `${images.url}/photo.png`);

describe('provider credentials at run time', () => {
  it('a key stored through the API is used at once, unreadable in the database, and shown only by its last 4', async () => {
    expect(t.services.generations.providers).toEqual(['local']); // no key anywhere yet
    kie.apiKey = FIRST;
    const put = await call('PUT', '/v1/admin/providers/kie/credentials', { apiKey: FIRST, baseUrl: kie.url });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      provider: 'kie',
      source: 'database',
      last4: 'A1b2',
      baseUrl: kie.url,
      updatedBy: expect.stringMatching(/^api-key:/),
    });

    const { rows } = await t.db.pool.query<{ row: string }>(`select p::text as row from provider_credentials p`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.row).not.toContain(FIRST);
    expect(rows[0]!.row).not.toContain(FIRST.slice(0, 12));

    const task = await enhanceAs('kim');
    expect(task).toMatchObject({ status: 'completed', degraded: false });
    expect([...kie.tasks.values()]).toHaveLength(1); // the fake accepted only its key: FIRST reached it

    const list = await (await call('GET', '/v1/admin/providers/credentials')).json();
    expect(list.providers.find((p: { provider: string }) => p.provider === 'kie')).toMatchObject({ source: 'database', last4: 'A1b2' });
    const { rows: audit } = await t.db.pool.query('select action, subject from control_audit where subject = $1', ['kie']);
    expect(audit).toEqual([{ action: 'credentials_set', subject: 'kie' }]);
  });

  it('a changed key is used by the next generation, without a restart', async () => {
    kie.apiKey = SECOND;
    expect((await call('PUT', '/v1/admin/providers/kie/credentials', { apiKey: SECOND, baseUrl: kie.url })).status).toBe(200);
    const before = kie.tasks.size;
    expect(await enhanceAs('lou')).toMatchObject({ status: 'completed', degraded: false });
    expect(kie.tasks.size).toBe(before + 1);
  });

  it('rotation re-encrypts under the new key (resumable), and a process on the new key reaches the provider with it', async () => {
    const env = { DATABASE_URL: t.db.url, TALLY_DATA_DIR: t.config.dataDir, TALLY_ENCRYPTION_KEY: NEW_KEY, TALLY_ENCRYPTION_KEY_OLD: OLD_KEY };
    const [before] = (await t.db.pool.query<{ secret: string }>('select secret from provider_credentials')).rows;
    const first = await runCli(['keys', 'rotate-encryption'], env);
    expect(first.output).toContain('Re-encrypted 1 stored key(s); 1 now under the new key');
    expect(first.code).toBe(0);
    const again = await runCli(['keys', 'rotate-encryption'], env);
    expect(again.output).toContain('Re-encrypted 0 stored key(s); 1 now under the new key');
    const [after] = (await t.db.pool.query<{ secret: string }>('select secret from provider_credentials')).rows;
    expect(after!.secret).not.toBe(before!.secret);
    logs += first.output + again.output;

    const config = loadConfig({ env: { TALLY_ENCRYPTION_KEY: NEW_KEY } });
    const onNewKey = new ProviderCredentials({
      pool: t.db.pool,
      config,
      log: pino({ level: 'debug' }, new Writable({ write: (c, _e, done) => ((logs += c.toString()), done()) })),
    });
    await onNewKey.refresh();
    const adapter = onNewKey.adapters.get('kie');
    expect(adapter).toBeDefined();
    await adapter!.health({ signal: AbortSignal.timeout(5000) }); // the fake refuses any key but SECOND
    // Under the old key alone the stored key is unreadable: the provider is not configured, and the log says why.
    const stale = new ProviderCredentials({
      pool: t.db.pool,
      config: loadConfig({ env: { TALLY_ENCRYPTION_KEY: OLD_KEY } }),
      log: pino({ level: 'debug' }, new Writable({ write: (c, _e, done) => ((logs += c.toString()), done()) })),
    });
    await stale.refresh();
    expect(stale.adapters.has('kie')).toBe(false);
    expect(logs).toContain('do not decrypt under TALLY_ENCRYPTION_KEY');
  });

  it('removing the stored key takes the provider out; an environment key wins over a stored one', async () => {
    expect((await call('DELETE', '/v1/admin/providers/kie/credentials')).status).toBe(204);
    expect((await call('DELETE', '/v1/admin/providers/kie/credentials')).status).toBe(404);
    const envWins = new ProviderCredentials({
      pool: t.db.pool,
      config: loadConfig({ env: { TALLY_ENCRYPTION_KEY: OLD_KEY, FAL_KEY: 'env-fal-key-7777' } }),
      log: pino({ level: 'silent' }),
    });
    await envWins.put('fal', { apiKey: 'stored-fal-key-5555' }, 'test');
    expect((await envWins.list()).find((p) => p.provider === 'fal')).toMatchObject({ source: 'environment', last4: '7777', overriddenByEnvironment: true });
  });

  it('refuses a bad body naming the field, and a malformed TALLY_ENCRYPTION_KEY at start', async () => {
    const bad = await call('PUT', '/v1/admin/providers/kie/credentials', { apiKey: 'short' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).errors).toEqual([expect.objectContaining({ path: 'body.apiKey' })]);
    expect(() => loadConfig({ env: { TALLY_ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') } })).toThrow(/TALLY_ENCRYPTION_KEY/);
  });

  it('no key ever appears in a response or a log line', () => {
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of [FIRST, SECOND, 'stored-fal-key-5555', OLD_KEY, NEW_KEY]) {
      expect(logs).not.toContain(secret);
      expect(responses.join('\n')).not.toContain(secret);
    }
  });
});
