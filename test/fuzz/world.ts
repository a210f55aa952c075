// The world the fuzzer runs in: the app with its worker (generations really run, on the local provider),
// local stand-ins for the web (an image server) and Stripe, users with credits, and one of every thing a
// path can name (generations, pauses, keys, syncs, refill requests, notifications, alerts), so requests
// carry real ids as well as random ones.
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { noteCreditsLow } from '../../src/notifications/index.ts';
import { startFakeStripe } from '../fakes/stripe.ts';
import { AUDIENCE, createTestApp, JOB_TOKEN, JWT_SECRET, METRICS_TOKEN, type TestApp } from '../support/http.ts';
import { declaredPng, startImageServer } from '../support/images.ts';
import type { Credentials } from './client.ts';
import type { FuzzRequest, Operation } from './operations.ts';
import { loopbackUrl, Upload, type Hints, type Schema } from './schema.ts';

export interface World {
  t: TestApp;
  credentials: Credentials;
  hints: Hints;
  upload: fc.Arbitrary<Upload>;
  /** Undoes what would stop later requests from reaching the domain (a pause the fuzzer created). */
  afterRequest(op: Operation, request: FuzzRequest, status: number, body: string): Promise<void>;
}

const USERS = ['fz-alice', 'fz-bob', 'fz-poor'];

export async function createWorld(): Promise<World> {
  const images = await startImageServer();
  const stripe = await startFakeStripe();
  afterAll(async () => {
    await images.close();
    await stripe.close();
  });
  const t = await createTestApp(
    {
      STRIPE_SECRET_KEY: 'sk_test_fuzz',
      STRIPE_WEBHOOK_SECRET: 'whsec_fuzz',
      STRIPE_API_BASE: stripe.url,
      STRIPE_PRICE_TIERS: 'price_plus=plus',
      // The image server and a webhook target that refuses at once, both on 127.0.0.1 (see `lookup`).
      TALLY_URL_ALLOWLIST: 'images.test,hooks.test',
      TALLY_INFER_WAIT_SECONDS: '20',
      // Provider keys are stored encrypted; without a key their routes answer 503 by design.
      TALLY_ENCRYPTION_KEY: 'vjR7ONvGHZO5WgZt6uPjvNbrXdUFqfkDt7zkz+UaKOk=',
    },
    {},
    // Provider balances for syncs: a fixed count, so a sync reaches the drift it computes.
    { remainingUnits: async () => 50_000, hasSource: () => true },
    { worker: true, lookup: async (host) => (host.endsWith('.test') ? [{ address: '127.0.0.1', family: 4 }] : []) },
  );

  await t.credits.refill({ provider: 'nanobanana', amount: 100_000, reason: 'fuzz world' });
  await t.credits.purchase({ userId: 'fz-alice', packageId: 'studio' });
  await t.credits.purchase({ userId: 'fz-bob', packageId: 'starter' });
  await t.credits.ensureUser('fz-poor');

  const sign = (sub: string, claims: Record<string, unknown> = {}, secret = JWT_SECRET, exp = '1h' as string | number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));
  const credentials: Credentials = {
    actingFor: 'fz-alice',
    bearer: {
      user: await sign('fz-alice'),
      otherUser: await sign('fz-bob'),
      adminUser: await sign('fz-admin', { app_metadata: { role: 'admin' } }),
      service: t.serviceKey,
      admin: t.adminKey,
      job: JOB_TOKEN,
      metrics: METRICS_TOKEN,
      revoked: t.revokedKey,
      expired: await sign('fz-alice', {}, JWT_SECRET, Math.floor(Date.now() / 1000) - 60),
      forged: await sign('fz-alice', { app_metadata: { role: 'admin' } }, 'not-the-secret-0123456789-0123456789'),
    },
  };

  const photo = `http://images.test:${images.port}/photo.png`;
  const generationIds: string[] = [];
  for (const body of [
    { inputImageUrl: photo, enhancementType: 'lighting' },
    { inputImageUrl: photo, enhancementType: 'mood', prompt: 'calm' },
  ]) {
    const response = await t.request('POST', '/v1/generations', { auth: credentials.bearer.user, body });
    if (response.status !== 202) throw new Error(`the world's generation was refused: ${response.status} ${await response.text()}`);
    generationIds.push(((await response.json()) as { task: { id: string } }).task.id);
  }
  const pause = await t.services.controls.pause({ scope: 'generations', provider: 'kie', reason: 'fuzz world', actor: 'fuzz' });
  await t.services.controls.resume({ id: pause.id, actor: 'fuzz' });
  const keys = await Promise.all(['one', 'two'].map((name) => createApiKey(t.db.pool, { role: 'service', name: `fuzz disposable ${name}` })));
  const sync = await t.credits.sync('nanobanana');
  const refill = await t.credits.requestRefill({ provider: 'nanobanana', amount: 500, reason: 'fuzz world' });
  await noteCreditsLow(t.db.pool, { userId: 'fz-alice', remaining: 1 });
  const [notice] = await t.services.notifications.list('fz-alice');
  await t.services.alerts.raise({ type: 'fuzz_world', level: 'warning', message: 'a fixture alert' });
  const [alert] = await t.services.alerts.list({});
  const { rows: accounts } = await t.db.pool.query<{ id: string }>('select id from ledger_accounts order by id');

  const ids = (...values: (string | undefined)[]) => fc.constantFrom(...values.filter((v): v is string => !!v));
  const realIds = ids(...generationIds, pause.id, notice?.id, alert?.id);
  const providers = ids('nanobanana', 'seedream', 'wavespeed', 'kie', 'fal', 'gemini');
  const byName: Record<string, fc.Arbitrary<unknown>> = {
    accountId: ids(...accounts.map((a) => a.id)),
    userId: ids(...USERS, 'fz-new-user'),
    keyId: ids(...keys.map((k) => k.apiKey.id)),
    id: realIds,
    syncId: ids(sync.id),
    requestId: ids(refill.id),
    modelId: ids('enhance', 'seedream_image', 'nano_banana_image'),
    provider: providers,
    packageId: ids('starter', 'creative', 'pro', 'studio'),
    tier: ids('free', 'plus', 'pro'),
    q: ids('fz-', 'fz-a'),
    'idempotency-key': ids('fz-key-1', 'fz-key-2', 'fz-key-3'),
    inputImageUrl: fc.oneof(
      { arbitrary: fc.constant(photo), weight: 4 },
      fc.constantFrom(
        `http://images.test:${images.port}/fake.png`,
        `http://images.test:${images.port}/missing.png`,
        `http://images.test:${images.port}/redirect?to=/photo.png`,
      ),
    ),
    url: fc.constantFrom('http://hooks.test:1/hook', 'https://hooks.test:1/hook'),
    baseUrl: loopbackUrl(),
  };
  byName.imageUrl = byName.inputImageUrl!;
  byName.image_urls = fc.array(byName.inputImageUrl!, { maxLength: 1 });
  byName.taskId = ids(...generationIds);
  // Analytics' plain-text days; where the document gives a pattern or a format, the schema's own values serve.
  const day = fc
    .date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2026-12-31T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString().slice(0, 10));
  const hints: Hints = (name: string, schema: Schema) =>
    (name === 'from' || name === 'to') && !schema.pattern && !schema.format && !schema.anyOf ? day : byName[name];

  const upload = fc.oneof(
    { arbitrary: fc.constant(new Upload(new Uint8Array(images.png), 'image/png', 'in.png')), weight: 4 },
    fc.constant(new Upload(new TextEncoder().encode('plain text, not an image'), 'image/png', 'fake.png')),
    fc.constant(new Upload(new Uint8Array(declaredPng(16_383, 16_383)), 'image/png', 'bomb.png')),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => new Upload(bytes, 'application/octet-stream', '../../etc/passwd')),
  );

  const afterRequest: World['afterRequest'] = async (op, _request, status, body) => {
    // A pause the fuzzer created would answer 503 to every later generation or purchase: lift it at once.
    if (op.method === 'POST' && op.path === '/v1/admin/pauses' && status === 201) {
      const { id } = JSON.parse(body) as { id: string };
      await t.services.controls.resume({ id, actor: 'fuzz' });
    }
  };
  return { t, credentials, hints, upload, afterRequest };
}
