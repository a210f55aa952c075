// Tiers, allowances and the monthly reset (docs/rules.md §2), with the pool's backing moving alongside.
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/http.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await t.credits.refill({ provider: 'nanobanana', amount: 10_000, key: 'start' });
});

const pool = () => t.credits.poolState('nanobanana');
const setTier = (userId: string, tier: string) => t.request('PUT', `/v1/users/${userId}/tier`, { auth: t.serviceKey, body: { tier } });

describe('tiers', () => {
  it('an upgrade applies at once and tops the allowance up by the difference, backed by the pool', async () => {
    const before = await pool();
    expect((await setTier('ann', 'plus')).status).toBe(200);
    expect(await t.credits.balance('ann')).toMatchObject({ tier: 'plus', allowance: 10 });
    const response = await setTier('ann', 'pro');
    expect(await response.json()).toMatchObject({ tier: 'pro', allowance: 25, balance: 25, nextTier: null });
    expect(await pool()).toMatchObject({ available: before.available - 25 * 4, reserved: before.reserved + 25 * 4 });
  });

  it('a downgrade waits for the reset', async () => {
    const response = await setTier('ann', 'free');
    expect(await response.json()).toMatchObject({ tier: 'pro', nextTier: 'free', allowance: 25 });
  });

  it('an unknown tier is a 400 naming the field, and changes nothing', async () => {
    const response = await setTier('ann', 'platinum');
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].path).toBe('body.tier');
    expect(await t.credits.balance('ann')).toMatchObject({ tier: 'pro', nextTier: 'free' });
  });

  it('only service and admin keys may set tiers', async () => {
    expect((await t.request('PUT', '/v1/users/ann/tier', { auth: await t.userToken('ann'), body: { tier: 'pro' } })).status).toBe(403);
  });
});

describe('the monthly reset', () => {
  it('expires what is left of the allowance, releases its backing, grants the new month’s, and keeps purchased credits', async () => {
    await setTier('ben', 'plus');
    await t.credits.purchase({ userId: 'ben', packageId: 'starter', key: 'ben-1' });
    await t.ledger.transfer({ key: 'ben-spends', transfers: [{ debit: 'user:ben:allowance', credit: 'credits:spent', amount: 4 }] });
    expect(await t.credits.balance('ben')).toMatchObject({ allowance: 6, purchased: 10 });
    const poolBefore = await pool();

    const next = nextPeriod();
    const { resetUserMonth } = await import('../src/credits/allowance.ts');
    const deps = { pool: t.db.pool, ledger: t.ledger, config: t.config.credits };
    expect(await resetUserMonth(deps, { userId: 'ben', period: next })).toMatchObject({ expired: 6, granted: 10, tier: 'plus', alreadyDone: false });
    expect(await t.credits.balance('ben')).toMatchObject({ allowance: 10, purchased: 10 });
    // 6 credits of backing released, 10 reserved again: net 4 more reserved.
    expect(await pool()).toMatchObject({ available: poolBefore.available - 16, reserved: poolBefore.reserved + 16 });

    // Twice: nothing more happens.
    expect(await resetUserMonth(deps, { userId: 'ben', period: next })).toMatchObject({ alreadyDone: true });
    expect(await t.credits.balance('ben')).toMatchObject({ allowance: 10, purchased: 10 });
  });

  it('applies a pending downgrade', async () => {
    const { resetUserMonth } = await import('../src/credits/allowance.ts');
    const result = await resetUserMonth({ pool: t.db.pool, ledger: t.ledger, config: t.config.credits }, { userId: 'ann', period: nextPeriod() });
    expect(result).toMatchObject({ expired: 25, granted: 0, tier: 'free' });
    expect(await t.credits.balance('ann')).toMatchObject({ tier: 'free', nextTier: null, allowance: 0 });
  });

  it('run concurrently for every user, it grants each user once, and the ledger check passes', async () => {
    for (const user of ['cy', 'di', 'ed']) await setTier(user, 'pro');
    const period = periodAfter(nextPeriod());
    const runs = await Promise.all([t.credits.resetMonth(period), t.credits.resetMonth(period), t.credits.resetMonth(period)]);
    expect(runs.reduce((sum, r) => sum + r.granted, 0)).toBe(3 * 25 + 10); // cy, di, ed at pro, ben at plus
    for (const user of ['cy', 'di', 'ed']) expect((await t.credits.balance(user)).allowance).toBe(25);
    expect((await t.ledger.checkInvariants()).ok).toBe(true);
  });
});

function nextPeriod(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 7);
}

function periodAfter(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 7);
}

describe('an allowance the pool cannot back', () => {
  it('is granted anyway, raises a critical alert, and shows as drift in the backing check', async () => {
    const empty = await createTestApp();
    const response = await empty.request('PUT', '/v1/users/kim/tier', { auth: empty.serviceKey, body: { tier: 'pro' } });
    expect(await response.json()).toMatchObject({ tier: 'pro', allowance: 25 });
    const alerts = (await (await empty.request('GET', '/v1/admin/alerts', { auth: empty.adminKey })).json()).alerts;
    expect(alerts).toEqual([expect.objectContaining({ type: 'allowance_shortfall', level: 'critical' })]);
    const report = await (await empty.request('GET', '/v1/admin/ledger/check', { auth: empty.adminKey })).json();
    const backing = report.results.find((r: { name: string }) => r.name === 'backing-matches-credits');
    expect(backing.violations).toEqual([{ reserved: 0, expected: 100, drift: -100 }]);
    // The ledger's own invariants still hold: the drift is about backing, not about money going missing.
    expect(report.results.filter((r: { name: string; ok: boolean }) => r.name !== 'backing-matches-credits' && !r.ok)).toEqual([]);
  });
});

describe('the monthly reset of a month that mixed backed and unbacked grants', () => {
  it('releases exactly the backing of the expiring allowance that was backed, back to sellable capacity', async () => {
    const app = await createTestApp();
    await app.credits.refill({ provider: 'nanobanana', amount: 40, key: 'just-enough' });
    const period = new Date().toISOString().slice(0, 7); // setTier grants in the current month
    await app.credits.setTier('mia', 'plus'); // 10 credits, backed by 40 units
    await app.credits.setTier('mia', 'pro'); // +15 credits, unbacked: the pool is empty
    expect(await app.credits.poolState('nanobanana')).toMatchObject({ available: 0, reserved: 40 });
    expect(await app.credits.balance('mia')).toMatchObject({ allowance: 25 });

    const result = await app.credits.resetMonth(periodAfter(period));
    expect(result).toMatchObject({ expired: 25, granted: 25 });
    // The 10 backed credits' 40 units return to available; the new month's 25 (100 units) cannot be
    // backed from it, so they are granted unbacked and the backing check reports exactly that.
    expect(await app.credits.poolState('nanobanana')).toMatchObject({ available: 40, reserved: 0, sellableUserCredits: 10 });
    const report = await app.ledger.checkInvariants(app.credits.invariantChecks());
    expect(report.results.find((r) => r.name === 'backing-matches-credits')!.violations).toEqual([{ reserved: 0, expected: 100, drift: -100 }]);
  });
});

describe('the monthly reset from two processes at once', () => {
  it('grants each user once', async () => {
    const { spawn } = await import('node:child_process');
    const app = await createTestApp();
    await app.credits.refill({ provider: 'nanobanana', amount: 10_000, key: 'start' });
    for (let i = 0; i < 12; i++) await app.credits.setTier(`p${i}`, i % 2 ? 'plus' : 'pro');
    const period = '2031-01';
    const run = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/reset-client.ts', app.db.url, period], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      return {
        child,
        done: new Promise<{ granted: number }>((resolve, reject) =>
          child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`)))),
        ),
      };
    };
    const runs = [run(), run()];
    for (const { child } of runs) child.stdin.end('go\n');
    const totals = await Promise.all(runs.map((r) => r.done));
    expect(totals[0]!.granted + totals[1]!.granted).toBe(6 * 25 + 6 * 10);
    for (let i = 0; i < 12; i++) expect((await app.credits.balance(`p${i}`)).allowance).toBe(i % 2 ? 10 : 25);
    expect((await app.ledger.checkInvariants(app.credits.invariantChecks())).ok).toBe(true);
  });
});
