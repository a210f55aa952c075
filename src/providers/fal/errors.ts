// fal's error bodies as typed ProviderErrors. fal answers in two shapes: model errors
// `{detail: [{loc, msg, type}]}` (typed, e.g. `content_policy_violation`) and platform errors
// `{detail: "…", error_type?}`. A request refused before it ran says so by HTTP status; a request
// that ran and failed is the task failing, told apart by the caller (see `taskFailure`).
import { asRecord, kindOfStatus, retryAfterMs, type ProviderResponse } from '../http.ts';
import { ProviderError, type ProviderErrorKind } from '../types.ts';

/** The model-error type fal gives a prompt or image its safety checker refused. */
const CONTENT_POLICY_TYPE = 'content_policy_violation';
/** fal's 403 for an account out of money: "User is locked. Reason: Exhausted balance. …". */
const EXHAUSTED_BALANCE = /exhausted balance|user is locked|insufficient (balance|credit|fund)/i;

interface FalErrorBody {
  message: string;
  types: string[];
  errorType?: string;
}

/** Reads either error shape; `detail` items without a `msg` still count by their `type`. */
export function readErrorBody(body: unknown): FalErrorBody {
  const record = asRecord(body);
  const detail = record.detail;
  const items = Array.isArray(detail) ? detail.map(asRecord) : [];
  const messages = items.map((item) => (typeof item.msg === 'string' ? item.msg : '')).filter(Boolean);
  const message = typeof detail === 'string' ? detail : messages.join('; ') || (typeof record.error === 'string' ? record.error : '');
  return {
    message,
    types: items.map((item) => (typeof item.type === 'string' ? item.type : '')).filter(Boolean),
    errorType: typeof record.error_type === 'string' ? record.error_type : undefined,
  };
}

/** A refused request (submit, status, balance): the HTTP status says whose fault it is. */
export function falError(response: ProviderResponse): ProviderError {
  const body = readErrorBody(response.json);
  const message = body.message || response.text.slice(0, 200) || `HTTP ${response.status}`;
  let kind: ProviderErrorKind = kindOfStatus(response.status);
  if (response.status === 403 && EXHAUSTED_BALANCE.test(message)) kind = 'insufficient_balance';
  if (kind === 'bad_input' && body.types.includes(CONTENT_POLICY_TYPE)) kind = 'content_policy';
  const detail: ProviderError['detail'] = {
    status: response.status,
    code: body.errorType ?? body.types[0] ?? response.headers.get('x-fal-error-type') ?? undefined,
  };
  if (kind === 'rate_limited') detail.retryAfterMs = retryAfterMs(response.headers);
  return new ProviderError('fal', kind, `fal: ${message}`, detail);
}

/**
 * Why a request that fal ran ended in failure, from the error it stored (the result endpoint's answer,
 * or a webhook's `payload`). A safety refusal and invalid input fail the same way anywhere; anything
 * else (runner crash, timeout, model error) is the generation failing and worth another try.
 */
export function taskFailure(body: unknown, status?: number): ProviderError {
  const read = readErrorBody(body);
  let kind: ProviderErrorKind = 'generation_failed';
  if (read.types.includes(CONTENT_POLICY_TYPE)) kind = 'content_policy';
  else if (status !== undefined ? status >= 400 && status < 500 : read.types.length > 0 && !read.errorType) kind = 'bad_input';
  return new ProviderError('fal', kind, `fal: ${read.message || 'the request failed'}`, { status, code: read.errorType ?? read.types[0] });
}

export const protocolError = (message: string, status?: number) => new ProviderError('fal', 'protocol', `fal: ${message}`, { status });
