// Gemini's error envelope, `{error: {code, message, status, details}}` (google.rpc.Status), as typed
// ProviderErrors. The canonical `status` name says more than the HTTP status (a bad key and a bad
// image are both HTTP 400 INVALID_ARGUMENT; only the ErrorInfo reason tells them apart), so it is read
// first and the HTTP status is the fallback.
import { asRecord, kindOfStatus, retryAfterMs, type ProviderResponse } from '../http.ts';
import { ProviderError, type ProviderErrorKind } from '../types.ts';

const KIND_OF_CANONICAL_STATUS: Record<string, ProviderErrorKind> = {
  INVALID_ARGUMENT: 'bad_input',
  OUT_OF_RANGE: 'bad_input',
  // e.g. "free tier is not available in your country, enable billing": our account, not the request.
  FAILED_PRECONDITION: 'unauthorized',
  UNAUTHENTICATED: 'unauthorized',
  PERMISSION_DENIED: 'unauthorized',
  NOT_FOUND: 'not_found',
  RESOURCE_EXHAUSTED: 'rate_limited',
  DEADLINE_EXCEEDED: 'timeout',
  INTERNAL: 'unavailable',
  UNAVAILABLE: 'unavailable',
  UNKNOWN: 'unavailable',
  CANCELLED: 'unavailable',
  ABORTED: 'unavailable',
};

/** ErrorInfo reasons meaning the key itself was refused, whatever the canonical status says. */
const KEY_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED', 'API_KEY_SERVICE_BLOCKED', 'API_KEY_HTTP_REFERRER_BLOCKED', 'API_KEY_IP_ADDRESS_BLOCKED']);

const typeOf = (detail: Record<string, unknown>) => String(detail['@type'] ?? '');

/** The typed error for a non-2xx answer (or a 2xx one that carries an `error` object anyway). */
export function geminiError(response: ProviderResponse): ProviderError {
  const error = asRecord(asRecord(response.json).error);
  const details = Array.isArray(error.details) ? error.details.map(asRecord) : [];
  const canonical = typeof error.status === 'string' ? error.status : undefined;
  const message = typeof error.message === 'string' ? error.message : response.text.slice(0, 200) || `HTTP ${response.status}`;
  const reasons = details.filter((d) => typeOf(d).endsWith('google.rpc.ErrorInfo')).map((d) => String(d.reason ?? ''));

  let kind: ProviderErrorKind = (canonical && KIND_OF_CANONICAL_STATUS[canonical]) || kindOfStatus(response.status);
  if (reasons.some((reason) => KEY_REASONS.has(reason))) kind = 'unauthorized';
  const detail: ProviderError['detail'] = { status: response.status, code: canonical ?? (typeof error.code === 'number' ? error.code : undefined) };
  if (kind === 'rate_limited') detail.retryAfterMs = retryDelayMs(details) ?? retryAfterMs(response.headers);
  return new ProviderError('gemini', kind, `gemini: ${message}`, detail);
}

/** RetryInfo's `retryDelay`, a protobuf Duration: JSON "7s" / "1.5s", or `{seconds, nanos}`. */
function retryDelayMs(details: Record<string, unknown>[]): number | undefined {
  const retryInfo = details.find((d) => typeOf(d).endsWith('google.rpc.RetryInfo'));
  const delay = retryInfo?.retryDelay;
  if (typeof delay === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(delay);
    return match ? Math.round(Number(match[1]) * 1000) : undefined;
  }
  const duration = asRecord(delay);
  if (duration.seconds === undefined && duration.nanos === undefined) return undefined;
  const ms = Number(duration.seconds ?? 0) * 1000 + Number(duration.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : undefined;
}
