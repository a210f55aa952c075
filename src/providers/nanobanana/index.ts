// NanoBanana API: generate, then record-info until successFlag says the task ended, or the callback.
// It speaks Kie's `{code, msg, data}` envelope with the same body codes, read by ../kie/envelope.ts.
import { asRecord, callProvider } from '../http.ts';
import { ProviderError, type CallOptions, type HttpProviderOptions, type ProviderAdapter, type SubmitRequest } from '../types.ts';
import { asLookupError, envelopeError, protocolError, readCredits, readEnvelope, taskIdOf } from '../envelope.ts';
import { parseNanoBananaCallback, recordStatus } from './task.ts';

/** The submit `type` values, misspelt as the API spells them. */
export const NANOBANANA_TEXT_TO_IMAGE = 'TEXTTOIAMGE';
export const NANOBANANA_IMAGE_TO_IMAGE = 'IMAGETOIAMGE';

export interface NanoBananaOptions extends HttpProviderOptions {
  /**
   * Sent as callBackUrl when a submit has none of its own: client code treats the field as required,
   * so a caller that only polls can point it at any endpoint that accepts a POST.
   */
  fallbackCallbackUrl?: string;
}

export function createNanoBananaAdapter(options: NanoBananaOptions): ProviderAdapter {
  const call = (request: Parameters<typeof callProvider>[2]) =>
    callProvider('nanobanana', options, { ...request, headers: { authorization: `Bearer ${options.apiKey}`, ...request.headers } });

  async function credits(callOptions?: CallOptions): Promise<number> {
    const response = await call({ url: '/api/v1/common/credit', signal: callOptions?.signal });
    return readCredits('nanobanana', readEnvelope('nanobanana', response));
  }

  return {
    name: 'nanobanana',
    supportsCallbacks: true,
    synchronous: false,

    async submit(request, callOptions) {
      const response = await call({
        url: '/api/v1/nanobanana/generate',
        body: generateBody(request, options.fallbackCallbackUrl),
        signal: callOptions?.signal,
      });
      const taskId = taskIdOf(asRecord(readEnvelope('nanobanana', response)).taskId);
      if (!taskId) throw protocolError('nanobanana', 'generate answered without a taskId');
      return { state: 'pending', providerTaskId: taskId };
    },

    async status(providerTaskId, callOptions) {
      const response = await call({ url: `/api/v1/nanobanana/record-info?taskId=${encodeURIComponent(providerTaskId)}`, signal: callOptions?.signal });
      const error = envelopeError('nanobanana', response);
      if (error) throw asLookupError(error);
      const data = asRecord(response.json).data;
      if (data === null || data === undefined) throw new ProviderError('nanobanana', 'not_found', `nanobanana: no record of task ${providerTaskId}`);
      if (typeof data !== 'object' || Array.isArray(data)) throw protocolError('nanobanana', 'record-info data is not an object');
      return recordStatus(asRecord(data));
    },

    async parseCallback(request) {
      return parseNanoBananaCallback(request);
    },

    async balance(callOptions) {
      return { amount: await credits(callOptions), unit: 'credit' };
    },

    async health(callOptions) {
      await credits(callOptions);
    },
  };
}

function generateBody(request: SubmitRequest, fallbackCallbackUrl: string | undefined): Record<string, unknown> {
  const editing = request.imageUrls.length > 0;
  const body: Record<string, unknown> = {
    prompt: request.prompt,
    type: editing ? NANOBANANA_IMAGE_TO_IMAGE : NANOBANANA_TEXT_TO_IMAGE,
    // One image per generation: we charge and store per generation.
    numImages: 1,
  };
  if (editing) body.imageUrls = request.imageUrls;
  if (request.aspectRatio) body.image_size = request.aspectRatio;
  const callbackUrl = request.callbackUrl ?? fallbackCallbackUrl;
  if (callbackUrl) body.callBackUrl = callbackUrl;
  return body;
}
