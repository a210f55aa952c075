import { createWaveSpeedAdapter } from '../../src/providers/wavespeed/index.ts';
import { startWaveSpeedFake, type WaveSpeedFake } from '../fakes/wavespeed.ts';
import { defineFixture } from './fixture.ts';

export default defineFixture({
  name: 'wavespeed',
  model: 'bytedance/seedream-v4/edit',
  balanceUnit: 'micro_usd',
  startFake: startWaveSpeedFake,
  adapter: (fake, { timeoutMs, apiKey }) =>
    createWaveSpeedAdapter({ baseUrl: fake.url, apiKey: apiKey ?? fake.apiKey, timeoutMs, webhookSecret: (fake as WaveSpeedFake).webhookSecret }),
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
  // A body changed in transit no longer matches the HMAC over "id.timestamp.body".
  tamper: (request) => ({ ...request, rawBody: Buffer.from(request.rawBody.toString('utf8').replace('"status":"completed"', '"status":"completed" ')) }),
});
