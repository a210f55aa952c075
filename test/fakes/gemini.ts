// A fake Gemini API (PROVIDERS.md): synchronous generateContent answering the image inline after
// `processingMs`, a model lookup for health probes, and Google's error envelope
// `{error: {code, message, status, details}}`. Where Gemini's answers come in two shapes (camelCase or
// snake_case inline data; a blocked prompt or a blocked image) the fake alternates, so both are proven.
import type { IncomingMessage } from 'node:http';
import { FakeProviderServer, isSubmitRejection, resultImage, type FakeAnswer, type FakeFailure, type FakeTask } from './fake-provider.ts';

const ASPECT_RATIOS = new Set(['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9']);

const googleError = (code: number, status: string, message: string, details: unknown[] = [], headers?: Record<string, string>): FakeAnswer => ({
  status: code,
  json: { error: { code, message, status, ...(details.length > 0 && { details }) } },
  headers,
});

const errorInfo = (reason: string) => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: 'googleapis.com',
  metadata: { service: 'generativelanguage.googleapis.com' },
});

export async function startGeminiFake(): Promise<FakeProviderServer> {
  const fake = new FakeProviderServer('gemini');
  let answers = 0;

  /** How Gemini refuses a key, a service-level failure, or a bad request; undefined to go on. */
  const refusal = (req: IncomingMessage, url: URL, failure: FakeFailure | null): FakeAnswer | undefined => {
    const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
    if (!key)
      return googleError(
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    if (key !== fake.apiKey) return googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [errorInfo('API_KEY_INVALID')]);
    if (failure === 'hang') return { status: 0, hang: true };
    if (!isSubmitRejection(failure)) return undefined;
    return rejection(failure, fake.controls.retryAfterSeconds);
  };

  fake.route('GET', /^\/v1beta\/models\/[\w.-]+$/, (req, _body, url) => {
    const refused = refusal(req, url, fake.failureForSubmit());
    if (refused) return refused;
    const model = url.pathname.split('/').pop()!;
    return {
      status: 200,
      json: {
        name: `models/${model}`,
        version: '2.0',
        displayName: model,
        inputTokenLimit: 32768,
        outputTokenLimit: 32768,
        supportedGenerationMethods: ['generateContent', 'countTokens'],
      },
    };
  });

  fake.route('POST', /^\/v1beta\/models\/[\w.-]+:generateContent$/, async (req, body, url) => {
    const failure = fake.failureForSubmit();
    const refused = refusal(req, url, failure);
    if (refused) return refused;
    const input = parseRequest(body);
    if (typeof input === 'string') return googleError(400, 'INVALID_ARGUMENT', input);
    const outcome = failure === 'generation_failed' || failure === 'content_policy' ? failure : 'success';
    // Gemini holds the connection while it generates: the answer comes when the task ends.
    const task = await new Promise<FakeTask>((resolve) => fake.createTask({ input: input.raw, outcome }, resolve));
    const variant = answers++ % 2;
    if (task.outcome === 'content_policy') return { status: 200, json: blocked(task, variant) };
    if (task.outcome === 'generation_failed' || !input.wantsImage) return { status: 200, json: textOnly(task, variant) };
    return { status: 200, json: await withImage(task, variant) };
  });

  return fake.start();
}

function rejection(failure: Exclude<FakeFailure, 'generation_failed' | 'content_policy' | 'hang'>, retryAfterSeconds: number): FakeAnswer {
  switch (failure) {
    case 'bad_input':
      return googleError(
        400,
        'INVALID_ARGUMENT',
        'Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
      );
    case 'unauthorized':
      return googleError(400, 'INVALID_ARGUMENT', 'API key expired. Please renew the API key.', [errorInfo('API_KEY_INVALID')]);
    case 'rate_limited':
      return googleError(
        429,
        'RESOURCE_EXHAUSTED',
        'You exceeded your current quota, please check your plan and billing details.',
        [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [
              {
                quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count',
                quotaId: 'GenerateContentPaidTierInputTokensPerModelPerMinute',
              },
            ],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` },
        ],
        { 'retry-after': String(retryAfterSeconds) },
      );
    // Gemini has no balance: a spent billing quota is a 429 like any other (no Retry-After to honour).
    case 'insufficient_balance':
      return googleError(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.');
    case 'server_error':
      return googleError(
        500,
        'INTERNAL',
        'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
      );
    case 'maintenance':
      return googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
  }
}

interface ParsedRequest {
  raw: Record<string, unknown>;
  wantsImage: boolean;
}

/** Checks a generateContent body as Gemini does (either spelling of inline data); a string is the refusal. */
function parseRequest(body: string): ParsedRequest | string {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return 'Invalid JSON payload received.';
  }
  const contents = raw.contents;
  if (!Array.isArray(contents) || contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
  for (const content of contents as { parts?: unknown }[]) {
    if (!Array.isArray(content?.parts) || content.parts.length === 0) return '* GenerateContentRequest.contents.parts: contents.parts must not be empty.';
    for (const part of content.parts as Record<string, { mime_type?: unknown; mimeType?: unknown; data?: unknown }>[]) {
      const blob = part.inline_data ?? part.inlineData;
      if (!blob) continue;
      const mime = blob.mime_type ?? blob.mimeType;
      if (typeof mime !== 'string' || typeof blob.data !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob.data))
        return 'Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting';
    }
  }
  const config = (raw.generationConfig ?? {}) as { responseModalities?: unknown; imageConfig?: { aspectRatio?: unknown } };
  const ratio = config.imageConfig?.aspectRatio;
  if (ratio !== undefined && !ASPECT_RATIOS.has(String(ratio)))
    return `* GenerateContentRequest.generation_config.image_config.aspect_ratio: unsupported aspect ratio ${String(ratio)}`;
  const modalities = Array.isArray(config.responseModalities) ? config.responseModalities : ['TEXT', 'IMAGE'];
  return { raw, wantsImage: modalities.includes('IMAGE') };
}

const usage = { promptTokenCount: 1290, candidatesTokenCount: 1290, totalTokenCount: 2580 };
const envelope = (task: FakeTask) => ({ usageMetadata: usage, modelVersion: 'gemini-2.5-flash-image', responseId: `resp-${task.id}` });

async function withImage(task: FakeTask, variant: number) {
  const data = (await resultImage()).toString('base64');
  // The REST API answers camelCase; snake_case comes from proto-style proxies. Both are accepted.
  const image = variant === 0 ? { inlineData: { mimeType: 'image/png', data } } : { inline_data: { mime_type: 'image/png', data } };
  return {
    candidates: [{ content: { role: 'model', parts: [{ text: 'Here is the edited image.' }, image] }, finishReason: 'STOP', index: 0 }],
    ...envelope(task),
  };
}

/** A safety block: the prompt refused outright, or the generated image withheld. */
function blocked(task: FakeTask, variant: number) {
  if (variant === 0)
    return {
      promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'HIGH', blocked: true }] },
      ...envelope(task),
    };
  return { candidates: [{ content: { role: 'model' }, finishReason: 'IMAGE_SAFETY', index: 0 }], ...envelope(task) };
}

/** The model gave up without an image: no content at all, or only words. */
function textOnly(task: FakeTask, variant: number) {
  if (variant === 0) return { candidates: [{ finishReason: 'OTHER', index: 0 }], ...envelope(task) };
  return {
    candidates: [{ content: { role: 'model', parts: [{ text: "I'm unable to edit this image as described." }] }, finishReason: 'STOP', index: 0 }],
    ...envelope(task),
  };
}
