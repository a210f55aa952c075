// User notifications: a charge that leaves a user at 1 credit or less writes one credits-low notice a
// day; the user lists their notices newest first and dismisses them; another user's notice is a 404.
import { beforeAll, describe, expect, it } from 'vitest';
import { noteCreditsLow } from '../src/notifications/index.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { testPng } from './support/images.ts';

let t: TestApp;
let cara: string;
let dan: string;

beforeAll(async () => {
  t = await createTestApp();
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await t.credits.purchase({ userId: 'cara', packageId: 'starter' }); // 10 credits
  cara = await t.userToken('cara');
  dan = await t.userToken('dan');
});

const submit = async (userId: string) => t.services.generations.submit({ userId, enhancementType: 'lighting', prompt: 'warm', upload: await testPng() });
const list = async (token: string, query = '') => (await (await t.request('GET', `/v1/notifications${query}`, { auth: token })).json()).notifications;

describe('credits-low notices', () => {
  it('the charge that leaves 1 credit writes one notice; the next charge the same day writes none', async () => {
    for (let i = 0; i < 8; i++) await submit('cara'); // 2 left
    expect(await list(cara)).toEqual([]);
    expect((await submit('cara')).remainingBalance).toBe(1);
    const notices = await list(cara);
    expect(notices).toEqual([
      expect.objectContaining({ kind: 'credits_low', period: new Date().toISOString().slice(0, 10), data: { remaining: 1 }, dismissedAt: null }),
    ]);
    expect((await submit('cara')).remainingBalance).toBe(0);
    expect(await list(cara)).toHaveLength(1);
  });

  it('concurrent charges on one day write one notice', async () => {
    const written = await Promise.all(
      Array.from({ length: 8 }, () => noteCreditsLow(t.db.pool, { userId: 'eve', remaining: 0, now: new Date('2026-11-02T10:00:00Z') })),
    );
    expect(written.filter(Boolean)).toHaveLength(1);
    expect(await noteCreditsLow(t.db.pool, { userId: 'eve', remaining: 0, now: new Date('2026-11-03T10:00:00Z') })).toBe(true); // the next day
    expect(await noteCreditsLow(t.db.pool, { userId: 'eve', remaining: 2 })).toBe(false);
  });
});

describe('/v1/notifications', () => {
  it('lists the caller’s notices newest first, beside the upgrade suggestions the job writes', async () => {
    await t.db.pool.query(
      `insert into user_notifications (id, user_id, kind, period, data, created_at) values ('unt_old', 'cara', 'upgrade_suggestion', '2026-10', '{}', now() - interval '1 day')`,
    );
    expect((await list(cara)).map((n: { kind: string }) => n.kind)).toEqual(['credits_low', 'upgrade_suggestion']);
    expect(await list(dan)).toEqual([]);
  });

  it('dismisses the caller’s notice (twice: unchanged); another user’s is a 404 and stays', async () => {
    const [notice] = await list(cara);
    const foreign = await t.request('POST', `/v1/notifications/${notice.id}/dismiss`, { auth: dan });
    expect(foreign.status).toBe(404);
    expect((await list(cara)).map((n: { id: string }) => n.id)).toContain(notice.id);
    const dismissed = await t.request('POST', `/v1/notifications/${notice.id}/dismiss`, { auth: cara });
    expect(dismissed.status).toBe(200);
    const body = await dismissed.json();
    expect(body).toMatchObject({ id: notice.id, dismissedAt: expect.any(String) });
    const again = await (await t.request('POST', `/v1/notifications/${notice.id}/dismiss`, { auth: cara })).json();
    expect(again.dismissedAt).toBe(body.dismissedAt);
    expect((await list(cara)).map((n: { id: string }) => n.id)).not.toContain(notice.id);
    expect((await list(cara, '?all=true')).map((n: { id: string }) => n.id)).toContain(notice.id);
    expect((await t.request('POST', '/v1/notifications/unt_missing/dismiss', { auth: cara })).status).toBe(404);
    expect((await t.request('GET', '/v1/notifications?limit=0', { auth: cara })).status).toBe(400);
  });
});
