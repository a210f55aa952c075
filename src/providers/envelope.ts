// The `{code, msg | message, data}` envelope Kie.ai answers with, and NanoBanana API too (the two
// share their body codes, so NanoBanana's adapter reads its answers with this module). Whether an
// error travels as HTTP 200 with the code in the body or with a matching HTTP status is not
// documented: both are read, the body code first because it says more (455 maintenance, 505).
import { asRecord, kindOfStatus, retryAfterMs, type ProviderResponse } from './http.ts';
import { ProviderError, type ProviderErrorKind } from './types.ts';

export type EnvelopeProvider = 'nanobanana' | 'kie';

/** Body codes whose meaning differs from the HTTP status of the same number (the rest read as HTTP statuses). */
const KIND_OF_BODY_CODE: Readonly<Record<number, ProviderErrorKind>> = {
  // Under maintenance: try again later, or elsewhere.
  455: 'unavailable',
  // "Failed": the provider gave up on the request; another attempt may succeed.
  501: 'generation_failed',
  // The feature or model is switched off on their side: another provider can still do the work.
  505: 'unavailable',
};

/** A code as a number, whether it came as 200 or "200"; undefined when absent or not a number. */
export function numericCode(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

const isSuccessCode = (code: number) => code >= 200 && code < 300;

/** The error an answer carries, or undefined when it is a success envelope. */
export function envelopeError(provider: EnvelopeProvider, response: ProviderResponse): ProviderError | undefined {
  const body = asRecord(response.json);
  const code = numericCode(body.code);
  const httpOk = isSuccessCode(response.status);
  if (httpOk && code !== undefined && isSuccessCode(code)) return undefined;
  if (httpOk && code === undefined) {
    return new ProviderError(provider, 'protocol', `${provider}: unreadable answer (HTTP ${response.status}): ${snippet(response)}`, {
      status: response.status,
    });
  }
  const failing = code !== undefined && !isSuccessCode(code) ? code : response.status;
  const kind = KIND_OF_BODY_CODE[failing] ?? kindOfStatus(failing);
  const detail: ProviderError['detail'] = { status: response.status, code: failing };
  const wait = retryAfterMs(response.headers);
  if (wait !== undefined) detail.retryAfterMs = wait;
  return new ProviderError(provider, kind, `${provider}: ${messageOf(body) ?? snippet(response)} (code ${failing})`, detail);
}

/** The `data` of a success envelope; throws the typed error of any other answer. */
export function readEnvelope(provider: EnvelopeProvider, response: ProviderResponse): unknown {
  const error = envelopeError(provider, response);
  if (error) throw error;
  return asRecord(response.json).data;
}

/** Kie answers `msg` on most routes and `message` on recordInfo; either may be present. */
export function messageOf(body: Record<string, unknown>): string | undefined {
  for (const value of [body.msg, body.message]) if (typeof value === 'string' && value.trim() !== '') return value;
  return undefined;
}

const snippet = (response: ProviderResponse) => response.text.slice(0, 200) || `HTTP ${response.status}`;

/** Words a task failure uses when the safety filter refused it, where no code says so. */
const POLICY_WORDS = /content.?polic|sensitive|nsfw|safety|flagged|prohibited|violat/i;

/**
 * A task that was accepted and then failed. Code 400 is the documented content-policy refusal of
 * NanoBanana's callbacks; the record endpoints carry the same codes in `errorCode` / `failCode`.
 */
export function taskFailure(provider: EnvelopeProvider, code: unknown, message: unknown): ProviderError {
  const text = typeof message === 'string' && message.trim() !== '' ? message : 'the task failed';
  const numeric = numericCode(code);
  const kind: ProviderErrorKind = numeric === 400 || POLICY_WORDS.test(text) ? 'content_policy' : 'generation_failed';
  const detail: ProviderError['detail'] = {};
  if (numeric !== undefined) detail.code = numeric;
  else if (typeof code === 'string' && code !== '') detail.code = code;
  return new ProviderError(provider, kind, `${provider}: ${text}`, detail);
}

/** Lookups of a task the provider does not know: a 404, or Kie's 422 "recordInfo is null". */
export function asLookupError(error: ProviderError): ProviderError {
  const unknownTask = error.detail.code === 404 || (error.detail.code === 422 && /record\s*info is null|not\s*found|not exist/i.test(error.message));
  return unknownTask ? new ProviderError(error.provider, 'not_found', error.message, error.detail) : error;
}

/** The bare number of credits the credit endpoints answer, as an exact integer (whole credits left). */
export function readCredits(provider: EnvelopeProvider, data: unknown): number {
  const value = typeof data === 'string' && data.trim() !== '' ? Number(data) : data;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw protocolError(provider, 'the credit balance is not a number');
  // Fractional credits exist on some models; only whole ones can pay for a generation.
  return Math.floor(value);
}

export const protocolError = (provider: EnvelopeProvider, message: string) => new ProviderError(provider, 'protocol', `${provider}: ${message}`);

/** Absolute http(s) URLs out of a string or a list of strings. */
export function urlsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((item): item is string => typeof item === 'string' && /^https?:\/\//i.test(item.trim())).map((url) => url.trim());
}

/** A task id as the provider gave it (a string, or a number some clients see). */
export function taskIdOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
