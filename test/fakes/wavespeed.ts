// A fake WaveSpeed AI: predictions submitted under the model path, read back at
// /api/v3/predictions/ID/result (and /api/v3/predictions/ID), the balance at both documented paths,
// webhooks signed "v3,<hex>" with a `whsec_` secret. Every answer is the `{code, message, data}`
// envelope; errors alternate between the HTTP status carrying the code and HTTP 200 with the code
// only in the body, so an adapter is proven on both readings.
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FakeProviderServer, isSubmitRejection, type FakeAnswer, type FakeFailure, type FakeTask } from './fake-provider.ts';

type Rejection = Exclude<FakeFailure, 'generation_failed' | 'content_policy'>;
const SERVICE_FAILURES: readonly FakeFailure[] = ['server_error', 'maintenance', 'rate_limited', 'unauthorized', 'hang'];
const isServiceFailure = (failure: FakeFailure | null): failure is Rejection => failure !== null && SERVICE_FAILURES.includes(failure);
const REJECTIONS: Record<Exclude<Rejection, 'hang'>, { code: number; message: string }> = {
  bad_input: { code: 400, message: 'Invalid request: images must hold between 1 and 10 image URLs' },
  unauthorized: { code: 401, message: 'Unauthorized: invalid API key' },
  insufficient_balance: { code: 402, message: 'Insufficient balance, please top up your account' },
  rate_limited: { code: 429, message: 'Too many requests, please slow down' },
  server_error: { code: 500, message: 'Internal server error' },
  maintenance: { code: 503, message: 'Service unavailable: scheduled maintenance' },
};
const FAILURE_MESSAGES = {
  content_policy: 'The input or output was flagged as sensitive content. Please try different prompts or images.',
  generation_failed: 'Internal error while generating the image, please retry',
};

export class WaveSpeedFake extends FakeProviderServer {
  readonly webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  /** Counts error answers, to alternate where the code travels (kept across resets, so a suite sees both). */
  private errors = 0;
  /** A terminal status other than completed/failed that failing tasks end with ('cancelled', 'timeout'), as WaveSpeed may. */
  failedStatus: 'failed' | 'cancelled' | 'timeout' = 'failed';

  constructor() {
    super('wavespeed');
    this.route('GET', /^\/api\/v3\/(account\/)?balance$/, (req, _body, url) => this.guarded(req, () => this.balance(url)));
    this.route('GET', /^\/api\/v3\/predictions\/([\w-]+)(\/result)?$/, (req, _body, url) => this.guarded(req, () => this.result(url)));
    this.route('POST', /^\/api\/v3\/([\w.-]+)(\/[\w.-]+)+$/, (req, body, url) => this.submit(req, body, url));
  }

  override reset(): void {
    super.reset();
    this.failedStatus = 'failed';
  }

  /** WaveSpeed's webhook headers for a body. */
  signWebhook(rawBody: string, id: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
    const hmac = createHmac('sha256', this.webhookSecret.replace(/^whsec_/, ''))
      .update(`${id}.${timestamp}.${rawBody}`)
      .digest('hex');
    return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v3,${hmac}` };
  }

  private guarded(req: IncomingMessage, answer: () => FakeAnswer, failure = this.failureForSubmit()): FakeAnswer {
    if (isServiceFailure(failure)) return this.rejection(failure);
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) return this.error(REJECTIONS.unauthorized);
    return answer();
  }

  private submit(req: IncomingMessage, body: string, url: URL): FakeAnswer {
    const failure = this.failureForSubmit();
    return this.guarded(
      req,
      () => {
        if (isSubmitRejection(failure)) return this.rejection(failure);
        const input = parseObject(body);
        const images = input.images;
        if (typeof input.prompt !== 'string' || !input.prompt) return this.error({ code: 400, message: 'prompt is required' });
        if (!Array.isArray(images) || images.length === 0 || images.length > 10) return this.error(REJECTIONS.bad_input);
        const outcome = failure === 'generation_failed' || failure === 'content_policy' ? failure : 'success';
        const model = url.pathname.replace(/^\/api\/v3\//, '');
        const task = this.createTask(
          { id: randomBytes(16).toString('hex'), input: { ...input, model }, callbackUrl: url.searchParams.get('webhook') ?? undefined, outcome },
          (ended) => this.ended(ended),
        );
        return envelope({ ...this.prediction(task), status: 'created' });
      },
      failure,
    );
  }

  private result(url: URL): FakeAnswer {
    const id = /^\/api\/v3\/predictions\/([\w-]+)/.exec(url.pathname)![1]!;
    const task = this.tasks.get(id);
    if (!task) return this.error({ code: 404, message: 'Prediction not found' });
    return envelope(this.prediction(task));
  }

  private balance(url: URL): FakeAnswer {
    // The account path also names the currency; the short one gives the bare amount.
    const currency = url.pathname.includes('/account/') ? { currency: 'USD' } : {};
    return envelope({ balance: this.controls.balance, ...currency });
  }

  /** The prediction object as the result endpoint and the webhook show it. */
  private prediction(task: FakeTask): Record<string, unknown> {
    const done = this.isDone(task);
    const failed = done && task.outcome !== 'success';
    const status = !done ? (Date.now() - task.createdAt < this.controls.processingMs / 2 ? 'created' : 'processing') : failed ? this.failedStatus : 'completed';
    return {
      id: task.id,
      model: task.input.model,
      outputs: status === 'completed' ? [this.resultUrl(task)] : [],
      urls: { get: `${this.url}/api/v3/predictions/${task.id}/result` },
      has_nsfw_contents: status === 'completed' ? [false] : [],
      status,
      created_at: new Date(task.createdAt).toISOString(),
      error: failed
        ? this.failedStatus === 'failed'
          ? FAILURE_MESSAGES[task.outcome as keyof typeof FAILURE_MESSAGES]
          : `the prediction was ${this.failedStatus === 'timeout' ? 'timed out' : 'cancelled'}`
        : '',
      executionTime: done ? this.controls.processingMs : 0,
      timings: { inference: done ? this.controls.processingMs : 0 },
    };
  }

  private ended(task: FakeTask): void {
    if (!task.callbackUrl || !this.controls.callbacks) return;
    const rawBody = JSON.stringify(this.prediction(task));
    void this.sendCallback(task.callbackUrl, undefined, this.signWebhook(rawBody, task.id), rawBody);
  }

  private rejection(failure: Rejection): FakeAnswer {
    if (failure === 'hang') return { status: 0, hang: true };
    const answer = this.error(REJECTIONS[failure]);
    return failure === 'rate_limited' ? { ...answer, headers: { 'retry-after': String(this.controls.retryAfterSeconds) } } : answer;
  }

  /** An error envelope: every other one under HTTP 200, the rest under the matching HTTP status. */
  private error({ code, message }: { code: number; message: string }): FakeAnswer {
    return { status: this.errors++ % 2 === 0 ? code : 200, json: { code, message, data: null } };
  }
}

const envelope = (data: unknown): FakeAnswer => ({ status: 200, json: { code: 200, message: 'success', data } });

function parseObject(body: string): Record<string, unknown> {
  try {
    const json: unknown = JSON.parse(body);
    return json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function startWaveSpeedFake(): Promise<WaveSpeedFake> {
  return new WaveSpeedFake().start();
}
