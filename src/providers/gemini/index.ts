// The Google Gemini adapter (`gemini-2.5-flash-image`, PROVIDERS.md): one synchronous generateContent
// call that takes the input images inline and answers with the image inline. There is no task to poll,
// no callback and no balance endpoint.
import { randomUUID } from 'node:crypto';
import { callProvider, type ProviderResponse } from '../http.ts';
import { ProviderError, type CallOptions, type HttpProviderOptions, type ProviderAdapter, type SubmitRequest, type SubmitResult } from '../types.ts';
import { geminiError } from './errors.ts';
import { readGeneratedContent } from './response.ts';

const GEMINI_DEFAULT_MODEL = 'gemini-2.5-flash-image';

export interface GeminiOptions extends HttpProviderOptions {
  /** The model the health probe looks up; submits use the request's own model. */
  healthModel?: string;
}

export function createGeminiAdapter(options: GeminiOptions): ProviderAdapter {
  const call = (request: { method?: 'GET' | 'POST'; url: string; body?: unknown; signal?: AbortSignal }) =>
    callProvider('gemini', options, { ...request, headers: { 'x-goog-api-key': options.apiKey } });

  return {
    name: 'gemini',
    supportsCallbacks: false,
    synchronous: true,

    async submit(request: SubmitRequest, callOptions?: CallOptions): Promise<SubmitResult> {
      const response = await call({ url: `${modelPath(request.model)}:generateContent`, body: generateContentBody(request), signal: callOptions?.signal });
      throwUnlessOk(response);
      const { responseId, images } = readGeneratedContent(response.json);
      return { state: 'completed', providerTaskId: responseId ?? `gemini-${randomUUID()}`, outputs: images.map((inline) => ({ inline })) };
    },

    async status(providerTaskId: string) {
      // generateContent answers with the image itself, so Gemini keeps no task to look up: the result
      // came back from submit. A caller polling here has lost that answer, and only a new submit helps.
      throw new ProviderError('gemini', 'not_found', `gemini is synchronous and keeps no task ${providerTaskId}`);
    },

    async health(callOptions?: CallOptions): Promise<void> {
      // Looking up the model is free and proves the key, the quota and the model all at once.
      throwUnlessOk(await call({ url: modelPath(options.healthModel ?? GEMINI_DEFAULT_MODEL), signal: callOptions?.signal }));
    },
  };
}

/** `/v1beta/models/<model>`, taking the model as either `gemini-…` or the resource name `models/gemini-…`. */
const modelPath = (model: string) => `/v1beta/models/${encodeURIComponent(model.replace(/^models\//, ''))}`;

function throwUnlessOk(response: ProviderResponse): void {
  const ok = response.status >= 200 && response.status < 300;
  if (!ok || (response.json && typeof response.json === 'object' && 'error' in response.json)) throw geminiError(response);
  if (response.json === undefined) throw new ProviderError('gemini', 'protocol', 'gemini answered without a JSON body', { status: response.status });
}

function generateContentBody(request: SubmitRequest): unknown {
  // Gemini takes the input images as bytes; `imageUrls` (the same images) are for URL-only providers.
  const images = request.images.map((image) => ({ inline_data: { mime_type: image.mime, data: image.data.toString('base64') } }));
  // Gemini's image config has no output format: it answers PNG, and the output carries its mime type.
  const imageConfig = request.aspectRatio ? { aspectRatio: request.aspectRatio } : undefined;
  return {
    contents: [{ role: 'user', parts: [{ text: request.prompt }, ...images] }],
    generationConfig: { responseModalities: ['TEXT', 'IMAGE'], ...(imageConfig && { imageConfig }) },
  };
}
