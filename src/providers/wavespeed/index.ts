// WaveSpeed AI (Seedream v4 edit): submit a prediction with an optional `webhook` URL, poll its result
// endpoint, or take the HMAC-signed webhook. Every answer comes in the `{code, message, data}` envelope.
// WaveSpeed asks clients to poll no faster than every 2 s: the router's poll interval should respect it.
import { asRecord, callProvider, usdToMicro } from '../http.ts';
import {
  ProviderError,
  type CallbackEvent,
  type CallbackRequest,
  type CallOptions,
  type HttpProviderOptions,
  type ProviderAdapter,
  type ProviderBalance,
  type SubmitRequest,
  type SubmitResult,
  type TaskStatus,
} from '../types.ts';
import { envelopeData, predictionStatus, protocolError } from './errors.ts';
import { verifyWebhook } from './webhook.ts';

/** Seedream v4 edit takes at most this many input images. */
export const WAVESPEED_MAX_IMAGES = 10;

export interface WaveSpeedOptions extends HttpProviderOptions {
  /** The account's webhook secret, `whsec_…` (`WAVESPEED_WEBHOOK_SECRET`); unset, callbacks are refused. */
  webhookSecret?: string;
  /** The clock, for webhook timestamps (tests). */
  now?: () => number;
}

export function createWaveSpeedAdapter(options: WaveSpeedOptions): ProviderAdapter {
  const auth = { authorization: `Bearer ${options.apiKey}` };
  const now = options.now ?? Date.now;
  const get = (url: string, call?: CallOptions) => callProvider('wavespeed', options, { url, headers: auth, signal: call?.signal });

  async function balance(call?: CallOptions): Promise<ProviderBalance> {
    const data = envelopeData(await get('/api/v3/balance', call));
    const amount = usdToMicro(data.balance);
    if (amount === undefined) throw protocolError('the balance answer has no balance');
    if (typeof data.currency === 'string' && data.currency.toUpperCase() !== 'USD') throw protocolError(`balance in ${data.currency}, not USD`);
    return { amount, unit: 'micro_usd' };
  }

  return {
    name: 'wavespeed',
    supportsCallbacks: true,
    synchronous: false,

    async submit(request: SubmitRequest, call?: CallOptions): Promise<SubmitResult> {
      if (!/^[\w.-]+(\/[\w.-]+)+$/.test(request.model)) throw new ProviderError('wavespeed', 'bad_input', `wavespeed: not a model path: ${request.model}`);
      if (request.imageUrls.length > WAVESPEED_MAX_IMAGES)
        throw new ProviderError('wavespeed', 'bad_input', `wavespeed: at most ${WAVESPEED_MAX_IMAGES} input images`);
      const query = request.callbackUrl ? `?webhook=${encodeURIComponent(request.callbackUrl)}` : '';
      const response = await callProvider('wavespeed', options, {
        method: 'POST',
        url: `/api/v3/${request.model}${query}`,
        headers: auth,
        body: predictionInput(request),
        signal: call?.signal,
      });
      const id = envelopeData(response).id;
      if (typeof id !== 'string' || !id) throw protocolError('the submit answer has no prediction id', response.status);
      return { state: 'pending', providerTaskId: id };
    },

    async status(providerTaskId: string, call?: CallOptions): Promise<TaskStatus> {
      return predictionStatus(envelopeData(await get(`/api/v3/predictions/${encodeURIComponent(providerTaskId)}/result`, call)));
    },

    async parseCallback(request: CallbackRequest): Promise<CallbackEvent> {
      verifyWebhook(request, options.webhookSecret, now());
      const prediction = predictionOf(request.rawBody);
      if (typeof prediction.id !== 'string' || !prediction.id) throw protocolError('the webhook names no prediction');
      return { providerTaskId: prediction.id, status: predictionStatus(prediction) };
    },

    balance,

    async health(call?: CallOptions): Promise<void> {
      await balance(call);
    },
  };
}

function predictionInput(request: SubmitRequest): Record<string, unknown> {
  const input: Record<string, unknown> = { prompt: request.prompt, images: request.imageUrls, enable_sync_mode: false, enable_base64_output: false };
  const size = request.aspectRatio ? sizeFor(request.aspectRatio) : undefined;
  if (size) input.size = size;
  return input;
}

/**
 * Seedream's `size` ("W*H", each side 1024–4096) for an aspect ratio, at about 2048×2048 pixels in
 * all, in multiples of 64. An unreadable ratio leaves the provider's default size.
 */
export function sizeFor(aspectRatio: string): string | undefined {
  const match = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(aspectRatio.trim());
  if (!match) return undefined;
  const ratio = Number(match[1]) / Number(match[2]);
  if (!Number.isFinite(ratio) || ratio <= 0) return undefined;
  const side = (length: number) => Math.min(4096, Math.max(1024, Math.round(length / 64) * 64));
  return `${side(2048 * Math.sqrt(ratio))}*${side(2048 / Math.sqrt(ratio))}`;
}

/** The webhook body is the bare prediction; an enveloped one (`{code, data}`) is taken too. */
function predictionOf(raw: Buffer): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw protocolError('the webhook body is not JSON');
  }
  const body = asRecord(json);
  const data = asRecord(body.data);
  return body.status === undefined && typeof data.id === 'string' ? data : body;
}
