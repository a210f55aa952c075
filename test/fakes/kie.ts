// A fake Kie.ai jobs API (model google/nano-banana-edit): createTask, recordInfo (`message`, not
// `msg`; `param` and `resultJson` as JSON strings), the credit endpoint, and callbacks signed with
// X-Webhook-Timestamp / X-Webhook-Signature when `webhookHmacKey` is set. EnvelopeFake, the
// `{code, msg, data}` envelope and its body codes, is shared with the NanoBanana fake.
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FakeProviderServer, isSubmitRejection, type FakeAnswer, type FakeFailure, type FakeTask } from './fake-provider.ts';

/** How an error's body code travels: a matching HTTP status, HTTP 200, or each in turn (the docs leave it open). */
export type ErrorStatusMode = 'matching' | 'http200' | 'alternate';
type MessageField = 'msg' | 'message';

/** Failures of the whole service: every route answers with them, the credit endpoint (health) included. */
const SERVICE_FAILURES = ['server_error', 'maintenance', 'rate_limited', 'unauthorized', 'hang'] as const;
const isServiceFailure = (failure: FakeFailure | null): failure is (typeof SERVICE_FAILURES)[number] =>
  (SERVICE_FAILURES as readonly (FakeFailure | null)[]).includes(failure);

const BODY_CODE_OF_FAILURE: Record<Exclude<FakeFailure, 'generation_failed' | 'content_policy' | 'hang'>, [number, string]> = {
  bad_input: [422, 'Validation error: the request parameters are invalid'],
  unauthorized: [401, 'You do not have access permissions'],
  insufficient_balance: [402, 'Credits insufficient'],
  rate_limited: [429, 'Call frequency is too high, please try again later'],
  server_error: [500, 'Internal server error'],
  maintenance: [455, 'Service unavailable: the system is under maintenance'],
};

export class EnvelopeFake extends FakeProviderServer {
  errorStatus: ErrorStatusMode = 'alternate';
  private errorsAnswered = 0;

  /** An error envelope, its HTTP status chosen by `errorStatus`. */
  errorAnswer(code: number, message: string, field: MessageField = 'msg', headers: Record<string, string> = {}): FakeAnswer {
    const http200 = this.errorStatus === 'http200' || (this.errorStatus === 'alternate' && this.errorsAnswered++ % 2 === 1);
    return { status: http200 ? 200 : code, json: { code, [field]: message, data: null }, headers };
  }

  success(data: unknown, field: MessageField = 'msg'): FakeAnswer {
    return { status: 200, json: { code: 200, [field]: 'success', data } };
  }

  /** The answer a refused request gets for a failure the fake was told to play. */
  failureAnswer(failure: Exclude<FakeFailure, 'generation_failed' | 'content_policy'>, field: MessageField = 'msg'): FakeAnswer {
    if (failure === 'hang') return { status: 0, hang: true };
    const [code, message] = BODY_CODE_OF_FAILURE[failure];
    const headers: Record<string, string> = failure === 'rate_limited' ? { 'retry-after': String(this.controls.retryAfterSeconds) } : {};
    return this.errorAnswer(code, message, field, headers);
  }

  private keyRefused(req: IncomingMessage): boolean {
    return req.headers.authorization !== `Bearer ${this.apiKey}`;
  }

  /** What every route but submit checks first: the key, then a service-level failure (balance and health included). */
  refusal(req: IncomingMessage, field: MessageField = 'msg'): FakeAnswer | undefined {
    if (this.keyRefused(req)) return this.failureAnswer('unauthorized', field);
    const { failure, failureRate } = this.controls;
    if (isServiceFailure(failure) && Math.random() < failureRate) return this.failureAnswer(failure, field);
    return undefined;
  }

  /** Submit's checks: the key, then one draw of `failure` — refused now, or the task's outcome. */
  submitDecision(req: IncomingMessage): { refusal: FakeAnswer } | { outcome: FakeTask['outcome'] } {
    if (this.keyRefused(req)) return { refusal: this.failureAnswer('unauthorized') };
    const failure = this.failureForSubmit();
    if (failure === 'hang' || isSubmitRejection(failure)) return { refusal: this.failureAnswer(failure) };
    return { outcome: failure ?? 'success' };
  }

  /** Resolves once `count` callbacks have been delivered (their answers recorded in `callbacksSent`). */
  async waitForCallback(count = 1, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.callbacksSent.length < count) {
      if (Date.now() > deadline) throw new Error(`${this.name}: ${count} callback(s) not delivered within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  override reset(): void {
    super.reset();
    this.errorStatus = 'alternate';
    this.errorsAnswered = 0;
  }
}

const KIE_MODELS = new Set(['google/nano-banana-edit', 'google/nano-banana']);
const IMAGE_SIZES = new Set(['1:1', '9:16', '16:9', '3:4', '4:3', '3:2', '2:3', '5:4', '4:5', '21:9', 'auto']);
export const KIE_FAKE_WEBHOOK_HMAC_KEY = 'fake-kie-webhook-hmac-key';

const FAILURE_OF_OUTCOME = {
  content_policy: { failCode: '400', failMsg: 'Your content was flagged as violating content policies' },
  generation_failed: { failCode: '500', failMsg: 'Image generation failed, please try again' },
} as const;

export class KieFake extends EnvelopeFake {
  /** Signs callbacks when set, as an account with webhook signing enabled. */
  webhookHmacKey: string | undefined = KIE_FAKE_WEBHOOK_HMAC_KEY;
  /** For this long after createTask, recordInfo answers `{code: 422, message: "recordInfo is null"}`, as Kie does before a new task is visible. */
  invisibleMs = 0;
  /** The field callbacks name the task in: documented `taskId`, or `task_id` as some deliveries have it. */
  callbackTaskIdField: 'taskId' | 'task_id' = 'taskId';

  override reset(): void {
    super.reset();
    this.invisibleMs = 0;
    this.callbackTaskIdField = 'taskId';
  }

  constructor() {
    super('kie');
    this.route('POST', /^\/api\/v1\/jobs\/createTask$/, (req, body) => this.submitTask(req, body));
    this.route('GET', /^\/api\/v1\/jobs\/recordInfo$/, (req, _body, url) => this.refusal(req, 'message') ?? this.recordInfo(url.searchParams.get('taskId')));
    this.route('GET', /^\/api\/v1\/chat\/credit$/, (req) => this.refusal(req) ?? this.success(this.controls.balance));
  }

  private submitTask(req: IncomingMessage, raw: string): FakeAnswer {
    const decision = this.submitDecision(req);
    if ('refusal' in decision) return decision.refusal;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return this.errorAnswer(422, 'The request body is not JSON');
    }
    const invalid = validate(body);
    if (invalid) return this.errorAnswer(422, invalid);
    const callbackUrl = typeof body.callBackUrl === 'string' ? body.callBackUrl : undefined;
    const task = this.createTask({ id: this.newTaskId('kie'), input: body, callbackUrl, outcome: decision.outcome }, (ended) => {
      if (ended.callbackUrl && this.controls.callbacks) void this.sendKieCallback(ended);
    });
    return this.success({ taskId: task.id });
  }

  /** The record fields recordInfo and callbacks share. */
  private record(task: FakeTask): Record<string, unknown> {
    const done = this.isDone(task);
    const elapsed = Date.now() - task.createdAt;
    const pendingState = elapsed < this.controls.processingMs / 3 ? 'waiting' : elapsed < (2 * this.controls.processingMs) / 3 ? 'queuing' : 'generating';
    const failure = task.outcome === 'success' ? undefined : FAILURE_OF_OUTCOME[task.outcome];
    const state = !done ? pendingState : failure ? 'fail' : 'success';
    return {
      taskId: task.id,
      model: task.input.model,
      state,
      param: JSON.stringify(task.input),
      resultJson: state === 'success' ? JSON.stringify({ resultUrls: [this.resultUrl(task)] }) : '',
      failCode: failure?.failCode ?? '',
      failMsg: failure?.failMsg ?? '',
      costTime: done ? this.controls.processingMs : null,
      completeTime: done ? task.createdAt + this.controls.processingMs : null,
      createTime: task.createdAt,
      updateTime: Date.now(),
    };
  }

  private recordInfo(taskId: string | null): FakeAnswer {
    const task = taskId ? this.tasks.get(taskId) : undefined;
    if (!task || Date.now() - task.createdAt < this.invisibleMs) return this.errorAnswer(422, 'recordInfo is null', 'message');
    return this.success(this.record(task), 'message');
  }

  private async sendKieCallback(task: FakeTask): Promise<void> {
    const record = this.record(task);
    const success = record.state === 'success';
    const payload = {
      code: success ? 200 : 501,
      msg: success ? 'Image generated successfully.' : String(record.failMsg),
      data: { ...record, resultJson: success ? record.resultJson : null, consumeCredits: success ? 4 : 0, remainedCredits: this.controls.balance } as Record<
        string,
        unknown
      >,
    };
    if (this.callbackTaskIdField === 'task_id') {
      payload.data.task_id = payload.data.taskId;
      delete payload.data.taskId;
    }
    const headers: Record<string, string> = {};
    if (this.webhookHmacKey) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers['X-Webhook-Timestamp'] = timestamp;
      headers['X-Webhook-Signature'] = createHmac('sha256', this.webhookHmacKey).update(`${task.id}.${timestamp}`).digest('base64');
    }
    await this.sendCallback(task.callbackUrl!, payload, headers);
  }
}

/** The documented input rules of createTask; a message when the body breaks one. */
function validate(body: Record<string, unknown>): string | undefined {
  if (typeof body.model !== 'string' || !KIE_MODELS.has(body.model)) return `model ${JSON.stringify(body.model)} is not supported`;
  const input = body.input && typeof body.input === 'object' ? (body.input as Record<string, unknown>) : undefined;
  if (!input) return 'input is required';
  if (typeof input.prompt !== 'string' || input.prompt.trim() === '' || input.prompt.length > 5000) return 'input.prompt is required (at most 5000 characters)';
  const urls = input.image_urls;
  if (urls !== undefined && (!Array.isArray(urls) || urls.length > 10 || !urls.every((u) => typeof u === 'string' && /^https?:\/\//.test(u))))
    return 'input.image_urls must be at most 10 URLs';
  if (body.model === 'google/nano-banana-edit' && (!Array.isArray(urls) || urls.length === 0)) return 'input.image_urls is required';
  if (input.output_format !== undefined && input.output_format !== 'png' && input.output_format !== 'jpeg') return 'input.output_format must be png or jpeg';
  if (input.image_size !== undefined && !IMAGE_SIZES.has(String(input.image_size))) return 'input.image_size is not supported';
  if (body.callBackUrl !== undefined && typeof body.callBackUrl !== 'string') return 'callBackUrl must be a URL';
  return undefined;
}

export async function startKieFake(): Promise<KieFake> {
  return new KieFake().start();
}
