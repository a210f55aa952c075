// A keyed purchase whose first run died between the grant and storing its answer (its API process
// killed, or the database gone at that moment; the chaos campaign met it) must not buy twice when a
// retry takes the abandoned request over, and the retry must get an answer, not a 409 for minutes.
import { expect, it } from 'vitest';
import { createTestApp } from './support/http.ts';

// 40 s: past the 30 s takeover age (it was 5 minutes of 409s); 10 minutes: the takeover bought again.
it.each(['40 seconds', '10 minutes'])('a retry that takes over a keyed purchase abandoned %s ago grants nothing twice', async (age) => {
  const app = await createTestApp({ TALLY_DEV_PURCHASES: 'true' });
  await app.credits.refill({ provider: 'nanobanana', amount: 1000 });
  const auth = await app.userToken('crashed');
  const buy = () => app.request('POST', '/v1/credits/purchases', { auth, body: { packageId: 'starter' }, headers: { 'idempotency-key': 'order-7' } });
  expect((await buy()).status).toBe(200);
  // What a first run that died after the grant leaves behind: the claim without its answer.
  await app.db.pool.query("update purchase_requests set response = null, created_at = now() - $1::interval where user_id = 'crashed'", [age]);

  const retry = await buy();
  expect(retry.status).toBe(200);
  expect(await retry.json()).toMatchObject({ granted: 10, balance: 10 });
  expect((await app.credits.balance('crashed')).purchased).toBe(10);
  const purchases = await app.db.pool.query("select status from purchases where user_id = 'crashed'");
  expect(purchases.rows).toEqual([{ status: 'paid' }]);
  expect((await app.ledger.checkInvariants(app.credits.invariantChecks())).ok).toBe(true);
});

it('a claim younger than the takeover age is answered 409 "still running", and buys nothing meanwhile', async () => {
  const app = await createTestApp({ TALLY_DEV_PURCHASES: 'true' });
  await app.credits.refill({ provider: 'nanobanana', amount: 1000 });
  const auth = await app.userToken('waiting');
  await app.db.pool.query("insert into purchase_requests (user_id, key, fingerprint, created_at) values ('waiting', 'k', $1, now() - interval '25 seconds')", [
    // the fingerprint of { packageId: 'starter' } (the body the route passes)
    (await import('node:crypto'))
      .createHash('sha256')
      .update(JSON.stringify({ packageId: 'starter' }))
      .digest('hex'),
  ]);
  const started = Date.now();
  const answer = await app.request('POST', '/v1/credits/purchases', { auth, body: { packageId: 'starter' }, headers: { 'idempotency-key': 'k' } });
  expect(answer.status).toBe(409);
  expect(Date.now() - started).toBeGreaterThanOrEqual(9_000); // it waited for the first run's answer first
  expect((await app.credits.balance('waiting')).purchased).toBe(0);
}, 30_000);
