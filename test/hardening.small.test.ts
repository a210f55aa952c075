// The smaller findings of issue 11, each with a test that failed before its fix: bad percent-encoding,
// what an SSRF refusal tells, the configured admin key's revocation, tokens without `exp`.
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerConfiguredAdminKey, retireApiKey, revokeApiKey, verifyApiKey } from '../src/auth/api-keys.ts';
import type { ResolvedAddress } from '../src/net/safe-fetch.ts';
import { AUDIENCE, createTestApp, JWT_SECRET, type TestApp } from './support/http.ts';

let t: TestApp;
// internal.test resolves to a private address, as an attacker's DNS name would.
const lookup = async (host: string): Promise<ResolvedAddress[]> => (host === 'internal.test' ? [{ address: '10.20.30.40', family: 4 }] : []);

beforeAll(async () => {
  t = await createTestApp({}, {}, undefined, { lookup });
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await t.credits.purchase({ userId: 'alice', packageId: 'starter' });
});

const tokenWithoutExp = () =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setAudience(AUDIENCE).setIssuedAt().sign(new TextEncoder().encode(JWT_SECRET));

describe('bad percent-encoding in a file path', () => {
  it('is a 404 problem, not a 500', async () => {
    for (const path of ['/files/%E0%A4%A', '/files/%', '/files/a/%ZZ.png']) {
      const response = await t.request('GET', path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
  });
});

describe('an SSRF refusal', () => {
  it('says the URL is not allowed without repeating the address its name resolved to', async () => {
    const response = await t.request('POST', '/v1/generations', {
      auth: await t.userToken('alice'),
      body: { inputImageUrl: 'http://internal.test/photo.png', enhancementType: 'lighting' },
    });
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toMatch(/not allowed/);
    expect(text).not.toContain('10.20.30.40');
  });
});

describe('user tokens without exp', () => {
  it('are refused by default', async () => {
    const response = await t.request('GET', '/v1/me', { auth: await tokenWithoutExp() });
    expect(response.status).toBe(401);
    expect((await response.json()).detail).toMatch(/exp/);
  });

  it('are accepted only when JWT_REQUIRE_EXP=false says so', async () => {
    const lenient = await createTestApp({ JWT_REQUIRE_EXP: 'false' });
    expect((await lenient.request('GET', '/v1/me', { auth: await tokenWithoutExp() })).status).toBe(200);
  });
});

describe('the configured admin key (TALLY_ADMIN_API_KEY)', () => {
  const key = `tly_${'k'.repeat(40)}`;
  it('stays revoked when the same key is registered again at the next start', async () => {
    await registerConfiguredAdminKey(t.db.pool, key);
    expect(await verifyApiKey(t.db.pool, key)).toBeDefined();
    await revokeApiKey(t.db.pool, 'key_env_admin');
    await registerConfiguredAdminKey(t.db.pool, key); // the restart
    expect(await verifyApiKey(t.db.pool, key)).toBeUndefined();
    // A new key in the variable is a new credential: it works.
    const rotated = `tly_${'r'.repeat(40)}`;
    await registerConfiguredAdminKey(t.db.pool, rotated);
    expect(await verifyApiKey(t.db.pool, rotated)).toBeDefined();
    expect(await verifyApiKey(t.db.pool, key)).toBeUndefined();
  });

  it('the demo admin key stops working once retired (a start without --demo)', async () => {
    const demoKey = `tly_${'d'.repeat(40)}`;
    await registerConfiguredAdminKey(t.db.pool, demoKey, { id: 'key_demo_admin', name: 'demo admin key', reactivate: true });
    expect(await verifyApiKey(t.db.pool, demoKey)).toBeDefined();
    await retireApiKey(t.db.pool, 'key_demo_admin');
    expect(await verifyApiKey(t.db.pool, demoKey)).toBeUndefined();
    // --demo again brings it back.
    await registerConfiguredAdminKey(t.db.pool, demoKey, { id: 'key_demo_admin', name: 'demo admin key', reactivate: true });
    expect(await verifyApiKey(t.db.pool, demoKey)).toBeDefined();
  });
});
