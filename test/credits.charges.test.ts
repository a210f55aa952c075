// Charging for work: spending order, 402s, overflow up to its cap, settling on the primary or a
// fallback provider with the pools moving as docs/rules.md §3 says, and refunds.
import { beforeAll, describe, expect, it } from 'vitest';
import { splitCharge } from '../src/credits/charges.ts';
import { InsufficientCreditsError } from '../src/credits/errors.ts';
import { createTestApp, type TestApp } from './support/http.ts';

describe('splitCharge (spending order)', () => {
  it('takes allowance first, then purchased, then overflow', () => {
    expect(splitCharge(3, { allowance: 5, purchased: 5, overflow: 5 })).toEqual({ allowance: 3 });
    expect(splitCharge(7, { allowance: 5, purchased: 5, overflow: 5 })).toEqual({ allowance: 5, purchased: 2 });
    expect(splitCharge(12, { allowance: 5, purchased: 5, overflow: 5 })).toEqual({ allowance: 5, purchased: 5, overflow: 2 });
    expect(splitCharge(16, { allowance: 5, purchased: 5, overflow: 5 })).toBeUndefined();
    expect(splitCharge(1, { allowance: 0, purchased: 1, overflow: 0 })).toEqual({ purchased: 1 });
  });
});

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp(
    {},
    { credits: { tiers: { free: { allowance: 0, overflowCap: 0 }, plus: { allowance: 10, overflowCap: 3 }, pro: { allowance: 25, overflowCap: 0 } } } },
  );
  await t.credits.refill({ provider: 'nanobanana', amount: 10_000, key: 'start' });
  await t.credits.refill({ provider: 'seedream', amount: 1_000, key: 'start' });
});

describe('charges', () => {
  it('a free user with no credits is refused with a message that says to upgrade (HTTP 402 material)', async () => {
    const error = await t.credits.chargeHold({ userId: 'fay', credits: 1, key: 'gen-fay-1' }).catch((e) => e);
    expect(error).toBeInstanceOf(InsufficientCreditsError);
    expect(error.message).toMatch(/upgrade/i);
    expect(error.detail).toMatchObject({ needed: 1, available: 0, upgrade: true });
  });

  it('over HTTP, submitting and inferring without credits is a 402 problem that says what to do, and holds nothing', async () => {
    const token = await t.userToken('fran');
    const photo = 'https://images.example/photo.png'; // never fetched: the user is refused first
    const answers = await Promise.all([
      t.request('POST', '/v1/generations', { auth: token, body: { inputImageUrl: photo, enhancementType: 'lighting' } }),
      t.request('POST', '/api/enhance-image', { auth: token, body: { inputImageUrl: photo, enhancementType: 'lighting' } }),
      t.request('POST', '/api/infer', { auth: token, body: { modelId: 'enhance', inputs: { prompt: 'brighter', imageUrl: photo } } }),
      t.request('POST', '/v1/infer', { auth: token, body: { modelId: 'enhance', inputs: { prompt: 'brighter', imageUrl: photo } } }),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(402);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await answer.json()) as { code: string; detail: string; needed: number; available: number; upgrade: boolean };
      expect(problem).toMatchObject({ code: 'insufficient_credits', needed: 1, available: 0, upgrade: true });
      expect(problem.detail).toMatch(/upgrade/i);
    }
    const { rows } = await t.db.pool.query<{ n: number }>("select count(*)::int as n from generations where user_id = 'fran'");
    expect(rows[0]!.n).toBe(0);
  });

  it('a paid user with overflow draws up to the cap and no further', async () => {
    await t.credits.setTier('gus', 'plus'); // 10 allowance, overflow cap 3
    const held = [];
    for (let i = 0; i < 13; i++) held.push(await t.credits.chargeHold({ userId: 'gus', credits: 1, key: `gen-gus-${i}` }));
    expect(held.at(-1)!.split).toEqual({ overflow: 1 });
    const refused = await t.credits.chargeHold({ userId: 'gus', credits: 1, key: 'gen-gus-13' }).catch((e) => e);
    expect(refused).toBeInstanceOf(InsufficientCreditsError);
    expect(refused.detail.upgrade).toBe(false);
    expect(await t.credits.balance('gus')).toMatchObject({ overflow: 0, overflowUsed: 3 });
  });

  it('settled on the primary: the user pays, the backing is consumed', async () => {
    await t.credits.purchase({ userId: 'hal', packageId: 'starter', key: 'hal' });
    const before = await t.credits.poolState('nanobanana');
    const { hold, split } = await t.credits.chargeHold({ userId: 'hal', credits: 2, key: 'gen-hal-1' });
    expect(split).toEqual({ purchased: 2 });
    expect(await t.credits.balance('hal')).toMatchObject({ purchased: 8 });
    await t.credits.settle({ hold, provider: 'nanobanan' });
    expect(await t.credits.poolState('nanobanana')).toMatchObject({
      available: before.available,
      reserved: before.reserved - 8,
      consumed: before.consumed + 8,
    });
    expect(await t.credits.balance('hal')).toMatchObject({ purchased: 8 });
  });

  it('settled on a fallback: the primary’s backing returns to available, the fallback’s units are consumed', async () => {
    const primary = await t.credits.poolState('nanobanana');
    const fallback = await t.credits.poolState('seedream');
    const { hold } = await t.credits.chargeHold({ userId: 'hal', credits: 1, key: 'gen-hal-2' });
    await t.credits.settle({ hold, provider: 'seedream', units: 2 });
    expect(await t.credits.poolState('nanobanana')).toMatchObject({
      available: primary.available + 4,
      reserved: primary.reserved - 4,
      consumed: primary.consumed,
    });
    expect(await t.credits.poolState('seedream')).toMatchObject({ available: fallback.available - 2, consumed: fallback.consumed + 2 });
    expect(await t.credits.balance('hal')).toMatchObject({ purchased: 7 });
  });

  it('refunded: every credit returns and the pool does not move', async () => {
    const before = await t.credits.poolState('nanobanana');
    const { hold } = await t.credits.chargeHold({ userId: 'hal', credits: 3, key: 'gen-hal-3' });
    expect(await t.credits.balance('hal')).toMatchObject({ purchased: 4 });
    await t.credits.refund({ hold });
    expect(await t.credits.balance('hal')).toMatchObject({ purchased: 7 });
    expect(await t.credits.poolState('nanobanana')).toEqual(before);
  });

  it('overflow work is paid from available', async () => {
    const before = await t.credits.poolState('nanobanana');
    await t.credits.settle({ hold: 'gen-gus-12', provider: 'nanobanana' }); // the overflow credit
    expect(await t.credits.poolState('nanobanana')).toMatchObject({
      available: before.available - 4,
      reserved: before.reserved,
      consumed: before.consumed + 4,
    });
  });

  it('concurrent charges of one user never overdraw: 30 charges of 1 on 7 credits', async () => {
    await t.credits.purchase({ userId: 'ida', packageId: 'starter', key: 'ida' });
    await t.ledger.transfer({ key: 'ida-spends', transfers: [{ debit: 'user:ida:purchased', credit: 'credits:spent', amount: 3 }] });
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => t.credits.chargeHold({ userId: 'ida', credits: 1, key: `gen-ida-${i}` })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(7);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof InsufficientCreditsError)).toBe(true);
    expect((await t.ledger.checkInvariants()).ok).toBe(true);
  });
});
