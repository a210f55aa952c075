// The common machinery of the fake providers: a real HTTP server on 127.0.0.1, a task table, result
// files that expire, callbacks POSTed to the URL the adapter gave, and controls the tests turn.
// Each provider's own fake (nanobanana.ts, kie.ts, …) adds the routes and body shapes of its protocol.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { Hostile } from './hostile.ts';

/** How a fake misbehaves while `failure` is set (for a `failureRate` share of submits). */
export type FakeFailure =
  | 'bad_input'
  | 'content_policy'
  | 'unauthorized'
  | 'insufficient_balance'
  | 'rate_limited'
  | 'server_error'
  | 'maintenance'
  /** Submit is accepted; the task later fails. */
  | 'generation_failed'
  /** The request never gets an answer (the adapter's timeout fires). */
  | 'hang';

export interface FakeControls {
  /** Added before every answer. */
  latencyMs: number;
  /** From submit to the task's end. 0 ends it at once. */
  processingMs: number;
  failure: FakeFailure | null;
  /** Share of submits that fail with `failure` (1: all of them). */
  failureRate: number;
  /** Retry-After seconds sent with 'rate_limited'. */
  retryAfterSeconds: number;
  /** POST a callback when a task ends, where the protocol has callbacks. */
  callbacks: boolean;
  /** What the balance endpoint reports. */
  balance: number;
  /** Result URLs answer 404 after this long. */
  resultTtlMs: number;
}

export const DEFAULT_CONTROLS: FakeControls = {
  latencyMs: 0,
  processingMs: 0,
  failure: null,
  failureRate: 1,
  retryAfterSeconds: 2,
  callbacks: true,
  balance: 1000,
  resultTtlMs: 10 * 60_000,
};

export interface FakeTask {
  id: string;
  createdAt: number;
  /** The parsed submit body. */
  input: Record<string, unknown>;
  callbackUrl?: string;
  /** Decided at submit: 'generation_failed' or 'content_policy' tasks fail when they end. */
  outcome: 'success' | 'generation_failed' | 'content_policy';
  /** Set once the task has ended (callback sent, if any). */
  endedAt?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type Handler = (request: IncomingMessage, body: string, url: URL) => Promise<FakeAnswer> | FakeAnswer;

export interface FakeAnswer {
  status: number;
  json?: unknown;
  body?: Buffer;
  headers?: Record<string, string>;
  /** Never answer (a hung upstream). */
  hang?: boolean;
}

/**
 * A canned answer a test sets in place of the protocol's own (`answerWith`): the error shapes, odd
 * statuses and malformed envelopes a real provider sends now and then, which the protocol routes never
 * produce on their own.
 */
export interface ScriptedAnswer {
  status: number;
  /** A string is sent as it is (an HTML error page, broken JSON); anything else as JSON. */
  body: unknown;
  headers?: Record<string, string>;
  /** Only requests whose path (without the query) matches; absent: every request but result files. */
  path?: RegExp;
}

export class FakeProviderServer {
  readonly controls: FakeControls = { ...DEFAULT_CONTROLS };
  readonly tasks = new Map<string, FakeTask>();
  readonly requests: RecordedRequest[] = [];
  /** Callbacks this fake POSTed: the exact bytes and headers, for replaying duplicates and stale ones. */
  readonly callbacksSent: { url: string; body: string; headers: Record<string, string>; status: number | undefined }[] = [];
  private readonly routes: { method: string; pattern: RegExp; handler: Handler }[] = [];
  private readonly scripted: ScriptedAnswer[] = [];
  private server?: Server;
  private readonly hung = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextId = 1;
  private resultsExpired = false;
  url = '';
  /** The key the fake accepts; anything else is refused the way the provider refuses a bad key. */
  apiKey = 'fake-key';
  /** When set, the fake turns hostile (test/fakes/hostile.ts): 5xx, hangs, 429s, garbage, drips, odd callbacks. */
  hostile?: Hostile;

  constructor(readonly name: string) {
    this.route('GET', /^\/files\/([\w.-]+)$/, (_req, _body, url) => this.serveFile(url));
  }

  /** Adds a protocol route; patterns match the path without the query string. */
  route(method: string, pattern: RegExp, handler: Handler): void {
    this.routes.push({ method, pattern, handler });
  }

  set(changes: Partial<FakeControls>): void {
    Object.assign(this.controls, changes);
  }

  reset(): void {
    Object.assign(this.controls, DEFAULT_CONTROLS);
    this.tasks.clear();
    this.requests.length = 0;
    this.callbacksSent.length = 0;
    this.resultsExpired = false;
    this.scripted.length = 0;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.hostile?.stop();
    for (const timer of this.timers) clearTimeout(timer);
    for (const res of this.hung) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  newTaskId(prefix = 'task'): string {
    return `${prefix}-${this.nextId++}-${Math.random().toString(36).slice(2, 8)}`;
  }

  /** Whether this submit should fail, per `failure` and `failureRate`. */
  failureForSubmit(): FakeFailure | null {
    const { failure, failureRate } = this.controls;
    if (!failure) return null;
    return Math.random() < failureRate ? failure : null;
  }

  /** Records a task and schedules its end (callback included) after `processingMs`. */
  createTask(
    input: { id?: string; input: Record<string, unknown>; callbackUrl?: string; outcome?: FakeTask['outcome'] },
    onEnd: (task: FakeTask) => void,
  ): FakeTask {
    const task: FakeTask = {
      id: input.id ?? this.newTaskId(),
      createdAt: Date.now(),
      input: input.input,
      callbackUrl: input.callbackUrl,
      outcome: input.outcome ?? 'success',
    };
    this.tasks.set(task.id, task);
    const end = () => {
      task.endedAt = Date.now();
      onEnd(task);
    };
    if (this.controls.processingMs <= 0) queueMicrotask(end);
    else this.later(end, this.controls.processingMs);
    return task;
  }

  isDone(task: FakeTask): boolean {
    return task.endedAt !== undefined || Date.now() - task.createdAt >= this.controls.processingMs;
  }

  /** The URL of a task's result image (a real PNG), valid for `resultTtlMs`. */
  resultUrl(task: FakeTask): string {
    return `${this.url}/files/${task.id}.png?expires=${task.createdAt + this.controls.processingMs + this.controls.resultTtlMs}`;
  }

  /** Makes every result URL handed out so far answer 404, as a provider's expired link does. */
  expireResults(): void {
    this.resultsExpired = true;
  }

  /** POSTs a callback and remembers exactly what was sent. Failures to deliver are recorded, not thrown. */
  async sendCallback(url: string, payload: unknown, headers: Record<string, string> = {}, rawBody?: string): Promise<void> {
    if (this.hostile) return this.hostile.callback(() => this.deliverCallback(url, payload, headers, rawBody));
    return this.deliverCallback(url, payload, headers, rawBody);
  }

  private async deliverCallback(url: string, payload: unknown, headers: Record<string, string>, rawBody?: string): Promise<void> {
    const body = rawBody ?? JSON.stringify(payload);
    const sent = { url, body, headers: { 'content-type': 'application/json', ...headers }, status: undefined as number | undefined };
    try {
      const response = await fetch(url, { method: 'POST', headers: sent.headers, body, signal: AbortSignal.timeout(15_000) });
      sent.status = response.status;
      await response.arrayBuffer();
    } catch {
      sent.status = undefined;
    }
    this.callbacksSent.push(sent);
  }

  later(work: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    this.timers.add(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, body });
    const verdict = this.hostile?.verdict() ?? { kind: 'honest' };
    if (verdict.kind === 'refuse') return void res.writeHead(verdict.status, { 'content-type': 'application/json', ...verdict.headers }).end(verdict.body);
    const route = this.routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
    let answer: FakeAnswer;
    try {
      answer =
        this.scriptedAnswer(url.pathname) ??
        (route ? await route.handler(req, body, url) : { status: 404, json: { error: `no route ${req.method} ${url.pathname}` } });
    } catch (error) {
      answer = { status: 500, json: { error: (error as Error).message } };
    }
    if (answer.hang || verdict.kind === 'hang') {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    const send = () => {
      const payload = answer.body ?? (answer.json === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(answer.json)));
      res.writeHead(answer.status, { 'content-type': answer.body ? 'image/png' : 'application/json', ...answer.headers });
      if (verdict.kind === 'garbage') res.end(this.hostile!.garbage());
      else if (verdict.kind === 'drip') this.hostile!.drip(res, payload);
      else res.end(payload);
    };
    if (this.controls.latencyMs > 0) this.later(send, this.controls.latencyMs);
    else send();
  }

  /** Until reset, requests matching `answer.path` get this answer instead of the protocol's; the latest set wins. */
  answerWith(answer: ScriptedAnswer): void {
    this.scripted.unshift(answer);
  }

  private scriptedAnswer(pathname: string): FakeAnswer | undefined {
    const found = this.scripted.find((s) => (s.path ? s.path.test(pathname) : !pathname.startsWith('/files/')));
    if (!found) return undefined;
    const text = typeof found.body === 'string' ? found.body : JSON.stringify(found.body);
    const type = text.trimStart().startsWith('<') ? 'text/html; charset=utf-8' : 'application/json';
    return { status: found.status, body: Buffer.from(text), headers: { 'content-type': type, ...found.headers } };
  }

  private async serveFile(url: URL): Promise<FakeAnswer> {
    const expires = Number(url.searchParams.get('expires'));
    if (this.resultsExpired || !Number.isFinite(expires) || Date.now() > expires) {
      return { status: 404, json: { error: 'expired' } };
    }
    return { status: 200, body: await resultImage() };
  }
}

let image: Promise<Buffer> | undefined;
/** A small real PNG, made once. */
export function resultImage(): Promise<Buffer> {
  image ??= sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 120, b: 40 } } })
    .png()
    .toBuffer();
  return image;
}

/** The HTTP status and body code a protocol uses for a failure kind (each fake maps to its own shapes). */
export const isSubmitRejection = (failure: FakeFailure | null): failure is Exclude<FakeFailure, 'generation_failed' | 'content_policy' | 'hang'> =>
  failure !== null && failure !== 'generation_failed' && failure !== 'content_policy' && failure !== 'hang';
