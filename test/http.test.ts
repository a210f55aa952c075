import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUserTokenVerifier } from '../src/auth/jwt.ts';
import { loadConfig } from '../src/config/index.ts';
import { createTestApp, JOB_TOKEN, type TestApp } from './support/http.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});

describe('errors and limits', () => {
  it('an unknown route is a 404 problem with a request id', async () => {
    const response = await t.request('GET', '/v1/nope');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ code: 'not_found', requestId: response.headers.get('x-request-id') });
  });

  it('keeps a sane incoming X-Request-Id and replaces an insane one', async () => {
    expect((await t.request('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } })).headers.get('x-request-id')).toBe('abc-123');
    expect((await t.request('GET', '/healthz', { headers: { 'x-request-id': 'a b<script>' } })).headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('malformed JSON: 400', async () => {
    const response = await t.request('POST', '/v1/admin/api-keys', { auth: t.adminKey, rawBody: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'malformed_json' });
  });

  it('a body that is not JSON: 415', async () => {
    const response = await t.request('POST', '/v1/admin/api-keys', {
      auth: t.adminKey,
      rawBody: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('a JSON body over 1 MB: 413, and nothing is created', async () => {
    const before = (await (await t.request('GET', '/v1/admin/api-keys', { auth: t.adminKey })).json()).apiKeys.length;
    const response = await t.request('POST', '/v1/admin/api-keys', { auth: t.adminKey, body: { name: 'x'.repeat(1024 * 1024 + 10), role: 'admin' } });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'payload_too_large' });
    expect((await (await t.request('GET', '/v1/admin/api-keys', { auth: t.adminKey })).json()).apiKeys.length).toBe(before);
  });

  it('validation errors name every bad field', async () => {
    const response = await t.request('POST', '/v1/admin/api-keys', { auth: t.adminKey, body: { name: '', role: 'root', extra: 1 } });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.code).toBe('validation_failed');
    expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body', 'body.name', 'body.role']);
  });

  it('a bad query value is a 400 naming it', async () => {
    await t.ledger.openAccount({ id: 'user:carol:purchased', asset: 'credits', kind: 'user-purchased', ownerId: 'carol', neverNegative: true });
    const response = await t.request('GET', '/v1/accounts/user:carol:purchased/transfers?limit=0', { auth: await t.userToken('carol') });
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].path).toBe('query.limit');
  });

  it('compatibility routes carry `error` too', async () => {
    const body = await (await t.request('POST', '/api/background/process-tasks')).json();
    expect(body).toMatchObject({ status: 401, error: expect.any(String) });
  });
});

describe('API keys', () => {
  it('created by an admin, used, listed without the key, revoked, refused', async () => {
    const created = await t.request('POST', '/v1/admin/api-keys', { auth: t.adminKey, body: { name: 'backend', role: 'service' } });
    expect(created.status).toBe(201);
    const { key, apiKey } = await created.json();
    expect(key).toMatch(/^tly_/);
    expect((await t.request('GET', '/v1/me', { auth: key, headers: { 'x-tally-user': 'dave' } })).status).toBe(200);
    const listed = await (await t.request('GET', '/v1/admin/api-keys', { auth: t.adminKey })).json();
    expect(JSON.stringify(listed)).not.toContain(key);
    expect(listed.apiKeys.find((k: { id: string }) => k.id === apiKey.id).lastUsedAt).not.toBeNull();
    expect((await t.request('DELETE', `/v1/admin/api-keys/${apiKey.id}`, { auth: t.adminKey })).status).toBe(200);
    expect((await t.request('GET', '/v1/me', { auth: key, headers: { 'x-tally-user': 'dave' } })).status).toBe(401);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once a caller spends its budget, per caller', async () => {
    const limited = await createTestApp({ TALLY_RATE_LIMIT_ENABLED: 'true', TALLY_RATE_LIMIT_PER_MINUTE: '5' });
    const erin = await limited.userToken('erin');
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await limited.request('GET', '/v1/me', { auth: erin })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = await limited.request('GET', '/v1/me', { auth: erin });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ code: 'rate_limited' });
    // Another caller has a budget of its own.
    expect((await limited.request('GET', '/v1/me', { auth: await limited.userToken('frank') })).status).toBe(200);
  });

  it('counts an API key as one caller, whichever user it acts for; another key has its own budget', async () => {
    const limited = await createTestApp({ TALLY_RATE_LIMIT_ENABLED: 'true', TALLY_RATE_LIMIT_PER_MINUTE: '5' });
    const asUser = (user: string) => limited.request('GET', '/v1/credits/balance', { auth: limited.serviceKey, headers: { 'x-tally-user': user } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await asUser(`user-${i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const refused = await asUser('someone-new');
    expect(refused.status).toBe(429);
    // 5 a minute refill one request every 12 s: that is how long the caller is told to wait.
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(10);
    expect(retryAfter).toBeLessThanOrEqual(12);
    expect((await limited.request('GET', '/v1/admin/pools', { auth: limited.adminKey })).status).toBe(200);
  });
});

describe('CORS', () => {
  it('is off by default and answers configured origins only', async () => {
    expect((await t.request('GET', '/healthz', { headers: { origin: 'https://app.example' } })).headers.get('access-control-allow-origin')).toBeNull();
    const withCors = await createTestApp({ TALLY_CORS_ORIGINS: 'https://app.example' });
    expect((await withCors.request('GET', '/healthz', { headers: { origin: 'https://app.example' } })).headers.get('access-control-allow-origin')).toBe(
      'https://app.example',
    );
    expect((await withCors.request('GET', '/healthz', { headers: { origin: 'https://evil.example' } })).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('metrics', () => {
  it('counts requests by route pattern and status', async () => {
    await t.request('GET', '/healthz');
    const text = await (await t.request('GET', '/metrics', { auth: t.adminKey })).text();
    expect(text).toMatch(/tally_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toContain('tally_http_request_duration_seconds_bucket');
    expect(text).not.toMatch(/route="\/v1\/accounts\/user:/);
  });
});

describe('JWKS tokens (RS256, as Supabase issues with asymmetric keys)', () => {
  let server: Server;
  let url: string;
  let privateKey: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('verifies a token signed by a key from the JWKS and checks the issuer', async () => {
    const verify = createUserTokenVerifier(loadConfig({ env: { JWT_JWKS_URL: url, JWT_ISSUER: 'https://auth.example' } }).auth);
    const sign = (issuer: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('user-42').setIssuer(issuer).setExpirationTime('5m').sign(privateKey);
    expect(await verify(await sign('https://auth.example'))).toEqual({ userId: 'user-42', admin: false });
    await expect(verify(await sign('https://other.example'))).rejects.toThrow(/invalid token/);
    // An HS256 token is refused when only a JWKS is configured.
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .sign(new TextEncoder().encode('a'.repeat(32)));
    await expect(verify(hs)).rejects.toThrow(/invalid token/);
  });
});

describe('a Supabase project named by SUPABASE_URL', () => {
  it('takes its users’ ES256 tokens through the derived JWKS, issuer and audience, and its legacy HS256 secret too', async () => {
    const pair = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'sb1', alg: 'ES256', use: 'sig' };
    const auth = createServer((req, res) => {
      if (req.url !== '/auth/v1/.well-known/jwks.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve));
    try {
      const project = `http://127.0.0.1:${(auth.address() as AddressInfo).port}`;
      const legacySecret = 'legacy-supabase-secret-0123456789';
      const verify = createUserTokenVerifier(loadConfig({ env: { SUPABASE_URL: project, SUPABASE_JWT_SECRET: legacySecret } }).auth);
      const sign = (claims: { issuer: string; audience: string }) =>
        new SignJWT({ role: 'authenticated' })
          .setProtectedHeader({ alg: 'ES256', kid: 'sb1' })
          .setSubject('sb-user')
          .setIssuer(claims.issuer)
          .setAudience(claims.audience)
          .setExpirationTime('5m')
          .sign(pair.privateKey);
      expect(await verify(await sign({ issuer: `${project}/auth/v1`, audience: 'authenticated' }))).toEqual({ userId: 'sb-user', admin: false });
      await expect(verify(await sign({ issuer: 'https://elsewhere.supabase.co/auth/v1', audience: 'authenticated' }))).rejects.toThrow(/invalid token/);
      await expect(verify(await sign({ issuer: `${project}/auth/v1`, audience: 'anon' }))).rejects.toThrow(/invalid token/);
      const legacy = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('old-user')
        .setIssuer(`${project}/auth/v1`)
        .setAudience('authenticated')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(legacySecret));
      expect(await verify(legacy)).toEqual({ userId: 'old-user', admin: false });
    } finally {
      await new Promise((resolve) => auth.close(resolve));
    }
  });
});

describe('over a real socket', () => {
  it('a bare POST (no Content-Length, no body, as curl -X POST sends) is an action without a body, not a 415', async () => {
    const served = await createTestApp({}, {}, undefined, { listen: true });
    const { hostname, port } = new URL(served.config.publicUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () =>
        socket.write(`POST /api/background/process-tasks HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${JOB_TOKEN}\r\nConnection: close\r\n\r\n`),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  });
});

describe('remembered user tokens', () => {
  const secret = 'remembered-token-secret-0123456789abcdef';
  const verify = createUserTokenVerifier(loadConfig({ env: { JWT_SECRET: secret } }).auth);
  const sign = (seconds: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('rita')
      .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
      .sign(new TextEncoder().encode(secret));
  afterEach(() => vi.useRealTimers());

  it('a verified token is refused once it expires, though it was remembered', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const token = await sign(60);
    expect(await verify(token)).toEqual({ userId: 'rita', admin: false });
    expect(await verify(token)).toEqual({ userId: 'rita', admin: false }); // from memory
    vi.setSystemTime(Date.now() + 61_000);
    await expect(verify(token)).rejects.toThrow(/invalid token/);
  });

  it('only the very token that verified is remembered: one with another signature is checked, and refused', async () => {
    const token = await sign(60);
    await verify(token);
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.alloc(32, 7).toString('base64url')}`;
    await expect(verify(forged)).rejects.toThrow(/invalid token/);
  });
});

describe('internal errors', () => {
  it('a failure on our side is a 500 that names only the request id, never the cause', async () => {
    const broken = await createTestApp();
    await broken.db.pool.end(); // every query now fails inside the server
    const response = await broken.request('GET', '/v1/me', { auth: broken.adminKey, headers: { 'x-tally-user': 'zoe' } });
    // Authentication itself needs the database: the first failure is already ours, not the caller's.
    expect(response.status).toBe(500);
    const body = await response.json();
    expect(body).toMatchObject({ code: 'internal', requestId: response.headers.get('x-request-id') });
    expect(body.detail).toContain(body.requestId);
    expect(JSON.stringify(body)).not.toMatch(/pool|Cannot use|stack|at \w+ \(/i);
  });
});
