// fal.ai through its queue API (https://queue.fal.run): submit with an optional `fal_webhook`, poll the
// status URL fal returns (202 while queued or running, 200 once COMPLETED), then read the result from
// its response URL. Webhooks are Ed25519-signed (webhook.ts); the balance lives on a second host.
import { asRecord, callProvider, usdToMicro } from '../http.ts';
import {
  ProviderError,
  type CallbackEvent,
  type CallbackRequest,
  type CallOptions,
  type HttpProviderOptions,
  type ProviderAdapter,
  type ProviderBalance,
  type ProviderOutput,
  type SubmitRequest,
  type SubmitResult,
  type TaskStatus,
} from '../types.ts';
import { falError, protocolError, taskFailure } from './errors.ts';
import { appOf, taskIdFor, taskIdFromSubmit, taskUrls } from './task-id.ts';
import { createWebhookVerifier } from './webhook.ts';

const FAL_DEFAULT_API_BASE_URL = 'https://api.fal.ai';
const FAL_DEFAULT_JWKS_URL = 'https://rest.alpha.fal.ai/.well-known/jwks.json';
const FAL_DEFAULT_MODEL = 'fal-ai/nano-banana/edit';
/** The query key our webhook URLs carry the model's app in (a webhook body names only the request). */
export const FAL_APP_QUERY_KEY = 'fal_app';
/** A request id no one has: the health probe asks its status to prove queue and key without a cost. */
const PROBE_REQUEST_ID = '00000000-0000-4000-8000-000000000000';

export interface FalOptions extends HttpProviderOptions {
  /**
   * The ADMIN-scoped key (`FAL_ADMIN_KEY`) the billing endpoint wants; inference uses the API-scoped
   * `apiKey`. Unset: no balance, and the health probe cannot see a locked account.
   */
  adminKey?: string;
  /** The platform API host, for the balance (`FAL_API_BASE_URL`). */
  apiBaseUrl?: string;
  /** Where fal publishes its webhook signing keys (`FAL_JWKS_URL`). */
  jwksUrl?: string;
  /** How long fetched JWKS keys are kept. */
  jwksCacheMs?: number;
  /**
   * The model a webhook is taken to be for when its URL lacks `fal_app` (our callback route may drop
   * unknown query keys), and whose queue the health probe asks.
   */
  defaultModel?: string;
  /** The clock, for webhook timestamps (tests). */
  now?: () => number;
}

export function createFalAdapter(options: FalOptions): ProviderAdapter {
  const queueBaseUrl = options.baseUrl.replace(/\/+$/, '');
  const apiBaseUrl = (options.apiBaseUrl ?? FAL_DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  const defaultApp = appOf(options.defaultModel ?? FAL_DEFAULT_MODEL);
  const auth = { authorization: `Key ${options.apiKey}` };
  const verifier = createWebhookVerifier({
    jwksUrl: options.jwksUrl ?? FAL_DEFAULT_JWKS_URL,
    cacheMs: options.jwksCacheMs,
    timeoutMs: options.timeoutMs,
    now: options.now,
  });
  const get = (url: string, call?: CallOptions, headers: Record<string, string> = auth) => callProvider('fal', options, { url, headers, signal: call?.signal });

  async function result(responseUrl: string, call?: CallOptions): Promise<TaskStatus> {
    const response = await get(responseUrl, call);
    if (response.status >= 200 && response.status < 300) return { state: 'completed', outputs: outputsOf(response.json) };
    // Our key, our rate, a missing result, or a bare gateway error: not the request's own failure.
    if ([401, 403, 404, 429].includes(response.status) || (response.status >= 500 && response.json === undefined)) throw falError(response);
    return { state: 'failed', error: taskFailure(response.json, response.status) };
  }

  async function readBalance(call?: CallOptions): Promise<ProviderBalance> {
    if (!options.adminKey) throw new ProviderError('fal', 'unauthorized', 'fal: the balance needs an ADMIN-scoped key: set FAL_ADMIN_KEY');
    const response = await get(`${apiBaseUrl}/v1/account/billing?expand=credits`, call, { authorization: `Key ${options.adminKey}` });
    if (response.status !== 200) throw falError(response);
    const credits = asRecord(asRecord(response.json).credits);
    const amount = usdToMicro(credits.current_balance);
    if (amount === undefined) throw protocolError('the billing answer has no credits.current_balance', response.status);
    if (typeof credits.currency === 'string' && credits.currency.toUpperCase() !== 'USD') throw protocolError(`balance in ${credits.currency}, not USD`);
    return { amount, unit: 'micro_usd' };
  }

  return {
    name: 'fal',
    supportsCallbacks: true,
    synchronous: false,

    async submit(request: SubmitRequest, call?: CallOptions): Promise<SubmitResult> {
      if (!/^[\w.-]+(\/[\w.-]+)+$/.test(request.model)) throw new ProviderError('fal', 'bad_input', `fal: not a model id: ${request.model}`);
      const url = new URL(`${queueBaseUrl}/${request.model}`);
      if (request.callbackUrl) url.searchParams.set('fal_webhook', webhookUrl(request.callbackUrl, appOf(request.model)));
      const response = await callProvider('fal', options, {
        method: 'POST',
        url: url.toString(),
        headers: auth,
        body: modelInput(request),
        signal: call?.signal,
      });
      if (response.status < 200 || response.status >= 300) throw falError(response);
      return { state: 'pending', providerTaskId: taskIdFromSubmit(asRecord(response.json), queueBaseUrl) };
    },

    async status(providerTaskId: string, call?: CallOptions): Promise<TaskStatus> {
      const urls = taskUrls(providerTaskId, queueBaseUrl);
      const response = await get(urls.status, call);
      if (response.status !== 200 && response.status !== 202) throw falError(response);
      const state = asRecord(response.json).status;
      if (state === 'IN_QUEUE' || state === 'IN_PROGRESS') return { state: 'pending' };
      if (state === 'COMPLETED') return result(urls.response, call);
      throw protocolError(`unknown queue status ${JSON.stringify(state)}`, response.status);
    },

    async parseCallback(request: CallbackRequest): Promise<CallbackEvent> {
      const signed = await verifier.verify(request);
      const body = parseJson(request.rawBody);
      const requestId = typeof body.request_id === 'string' ? body.request_id : signed.requestId;
      const providerTaskId = taskIdFor(request.query[FAL_APP_QUERY_KEY] || defaultApp, requestId);
      return { providerTaskId, status: webhookStatus(body) };
    },

    balance: readBalance,

    // Any key may ask the queue: an unknown request id answers 404 from a healthy queue, so only a
    // refusal or a server error fails that part. A locked account (exhausted balance) still answers
    // status URLs, so with the admin key the probe reads the balance too and fails at zero.
    async health(call?: CallOptions): Promise<void> {
      const response = await get(taskUrls(taskIdFor(defaultApp, PROBE_REQUEST_ID), queueBaseUrl).status, call);
      if (response.status >= 500 || [401, 403, 429].includes(response.status)) throw falError(response);
      if (!options.adminKey) return;
      const { amount } = await readBalance(call);
      if (amount <= 0)
        throw new ProviderError(
          'fal',
          'insufficient_balance',
          'fal: the account has no credit left, so fal has locked it (top up at fal.ai/dashboard/billing)',
        );
    },
  };
}

/** The nano-banana edit input; fal takes the model input itself as the body. */
function modelInput(request: SubmitRequest): Record<string, unknown> {
  const input: Record<string, unknown> = { prompt: request.prompt, image_urls: request.imageUrls, num_images: 1, output_format: request.outputFormat ?? 'png' };
  if (request.aspectRatio) input.aspect_ratio = request.aspectRatio;
  return input;
}

function webhookUrl(callbackUrl: string, app: string): string {
  const url = new URL(callbackUrl);
  url.searchParams.set(FAL_APP_QUERY_KEY, app);
  return url.toString();
}

/** `{images: [{url, content_type}]}`; a completed result without one image is unreadable. */
function outputsOf(json: unknown): ProviderOutput[] {
  const images = asRecord(json).images;
  const outputs = (Array.isArray(images) ? images : [])
    .map(asRecord)
    .flatMap((image): ProviderOutput[] =>
      typeof image.url === 'string' && image.url ? [{ url: image.url, ...(typeof image.content_type === 'string' ? { mime: image.content_type } : {}) }] : [],
    );
  if (outputs.length === 0) throw protocolError('the result holds no image');
  return outputs;
}

function webhookStatus(body: Record<string, unknown>): TaskStatus {
  if (body.status === 'ERROR') return { state: 'failed', error: taskFailure(body.payload, statusInError(body.error)) };
  if (body.status !== 'OK') throw protocolError(`unknown webhook status ${JSON.stringify(body.status)}`);
  // fal sends `payload: null` with `payload_error` when the result could not be attached: the request
  // did complete, and polling its response URL fetches what the webhook could not carry.
  if (body.payload === null || body.payload === undefined) return { state: 'pending' };
  return { state: 'completed', outputs: outputsOf(body.payload) };
}

/** The HTTP status fal quotes in a webhook's `error` ("Invalid status code: 422"), if any. */
function statusInError(error: unknown): number | undefined {
  const match = typeof error === 'string' ? /\b([45]\d\d)\b/.exec(error) : null;
  return match ? Number(match[1]) : undefined;
}

function parseJson(raw: Buffer): Record<string, unknown> {
  try {
    const json: unknown = JSON.parse(raw.toString('utf8'));
    if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // fall through: an unreadable body is a protocol error like a non-object one
  }
  throw protocolError('the webhook body is not a JSON object');
}
