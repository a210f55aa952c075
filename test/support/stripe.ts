// An app wired to the local Stripe stand-in, with the helpers the payments tests share: buy, deliver a
// signed event (signed by the stripe package's own test helper), spend credits as a generation would.
import Stripe from 'stripe';
import { afterAll } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../fakes/stripe.ts';
import { createTestApp, type TestApp, type TestAppOptions } from './http.ts';

export const WEBHOOK_SECRET = 'whsec_test_0123456789abcdef';
const signer = new Stripe('sk_test_signer');

export interface StripeTestApp {
  t: TestApp;
  stripe: FakeStripe;
  /** The official client pointed at the stand-in, to act as an operator in Stripe's dashboard would (refunds). */
  client: Stripe;
  buy(userId: string, packageId: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  deliver(
    event: object,
    options?: { secret?: string; timestamp?: number; body?: (payload: string) => string; signature?: string | null },
  ): Promise<{ status: number; body: any }>;
  spend(userId: string, credits: number, key: string): Promise<void>;
  purchase(id: string): Promise<Record<string, any>>;
}

export async function createStripeTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<StripeTestApp> {
  const stripe = await startFakeStripe();
  afterAll(() => stripe.close());
  const t = await createTestApp(
    {
      STRIPE_SECRET_KEY: 'sk_test_tally',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_BASE: stripe.url,
      STRIPE_PRICE_TIERS: 'price_plus=plus,price_pro=pro',
      TALLY_PUBLIC_URL: 'https://tally.example',
      ...env,
    },
    {},
    undefined,
    options,
  );
  const url = new URL(stripe.url);
  const client = new Stripe('sk_test_operator', { host: url.hostname, port: url.port, protocol: 'http', telemetry: false });
  return {
    t,
    stripe,
    client,
    async buy(userId, packageId, headers) {
      const response = await t.request('POST', '/v1/credits/purchases', { auth: await t.userToken(userId), body: { packageId }, headers });
      return { status: response.status, body: await response.json() };
    },
    async deliver(event, options = {}) {
      const payload = JSON.stringify(event);
      const header = signer.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? WEBHOOK_SECRET, timestamp: options.timestamp });
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
      if (options.signature !== null) headers['stripe-signature'] = options.signature ?? header;
      const response = await t.request('POST', '/api/webhooks/stripe', { rawBody: options.body ? options.body(payload) : payload, headers });
      return { status: response.status, body: await response.json() };
    },
    async spend(userId, credits, key) {
      const { hold } = await t.credits.chargeHold({ userId, credits, key });
      await t.credits.settle({ hold, provider: 'nanobanana' });
    },
    async purchase(id) {
      const response = await t.request('GET', `/v1/admin/purchases?limit=200`, { auth: t.adminKey });
      return (await response.json()).purchases.find((p: { id: string }) => p.id === id);
    },
  };
}
