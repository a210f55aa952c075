// A fake fal.ai: the queue host's routes (submit under the full model id, status and result under the
// model's app only, as fal's returned URLs are), the platform host's billing route and the JWKS of an
// Ed25519 key it signs webhooks with, all on one server. Refusals use fal's own statuses and bodies.
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FakeProviderServer, isSubmitRejection, type FakeAnswer, type FakeFailure, type FakeTask } from './fake-provider.ts';

const QUEUE_REQUEST = /^\/([\w-]+)\/([\w.-]+)\/requests\/([\w-]+)(\/status|\/cancel)?$/;
const SUBMIT = /^\/([\w-]+)\/([\w.-]+)(\/[\w.-]+)*$/;
const BAD_KEY = { status: 401, json: { detail: 'No user found for Key ID and Secret' } };
type Rejection = Exclude<FakeFailure, 'generation_failed' | 'content_policy'>;
const SERVICE_FAILURES: readonly FakeFailure[] = ['server_error', 'maintenance', 'rate_limited', 'unauthorized', 'hang'];
const isServiceFailure = (failure: FakeFailure | null): failure is Rejection => failure !== null && SERVICE_FAILURES.includes(failure);

export class FalFake extends FakeProviderServer {
  readonly userId = 'fake-fal-user';
  /** The ADMIN-scoped key billing wants; the API-scoped `apiKey` is refused there, as by fal. */
  readonly adminKey = 'fake-fal-admin-key';
  /**
   * A locked account (fal's answer to an exhausted balance): every submit is refused with 403
   * "User is locked", billing reports no credit, yet status URLs answer as usual.
   */
  locked = false;
  private readonly keyPair = generateKeyPairSync('ed25519');
  /** Each request's app (`owner/alias`): its queue URLs live there, not under the full model id. */
  private readonly apps = new Map<string, string>();
  /** Counts refusals of bad input, to alternate fal's two error shapes (kept across resets). */
  private badInputs = 0;

  constructor() {
    super('fal');
    this.route('GET', /^\/\.well-known\/jwks\.json$/, () => ({ status: 200, json: this.jwks() }));
    this.route('GET', /^\/v1\/account\/billing$/, (req, _body, url) => this.billing(req, url));
    this.route('GET', QUEUE_REQUEST, (req, _body, url) => this.guarded(req, () => this.queueRequest(url)));
    this.route('PUT', QUEUE_REQUEST, (req, _body, url) => this.guarded(req, () => this.cancel(url)));
    this.route('POST', SUBMIT, (req, body, url) => this.submit(req, body, url));
  }

  get jwksUrl(): string {
    return `${this.url}/.well-known/jwks.json`;
  }

  jwks(): { keys: { kty: string; crv: string; x: string }[] } {
    const { x } = this.keyPair.publicKey.export({ format: 'jwk' });
    return { keys: [{ kty: 'OKP', crv: 'Ed25519', x: x! }] };
  }

  /** fal's webhook headers for a body: Ed25519 over "request_id\nuser_id\ntimestamp\nsha256(body)". */
  signWebhook(rawBody: string, requestId: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
    const bodyHash = createHash('sha256').update(rawBody).digest('hex');
    const message = Buffer.from([requestId, this.userId, String(timestamp), bodyHash].join('\n'));
    return {
      'x-fal-webhook-request-id': requestId,
      'x-fal-webhook-user-id': this.userId,
      'x-fal-webhook-timestamp': String(timestamp),
      'x-fal-webhook-signature': sign(null, message, this.keyPair.privateKey).toString('hex'),
    };
  }

  override reset(): void {
    super.reset();
    this.apps.clear();
    this.locked = false;
  }

  /** Service-wide failures first (they hit every route), then the key. */
  private guarded(req: IncomingMessage, answer: () => FakeAnswer | Promise<FakeAnswer>, failure = this.failureForSubmit()): FakeAnswer | Promise<FakeAnswer> {
    if (isServiceFailure(failure)) return this.rejection(failure);
    if (req.headers.authorization !== `Key ${this.apiKey}`) return BAD_KEY;
    return answer();
  }

  private submit(req: IncomingMessage, body: string, url: URL): FakeAnswer | Promise<FakeAnswer> {
    const failure = this.failureForSubmit();
    return this.guarded(
      req,
      () => {
        if (this.locked) return this.rejection('insufficient_balance');
        if (isSubmitRejection(failure)) return this.rejection(failure);
        const input = parseObject(body);
        const missing = ['prompt', 'image_urls'].filter((field) => !input[field] || (field === 'image_urls' && !Array.isArray(input[field])));
        if (missing.length > 0)
          return { status: 422, json: { detail: missing.map((field) => ({ loc: ['body', field], msg: 'Field required', type: 'missing' })) } };
        const [, owner, alias] = SUBMIT.exec(url.pathname)!;
        const outcome = failure === 'generation_failed' || failure === 'content_policy' ? failure : 'success';
        const task = this.createTask({ id: randomUUID(), input, callbackUrl: url.searchParams.get('fal_webhook') ?? undefined, outcome }, (ended) =>
          this.ended(ended),
        );
        this.apps.set(task.id, `${owner}/${alias}`);
        return { status: 200, json: { status: 'IN_QUEUE', request_id: task.id, ...this.urlsOf(task), queue_position: 0 } };
      },
      failure,
    );
  }

  private queueRequest(url: URL): FakeAnswer {
    const [, owner, alias, id, action] = QUEUE_REQUEST.exec(url.pathname)!;
    const task = this.tasks.get(id!);
    // Asked under another app (e.g. the full model id), fal does not know the request.
    if (!task || this.apps.get(task.id) !== `${owner}/${alias}`) return { status: 404, json: { detail: 'Request not found' } };
    if (action === '/status') return this.statusOf(task);
    if (!this.isDone(task)) return { status: 400, json: { detail: 'Request is still in progress' } };
    return this.resultOf(task);
  }

  private statusOf(task: FakeTask): FakeAnswer {
    const base = { request_id: task.id, response_url: this.urlsOf(task).response_url };
    if (this.isDone(task))
      return { status: 200, json: { ...base, status: 'COMPLETED', logs: null, metrics: { inference_time: this.controls.processingMs / 1000 } } };
    const queued = Date.now() - task.createdAt < this.controls.processingMs / 3;
    return { status: 202, json: queued ? { ...base, status: 'IN_QUEUE', queue_position: 0 } : { ...base, status: 'IN_PROGRESS', logs: null } };
  }

  /** What the response URL answers: the images, or the error the request stored. */
  private resultOf(task: FakeTask): FakeAnswer {
    if (task.outcome === 'content_policy') {
      return {
        status: 422,
        json: {
          detail: [
            {
              loc: ['body', 'prompt'],
              msg: 'The content could not be processed because it contained material flagged by a content checker.',
              type: 'content_policy_violation',
            },
          ],
        },
      };
    }
    if (task.outcome === 'generation_failed') {
      return {
        status: 500,
        json: { detail: 'The model crashed while generating', error_type: 'runner_server_error' },
        headers: { 'x-fal-error-type': 'runner_server_error' },
      };
    }
    return {
      status: 200,
      json: {
        images: [{ url: this.resultUrl(task), content_type: 'image/png', file_name: `${task.id}.png`, file_size: 1024, width: 64, height: 48 }],
        description: '',
      },
    };
  }

  private cancel(url: URL): FakeAnswer {
    const task = this.tasks.get(QUEUE_REQUEST.exec(url.pathname)![3]!);
    if (!task) return { status: 404, json: { detail: 'Request not found' } };
    return this.isDone(task) ? { status: 400, json: { status: 'ALREADY_COMPLETED' } } : { status: 202, json: { status: 'CANCELLATION_REQUESTED' } };
  }

  private billing(req: IncomingMessage, url: URL): FakeAnswer {
    const failure = this.failureForSubmit();
    if (isServiceFailure(failure)) return this.rejection(failure);
    if (req.headers.authorization === `Key ${this.apiKey}`) return { status: 403, json: { detail: 'This endpoint requires an ADMIN scoped key' } };
    if (req.headers.authorization !== `Key ${this.adminKey}`) return BAD_KEY;
    const credits =
      url.searchParams.get('expand') === 'credits' ? { credits: { current_balance: this.locked ? 0 : this.controls.balance, currency: 'USD' } } : {};
    return { status: 200, json: { username: this.userId, ...credits } };
  }

  /** The webhook fal POSTs when a request ends: the result, or the stored error as `payload`. */
  private ended(task: FakeTask): void {
    if (!task.callbackUrl || !this.controls.callbacks) return;
    const result = this.resultOf(task);
    const ok = result.status === 200;
    const rawBody = JSON.stringify({
      request_id: task.id,
      gateway_request_id: task.id,
      status: ok ? 'OK' : 'ERROR',
      payload: result.json,
      error: ok ? null : `Invalid status code: ${result.status}`,
    });
    void this.sendCallback(task.callbackUrl, undefined, this.signWebhook(rawBody, task.id), rawBody);
  }

  private urlsOf(task: FakeTask): { response_url: string; status_url: string; cancel_url: string } {
    const response = `${this.url}/${this.apps.get(task.id)}/requests/${task.id}`;
    return { response_url: response, status_url: `${response}/status`, cancel_url: `${response}/cancel` };
  }

  private rejection(failure: Rejection): FakeAnswer {
    switch (failure) {
      case 'hang':
        return { status: 0, hang: true };
      case 'unauthorized':
        return BAD_KEY;
      case 'insufficient_balance':
        return { status: 403, json: { detail: 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.' } };
      case 'rate_limited':
        return { status: 429, json: { detail: 'Too many requests' }, headers: { 'retry-after': String(this.controls.retryAfterSeconds) } };
      case 'maintenance':
        return { status: 503, json: { detail: 'Service is under maintenance, please try again later' } };
      case 'bad_input':
        // fal answers validation failures both as typed items and as a plain string.
        return this.badInputs++ % 2 === 0
          ? { status: 422, json: { detail: [{ loc: ['body', 'image_urls', 0], msg: 'Could not download the image', type: 'image_load_error' }] } }
          : { status: 422, json: { detail: 'Unprocessable input: the image could not be downloaded' } };
      case 'server_error':
        return { status: 500, json: { detail: 'Internal Server Error' } };
    }
  }
}

function parseObject(body: string): Record<string, unknown> {
  try {
    const json: unknown = JSON.parse(body);
    return json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function startFalFake(): Promise<FalFake> {
  return new FalFake().start();
}
