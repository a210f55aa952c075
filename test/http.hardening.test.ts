// What an attacker found at the HTTP edge (issue 11): each test here failed before its fix.
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
