// Kie.ai's jobs API (model `google/nano-banana-edit`): createTask, then recordInfo until the task
// ends, or the callback. Answers come in the `{code, msg | message, data}` envelope (envelope.ts).
import { asRecord, callProvider } from '../http.ts';
import { ProviderError, type CallOptions, type HttpProviderOptions, type ProviderAdapter, type SubmitRequest } from '../types.ts';
import { parseKieCallback } from './callback.ts';
import { asLookupError, envelopeError, protocolError, readCredits, readEnvelope, taskIdOf } from '../envelope.ts';
import { taskStatusOf } from './task.ts';

const KIE_DEFAULT_MODEL = 'google/nano-banana-edit';
/** How old (or how far ahead) a signed callback's timestamp may be. */
const KIE_DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
/** Documented input limits, checked here so a request that cannot pass is not sent (nor paid for). */
export const KIE_MAX_PROMPT_LENGTH = 5000;
export const KIE_MAX_INPUT_IMAGES = 10;

export interface KieOptions extends HttpProviderOptions {
  /** The account's webhook HMAC key (KIE_WEBHOOK_HMAC_KEY). Set: unsigned or wrongly signed callbacks are refused. */
  webhookHmacKey?: string;
  /** Default KIE_DEFAULT_WEBHOOK_TOLERANCE_SECONDS. */
  webhookToleranceSeconds?: number;
  /** For tests of stale signatures. */
  now?: () => number;
}

export function createKieAdapter(options: KieOptions): ProviderAdapter {
  const call = (request: Parameters<typeof callProvider>[2]) =>
    callProvider('kie', options, { ...request, headers: { authorization: `Bearer ${options.apiKey}`, ...request.headers } });

  async function credits(callOptions?: CallOptions): Promise<number> {
    const response = await call({ url: '/api/v1/chat/credit', signal: callOptions?.signal });
    return readCredits('kie', readEnvelope('kie', response));
  }

  return {
    name: 'kie',
    supportsCallbacks: true,
    synchronous: false,

    async submit(request, callOptions) {
      const response = await call({ url: '/api/v1/jobs/createTask', body: createTaskBody(request), signal: callOptions?.signal });
      const taskId = taskIdOf(asRecord(readEnvelope('kie', response)).taskId);
      if (!taskId) throw protocolError('kie', 'createTask answered without a taskId');
      return { state: 'pending', providerTaskId: taskId };
    },

    async status(providerTaskId, callOptions) {
      const response = await call({ url: `/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(providerTaskId)}`, signal: callOptions?.signal });
      const error = envelopeError('kie', response);
      if (error) throw asLookupError(error);
      const data = asRecord(response.json).data;
      if (data === null || data === undefined) throw new ProviderError('kie', 'not_found', `kie: no record of task ${providerTaskId}`);
      if (typeof data !== 'object' || Array.isArray(data)) throw protocolError('kie', 'recordInfo data is not an object');
      return taskStatusOf(asRecord(data));
    },

    async parseCallback(request) {
      return parseKieCallback(request, {
        hmacKey: options.webhookHmacKey,
        toleranceSeconds: options.webhookToleranceSeconds ?? KIE_DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
        now: options.now,
      });
    },

    async balance(callOptions) {
      return { amount: await credits(callOptions), unit: 'credit' };
    },

    async health(callOptions) {
      await credits(callOptions);
    },
  };
}

function createTaskBody(request: SubmitRequest): Record<string, unknown> {
  if (request.prompt.length > KIE_MAX_PROMPT_LENGTH) {
    throw new ProviderError('kie', 'bad_input', `kie: the prompt is longer than ${KIE_MAX_PROMPT_LENGTH} characters`);
  }
  if (request.imageUrls.length > KIE_MAX_INPUT_IMAGES) {
    throw new ProviderError('kie', 'bad_input', `kie: at most ${KIE_MAX_INPUT_IMAGES} input images are accepted`);
  }
  const input: Record<string, unknown> = { prompt: request.prompt };
  // The text-to-image model takes no image_urls at all; the edit model requires them.
  if (request.imageUrls.length > 0) input.image_urls = request.imageUrls;
  if (request.outputFormat) input.output_format = request.outputFormat;
  if (request.aspectRatio) input.image_size = request.aspectRatio;
  const body: Record<string, unknown> = { model: request.model || KIE_DEFAULT_MODEL, input };
  if (request.callbackUrl) body.callBackUrl = request.callbackUrl;
  return body;
}
