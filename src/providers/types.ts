// The one interface every upstream provider adapter implements (docs/rules.md §5). Adapters speak HTTP to one
// provider and know nothing of credits, generations or the database; the router decides on the typed
// error's `retryable`, never on message text.

/** The upstream AI providers, each an adapter in src/providers/<name>: the one list every other place reads. */
export const AI_PROVIDER_NAMES = ['nanobanana', 'kie', 'fal', 'gemini', 'wavespeed'] as const;
export type AiProviderName = (typeof AI_PROVIDER_NAMES)[number];
/** The AI providers and the built-in local one. */
export const PROVIDER_NAMES = [...AI_PROVIDER_NAMES, 'local'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** An image handed to a provider inline (Gemini) instead of by URL. */
export interface InlineImage {
  mime: string;
  data: Buffer;
}

export interface SubmitRequest {
  /** Our generation id: used as an idempotency/trace hint where the provider accepts one. */
  generationId: string;
  /** The provider's own model id (from the catalogue's route). */
  model: string;
  prompt: string;
  /** Public URLs of input images, for URL-only providers (NanoBanana, Kie, fal, WaveSpeed). */
  imageUrls: string[];
  /** The same inputs as bytes, for providers that take them inline (Gemini). */
  images: InlineImage[];
  /** Where the provider should POST its completion callback, when it supports one. */
  callbackUrl?: string;
  /** e.g. "1:1", "16:9"; adapters map it to the provider's own spelling. */
  aspectRatio?: string;
  outputFormat?: 'png' | 'jpeg';
}

/** A finished result: a URL to download from at once (they expire), or bytes returned inline. */
export type ProviderOutput = { url: string; mime?: string } | { inline: InlineImage };

export type TaskStatus = { state: 'pending' } | { state: 'completed'; outputs: ProviderOutput[] } | { state: 'failed'; error: ProviderError };

export type SubmitResult =
  /** Accepted; poll `status(providerTaskId)` or wait for the callback. */
  | { state: 'pending'; providerTaskId: string }
  /** Synchronous providers (Gemini) answer with the result itself. */
  | { state: 'completed'; providerTaskId: string; outputs: ProviderOutput[] };

/** A provider's callback exactly as it arrived: the raw body is needed to check signatures. */
export interface CallbackRequest {
  /** Header names in lower case. */
  headers: Record<string, string>;
  rawBody: Buffer;
  /** The query string of the callback URL (we may put our own token there). */
  query: Record<string, string>;
}

export interface CallbackEvent {
  providerTaskId: string;
  status: TaskStatus;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ProviderAdapter {
  readonly name: ProviderName;
  /** Whether the provider POSTs a callback when a task ends (polling covers the others). */
  readonly supportsCallbacks: boolean;
  /** Whether submit answers with the result itself (no task to wait on, poll or resume). */
  readonly synchronous: boolean;
  submit(request: SubmitRequest, options?: CallOptions): Promise<SubmitResult>;
  /** Where a task stands; when completed, the outputs are included (fetching the result if the provider keeps it apart). */
  status(providerTaskId: string, options?: CallOptions): Promise<TaskStatus>;
  /**
   * Checks the callback's signature where the provider signs (throws ProviderError 'bad_signature'),
   * then parses it. Callbacks for unfinished tasks come back as `{ state: 'pending' }`.
   */
  parseCallback?(request: CallbackRequest): Promise<CallbackEvent>;
  /** What is left in the platform's account at the provider, where the provider has a balance endpoint. */
  balance?(options?: CallOptions): Promise<ProviderBalance>;
  /** A cheap probe that throws a ProviderError when the provider cannot take work. */
  health(options?: CallOptions): Promise<void>;
}

/**
 * A provider's balance as an exact integer: its own credits, or micro-USD for providers that bill in
 * dollars (fal, WaveSpeed report a decimal USD amount; adapters convert it, never passing a float on).
 */
export interface ProviderBalance {
  amount: number;
  unit: 'credit' | 'micro_usd';
}

export type ProviderErrorKind =
  /** The request itself is wrong (validation, unsupported image): another provider would refuse it too. */
  | 'bad_input'
  /** The prompt or image was refused by the provider's safety rules. */
  | 'content_policy'
  /** Our key was refused. */
  | 'unauthorized'
  /** The platform's account at the provider is out of credit. */
  | 'insufficient_balance'
  /** 429: over the provider's rate or concurrency limit; `retryAfterMs` when it said. */
  | 'rate_limited'
  /** 5xx, maintenance, connection refused. */
  | 'unavailable'
  /** No answer in time. */
  | 'timeout'
  /** The provider accepted the task and then failed to generate. */
  | 'generation_failed'
  /** The task or result is unknown to the provider (or its URL expired). */
  | 'not_found'
  /** A callback whose signature does not verify. */
  | 'bad_signature'
  /** The provider answered something this adapter cannot read. */
  | 'protocol';

/** Kinds where another attempt (later, or at another provider) may succeed. */
const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set([
  'unauthorized',
  'insufficient_balance',
  'rate_limited',
  'unavailable',
  'timeout',
  'generation_failed',
  'not_found',
  'protocol',
]);

export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly retryable: boolean;
  constructor(
    readonly provider: ProviderName,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly detail: { status?: number; code?: string | number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.retryable = RETRYABLE.has(kind);
  }

  get retryAfterMs(): number | undefined {
    return this.detail.retryAfterMs;
  }
}

export const isProviderError = (error: unknown, kind?: ProviderErrorKind): error is ProviderError =>
  error instanceof ProviderError && (kind === undefined || error.kind === kind);

/** Connection settings every HTTP adapter takes; everything comes from config, nothing is hard-coded. */
export interface HttpProviderOptions {
  baseUrl: string;
  apiKey: string;
  /** Per-request time limit. */
  timeoutMs: number;
}
