// Gemini against its fake: synchronous, no callbacks, no balance. 'insufficient_balance' is left out:
// Gemini has no balance, and a spent billing quota comes back as 429 RESOURCE_EXHAUSTED (rate_limited).
import { createGeminiAdapter } from '../../src/providers/gemini/index.ts';
import { startGeminiFake } from '../fakes/gemini.ts';
import { defineFixture } from './fixture.ts';

export default defineFixture({
  name: 'gemini',
  model: 'gemini-2.5-flash-image',
  startFake: startGeminiFake,
  adapter: (fake, { timeoutMs, apiKey }) => createGeminiAdapter({ baseUrl: fake.url, apiKey: apiKey ?? fake.apiKey, timeoutMs }),
  failures: {
    bad_input: 'bad_input',
    content_policy: 'content_policy',
    unauthorized: 'unauthorized',
    rate_limited: 'rate_limited',
    server_error: 'unavailable',
    maintenance: 'unavailable',
    generation_failed: 'generation_failed',
  },
  signsCallbacks: false,
});
