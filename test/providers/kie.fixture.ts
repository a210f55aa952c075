// Kie.ai against its fake: the fake signs callbacks with KIE_FAKE_WEBHOOK_HMAC_KEY and the adapter is
// given the same key, as an account with webhook signing enabled; the rest mirrors NanoBanana's codes.
import { createKieAdapter } from '../../src/providers/kie/index.ts';
import { KIE_FAKE_WEBHOOK_HMAC_KEY, startKieFake } from '../fakes/kie.ts';
import { defineFixture } from './fixture.ts';

export default defineFixture({
  name: 'kie',
  model: 'google/nano-banana-edit',
  balanceUnit: 'credit',
  startFake: startKieFake,
  adapter: (fake, { timeoutMs, apiKey }) =>
    createKieAdapter({ baseUrl: fake.url, apiKey: apiKey ?? fake.apiKey, timeoutMs, webhookHmacKey: KIE_FAKE_WEBHOOK_HMAC_KEY }),
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
  signsCallbacks: true,
  // The signature binds the task id: a callback claiming another task must not verify.
  tamper: (request) => {
    const body = JSON.parse(request.rawBody.toString('utf8')) as { data: { taskId: string } };
    body.data.taskId = `${body.data.taskId}-forged`;
    return { ...request, rawBody: Buffer.from(JSON.stringify(body)) };
  },
});
