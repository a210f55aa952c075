// NanoBanana API against its fake: unsigned callbacks; submit refusals travel as body codes (401, 402,
// 422, 429, 455, 500), content policy and generation failures arrive when the task ends.
import { createNanoBananaAdapter } from '../../src/providers/nanobanana/index.ts';
import { startNanoBananaFake } from '../fakes/nanobanana.ts';
import { defineFixture } from './fixture.ts';

export default defineFixture({
  name: 'nanobanana',
  model: 'nano-banana-edit',
  balanceUnit: 'credit',
  startFake: startNanoBananaFake,
  adapter: (fake, { timeoutMs, apiKey }) => createNanoBananaAdapter({ baseUrl: fake.url, apiKey: apiKey ?? fake.apiKey, timeoutMs }),
  failures: {
    bad_input: 'bad_input',
    content_policy: 'content_policy',
    unauthorized: 'unauthorized',
    insufficient_balance: 'insufficient_balance',
    rate_limited: 'rate_limited',
    server_error: 'unavailable',
    maintenance: 'unavailable',
    generation_failed: 'generation_failed',
    hang: 'timeout',
  },
  signsCallbacks: false,
});
