import { createFalAdapter } from '../../src/providers/fal/index.ts';
import { startFalFake, type FalFake } from '../fakes/fal.ts';
import { defineFixture } from './fixture.ts';

export default defineFixture({
  name: 'fal',
  model: 'fal-ai/nano-banana/edit',
  balanceUnit: 'micro_usd',
  startFake: startFalFake,
  adapter: (fake, { timeoutMs, apiKey }) =>
    // The fake serves the queue host, the platform host and the JWKS on one server.
    createFalAdapter({
      baseUrl: fake.url,
      apiBaseUrl: fake.url,
      jwksUrl: (fake as FalFake).jwksUrl,
      apiKey: apiKey ?? fake.apiKey,
      adminKey: (fake as FalFake).adminKey,
      timeoutMs,
    }),
  failures: {
    bad_input: 'bad_input',
    content_policy: 'content_policy',
    unauthorized: 'unauthorized',
    insufficient_balance: 'insufficient_balance',
    rate_limited: 'rate_limited',
    server_error: 'unavailable',
    maintenance: 'unavailable',
    generation_failed: 'generation_failed',
  },
  signsCallbacks: true,
  // A body changed in transit no longer matches the sha256 under the signature.
  tamper: (request) => ({ ...request, rawBody: Buffer.from(request.rawBody.toString('utf8').replace('"status":"OK"', '"status":"OK" ')) }),
});
