// Generated junk at every route's validators: never a 5xx, and every 4xx is problem+json. The normal
// suite sends 40 inputs per route; `npm run chaos` runs this file again with FUZZ_RUNS_PER_ROUTE set
// (vitest.chaos.config.ts) for at least 10,000 inputs in all.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeStripe } from './fakes/stripe.ts';
import { createTestApp, listRoutes, type TestApp } from './support/http.ts';

let t: TestApp;
let user: string;
beforeAll(async () => {
  // Payments answer 503 when no payment provider is configured: a local Stripe stand-in serves them here.
  const stripe = await startFakeStripe();
  afterAll(() => stripe.close());
  t = await createTestApp({
    STRIPE_SECRET_KEY: 'sk_test_fuzz',
    STRIPE_WEBHOOK_SECRET: 'whsec_fuzz',
    STRIPE_API_BASE: stripe.url,
    STRIPE_PRICE_TIERS: 'price_plus=plus',
  });
  user = await t.userToken('fuzzer');
});

const segment = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('user:fuzzer:purchased', '..', '%00', 'a'.repeat(300), '💥', 'key_x'));
const query = fc.dictionary(
  fc.constantFrom('limit', 'cursor', 'x', 'taskId', ''),
  fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constant('-1')),
  { maxKeys: 3 },
);
const body = fc.oneof(
  fc.anything({ maxDepth: 3 }).map((value) => ({ raw: JSON.stringify(value) ?? 'null', type: 'application/json' })),
  fc
    .record({ name: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), role: fc.oneof(fc.constantFrom('admin', 'service', 'root'), fc.integer()) })
    .map((v) => ({ raw: JSON.stringify(v), type: 'application/json' })),
  fc.string({ maxLength: 60 }).map((raw) => ({ raw, type: 'application/json' })),
  fc.string({ maxLength: 60 }).map((raw) => ({ raw, type: 'text/plain' })),
  fc.constant(undefined),
);
const extraHeaders = fc.record(
  { 'x-tally-user': fc.oneof(fc.constant(undefined), fc.string({ maxLength: 20 }), fc.constant('x'.repeat(300))) },
  { requiredKeys: [] },
);

const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS_PER_ROUTE ?? 40);
const routes = listRoutes((await createTestAppForListing()).app);

describe('fuzzing every route', () => {
  it(`sends ${RUNS_PER_ROUTE} inputs to each of ${routes.length} routes (${RUNS_PER_ROUTE * routes.length} in all)`, () => {
    expect(routes.length).toBeGreaterThan(50);
  });

  for (const route of routes) {
    it(route, async () => {
      const [method, pattern] = route.split(' ') as [string, string];
      await fc.assert(
        fc.asyncProperty(
          fc.array(segment, { minLength: 2, maxLength: 2 }),
          query,
          method === 'GET' ? fc.constant(undefined) : body,
          extraHeaders,
          fc.constantFrom('admin', 'user', 'service'),
          async (segments, q, b, headers, who) => {
            let i = 0;
            const path = pattern.replace(/:\w+/g, () => encodeURIComponent(segments[i++] ?? 'x'));
            const search = new URLSearchParams(q).toString();
            const auth = who === 'admin' ? t.adminKey : who === 'service' ? t.serviceKey : user;
            const cleanHeaders = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>;
            const response = await t.request(method, `${path}${search ? `?${search}` : ''}`, {
              auth,
              rawBody: b?.raw,
              headers: { ...cleanHeaders, ...(b ? { 'content-type': b.type } : {}) },
            });
            expect(response.status, `${method} ${path} → ${response.status}: ${await response.clone().text()}`).toBeLessThan(500);
            if (response.status >= 400) expect(response.headers.get('content-type')).toBe('application/problem+json');
          },
        ),
        { numRuns: RUNS_PER_ROUTE },
      );
    });
  }
});

// The route list is needed at collection time, before beforeAll runs; a throwaway app without a database
// call gives it (routes are registered synchronously).
async function createTestAppForListing() {
  const { createApp } = await import('../src/http/app.ts');
  type AppDependencies = import('../src/http/app.ts').AppDependencies;
  const { loadConfig } = await import('../src/config/index.ts');
  const { createMetrics } = await import('../src/http/metrics.ts');
  // Only what building the routes reads; a dependency added to the app later needs no change here.
  const deps = {
    config: loadConfig({ env: {} }),
    metrics: createMetrics(),
    signingSecret: 'fuzz-signing-secret',
  } as Partial<AppDependencies> as AppDependencies;
  return { app: createApp(deps) };
}
