// What an attacker found at the HTTP edge (issue 11): each test here failed before its fix.
import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/http.ts';

let t: TestApp;
let base: string;
let alice: string;

beforeAll(async () => {
  t = await createTestApp({ TALLY_MAX_JSON_BYTES: '2048', TALLY_MAX_UPLOAD_BYTES: '65536' }, {}, undefined, { listen: true });
  base = t.config.publicUrl;
  alice = await t.userToken('alice');
});

describe('a refused body does not poison a pooled connection', () => {
  it('after a 413, the same client’s next request works', async () => {
    for (let i = 0; i < 5; i++) {
      const refused = await fetch(`${base}/v1/credits/purchases`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ packageId: 'starter', padding: 'x'.repeat(200_000) }),
      });
      expect(refused.status).toBe(413);
      expect(refused.headers.get('connection')).toBe('close');
      await refused.text();
      const next = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${alice}` } });
      expect(next.status).toBe(200);
      await next.text();
    }
  });
});

/** A chunked POST (no Content-Length) that counts how much of its body the server let it send. */
function chunkedUpload(path: string, headers: Record<string, string>, totalBytes: number): Promise<{ status: number; sent: number }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    let sent = 0;
    let answered = false;
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } },
      (res) => {
        answered = true;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, sent }));
      },
    );
    req.on('error', (error) => (answered ? undefined : reject(error)));
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const pump = () => {
      while (!answered && sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('an anonymous body is refused before it is read', () => {
  it('a chunked multipart upload without credentials gets 401 long before the upload limit', async () => {
    const { status, sent } = await chunkedUpload('/v1/generations', { 'content-type': 'multipart/form-data; boundary=x' }, 8 * 1024 * 1024);
    expect(status).toBe(401);
    expect(sent).toBeLessThan(4 * 1024 * 1024);
  });

  it('an authenticated chunked upload over the limit is cut off at the limit: 413', async () => {
    const { status, sent } = await chunkedUpload(
      '/v1/generations',
      { authorization: `Bearer ${alice}`, 'content-type': 'multipart/form-data; boundary=x' },
      8 * 1024 * 1024,
    );
    expect(status).toBe(413);
    expect(sent).toBeLessThan(4 * 1024 * 1024);
  });

  it('provider callbacks stay open to anonymous callers, with their own limit', async () => {
    const small = await fetch(`${base}/api/webhooks/providers/nanobanana?attempt=att_x&token=forged`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'y'.repeat(10_000) }),
    });
    expect(small.status).not.toBe(413); // over the JSON limit of this app (2 KB), under the webhook limit
    expect([401, 404]).toContain(small.status); // refused by the callback's own token check, not by the edge
    const huge = await fetch(`${base}/api/webhooks/providers/nanobanana?attempt=att_x&token=forged`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'y'.repeat(600_000) }),
    });
    expect(huge.status).toBe(413);
  });
});

describe('the session cookie cannot be ridden from another origin (CSRF)', () => {
  let cors: TestApp;
  beforeAll(async () => {
    cors = await createTestApp({ TALLY_CORS_ORIGINS: 'https://app.example.com', TALLY_PUBLIC_URL: 'https://api.example.com', TALLY_DEV_PURCHASES: 'true' });
    await cors.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  });
  const purchase = async (headers: Record<string, string>) => cors.request('POST', '/v1/credits/purchases', { body: { packageId: 'starter' }, headers });

  it('a cookie-authenticated POST from another origin, or with no Origin, is refused with 403 and changes nothing', async () => {
    const cookie = `lr_session=${await cors.userToken('carol')}`;
    for (const headers of [{ cookie, origin: 'https://evil.example' }, { cookie }, { cookie, origin: 'null' }] as Record<string, string>[]) {
      const response = await purchase(headers);
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect((await response.json()).detail).toMatch(/origin/i);
    }
    expect((await cors.credits.balance('carol')).balance).toBe(0);
  });

  it('the same request from our own origin or a configured CORS origin goes through', async () => {
    const cookie = `lr_session=${await cors.userToken('dave')}`;
    expect((await purchase({ cookie, origin: 'https://app.example.com' })).status).toBe(200);
    expect((await purchase({ cookie, origin: 'https://api.example.com' })).status).toBe(200);
    expect((await cors.credits.balance('dave')).balance).toBe(20);
  });

  it('a bearer token is not a CSRF vector: no Origin needed; reads with the cookie need none either', async () => {
    expect(
      (
        await cors.request('POST', '/v1/credits/purchases', {
          auth: await cors.userToken('erin'),
          body: { packageId: 'starter' },
          headers: { origin: 'https://evil.example' },
        })
      ).status,
    ).toBe(200);
    expect((await cors.request('GET', '/v1/me', { headers: { cookie: `lr_session=${await cors.userToken('erin')}` } })).status).toBe(200);
  });
});
