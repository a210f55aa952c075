// A fake NanoBanana API: generate (type TEXTTOIAMGE / IMAGETOIAMGE, sic), record-info (successFlag
// 0-3), the credit endpoint, and unsigned callbacks (200 success, 400 content policy, 501 failed).
// The result link comes in the three shapes seen in answers, chosen per task in turn (task 1: a
// `resultImageUrl` string, 2: a `resultImageUrl` array, 3: `resultUrls`, 4: a string again…), in
// both record-info and callbacks, so the adapter is proven on each; `resultShape` pins one.
import type { IncomingMessage } from 'node:http';
import type { FakeAnswer, FakeTask } from './fake-provider.ts';
import { EnvelopeFake } from './kie.ts';

export type ResultShape = 'string' | 'array' | 'resultUrls';
const SHAPES: readonly ResultShape[] = ['string', 'array', 'resultUrls'];
const TYPES = new Set(['TEXTTOIAMGE', 'IMAGETOIAMGE']);
const IMAGE_SIZES = new Set(['1:1', '9:16', '16:9', '3:4', '4:3', '3:2', '2:3', '5:4', '4:5', '21:9']);

/** successFlag of record-info. */
const FLAG = { generating: 0, success: 1, createFailed: 2, generateFailed: 3 } as const;

const FAILURE_OF_OUTCOME = {
  content_policy: { code: 400, message: 'Your content was flagged as violating content policies' },
  generation_failed: { code: 501, message: 'Image generation failed' },
} as const;

export class NanoBananaFake extends EnvelopeFake {
  /** 'info': `{code, msg, data: {taskId, info}}`; 'record': code 200 and the record-info `data` (successFlag, response). */
  callbackShape: 'info' | 'record' = 'info';
  /** 'rotate': each task takes the next shape in SHAPES. */
  resultShape: ResultShape | 'rotate' = 'rotate';
  private readonly shapes = new Map<string, ResultShape>();
  private tasksCreated = 0;

  constructor() {
    super('nanobanana');
    this.route('POST', /^\/api\/v1\/nanobanana\/generate$/, (req, body) => this.generate(req, body));
    this.route('GET', /^\/api\/v1\/nanobanana\/record-info$/, (req, _body, url) => this.refusal(req) ?? this.recordInfo(url.searchParams.get('taskId')));
    this.route('GET', /^\/api\/v1\/common\/credit$/, (req) => this.refusal(req) ?? this.success(this.controls.balance));
  }

  override reset(): void {
    super.reset();
    this.shapes.clear();
    this.tasksCreated = 0;
    this.resultShape = 'rotate';
    this.callbackShape = 'info';
  }

  /** Google's own link of a result, alive 10 minutes: a different file name, so tests can tell which one an adapter took. */
  originUrl(task: FakeTask): string {
    return this.resultUrl(task).replace(`/${task.id}.png?`, `/${task.id}-origin.png?`);
  }

  private generate(req: IncomingMessage, raw: string): FakeAnswer {
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
    const shape = this.resultShape === 'rotate' ? SHAPES[this.tasksCreated % SHAPES.length]! : this.resultShape;
    this.tasksCreated++;
    const task = this.createTask({ id: this.newTaskId('nb'), input: body, callbackUrl, outcome: decision.outcome }, (ended) => {
      if (ended.callbackUrl && this.controls.callbacks) void this.sendNanoBananaCallback(ended);
    });
    this.shapes.set(task.id, shape);
    return this.success({ taskId: task.id });
  }

  /** The result link in this task's shape. */
  private results(task: FakeTask): Record<string, unknown> {
    const url = this.resultUrl(task);
    switch (this.shapes.get(task.id) ?? 'string') {
      case 'string':
        return { resultImageUrl: url };
      case 'array':
        return { resultImageUrl: [url] };
      case 'resultUrls':
        return { resultUrls: [url] };
    }
  }

  private recordInfo(taskId: string | null): FakeAnswer {
    const task = taskId ? this.tasks.get(taskId) : undefined;
    if (!task) return this.errorAnswer(404, 'Task not found');
    return this.success(this.record(task));
  }

  private record(task: FakeTask): Record<string, unknown> {
    const done = this.isDone(task);
    const failure = task.outcome === 'success' ? undefined : FAILURE_OF_OUTCOME[task.outcome];
    const successFlag = !done ? FLAG.generating : failure ? FLAG.generateFailed : FLAG.success;
    return {
      taskId: task.id,
      paramJson: JSON.stringify(task.input),
      completeTime: done ? new Date(task.createdAt + this.controls.processingMs).toISOString() : null,
      response: successFlag === FLAG.success ? { originImageUrl: this.originUrl(task), ...this.results(task) } : null,
      successFlag,
      errorCode: failure?.code ?? 0,
      errorMessage: failure?.message ?? '',
      createTime: new Date(task.createdAt).toISOString(),
    };
  }

  private async sendNanoBananaCallback(task: FakeTask): Promise<void> {
    const failure = task.outcome === 'success' ? undefined : FAILURE_OF_OUTCOME[task.outcome];
    if (this.callbackShape === 'record') return this.sendCallback(task.callbackUrl!, { code: 200, msg: 'success', data: this.record(task) });
    const payload = failure
      ? { code: failure.code, msg: failure.message, data: { taskId: task.id, info: null } }
      : { code: 200, msg: 'Image generated successfully.', data: { taskId: task.id, info: this.results(task) } };
    await this.sendCallback(task.callbackUrl!, payload);
  }
}

/** The documented input rules of generate; a message when the body breaks one. */
function validate(body: Record<string, unknown>): string | undefined {
  if (typeof body.prompt !== 'string' || body.prompt.trim() === '') return 'prompt is required';
  if (typeof body.type !== 'string' || !TYPES.has(body.type)) return 'type must be TEXTTOIAMGE or IMAGETOIAMGE';
  const urls = body.imageUrls;
  if (urls !== undefined && (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string' && /^https?:\/\//.test(u))))
    return 'imageUrls must be a list of URLs';
  if (body.type === 'IMAGETOIAMGE' && (!Array.isArray(urls) || urls.length === 0)) return 'imageUrls is required for IMAGETOIAMGE';
  if (body.numImages !== undefined && !(Number.isInteger(body.numImages) && (body.numImages as number) >= 1 && (body.numImages as number) <= 4))
    return 'numImages must be 1 to 4';
  if (body.image_size !== undefined && !IMAGE_SIZES.has(String(body.image_size))) return 'image_size is not supported';
  if (body.callBackUrl !== undefined && typeof body.callBackUrl !== 'string') return 'callBackUrl must be a URL';
  return undefined;
}

export async function startNanoBananaFake(): Promise<NanoBananaFake> {
  return new NanoBananaFake().start();
}
