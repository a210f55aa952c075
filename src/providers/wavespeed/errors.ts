// WaveSpeed's envelope `{code, message, data}` read into data or a typed ProviderError. The code may
// come in the HTTP status, in the body's `code` under HTTP 200, or both: whichever is not 200 wins.
// A prediction that ran and failed is still `code: 200`; its `error` text is all there is to classify.
import { asRecord, kindOfStatus, retryAfterMs, type ProviderResponse } from '../http.ts';
import { ProviderError, type ProviderErrorKind, type ProviderOutput, type TaskStatus } from '../types.ts';

const OUT_OF_BALANCE =
  /insufficient (account )?(balance|credit|fund)|balance (is )?(not enough|insufficient|too low)|not enough (balance|credit)|top.?up|recharge/i;
const REFUSED_CONTENT = /sensitive|nsfw|content (policy|moderation|filter|check|safety)|safety (check|filter|system)|flagged|prohibited|inappropriate/i;

export const protocolError = (message: string, status?: number) => new ProviderError('wavespeed', 'protocol', `wavespeed: ${message}`, { status });

/** The body's code as a number, if it has one (some gateways send it as a string). */
function bodyCode(body: Record<string, unknown>): number | undefined {
  const code = typeof body.code === 'string' ? Number(body.code) : body.code;
  return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
}

const messageOf = (body: Record<string, unknown>, response: ProviderResponse) =>
  [body.message, body.msg, body.error].find((value): value is string => typeof value === 'string' && value.length > 0) ??
  (response.text.slice(0, 200) || `HTTP ${response.status}`);

export function wavespeedError(response: ProviderResponse): ProviderError {
  const body = asRecord(response.json);
  const inBody = bodyCode(body);
  const code = inBody !== undefined && inBody !== 200 ? inBody : response.status;
  const message = messageOf(body, response);
  let kind: ProviderErrorKind = kindOfStatus(code);
  if (OUT_OF_BALANCE.test(message)) kind = 'insufficient_balance';
  else if (kind === 'bad_input' && REFUSED_CONTENT.test(message)) kind = 'content_policy';
  const detail: ProviderError['detail'] = { status: response.status, code };
  if (kind === 'rate_limited') detail.retryAfterMs = retryAfterMs(response.headers);
  return new ProviderError('wavespeed', kind, `wavespeed: ${message}`, detail);
}

/** The envelope's `data`, or the error it carries. */
export function envelopeData(response: ProviderResponse): Record<string, unknown> {
  const body = asRecord(response.json);
  const code = bodyCode(body);
  if (response.status < 200 || response.status >= 300 || (code !== undefined && code !== 200)) throw wavespeedError(response);
  const data = body.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw protocolError('the answer has no data object', response.status);
  return data as Record<string, unknown>;
}

/** A prediction (`data` of the result endpoint, or a webhook's body) as a task status. */
export function predictionStatus(prediction: Record<string, unknown>): TaskStatus {
  switch (prediction.status) {
    case 'created':
    case 'processing':
      return { state: 'pending' };
    case 'completed':
      return { state: 'completed', outputs: outputsOf(prediction.outputs) };
    // cancelled and timeout end a prediction too: failures, as WaveSpeed's own SDK treats them.
    case 'failed':
    case 'cancelled':
    case 'timeout': {
      const message =
        typeof prediction.error === 'string' && prediction.error
          ? prediction.error
          : `the prediction ${prediction.status === 'failed' ? 'failed' : `ended ${prediction.status}`}`;
      const kind: ProviderErrorKind = REFUSED_CONTENT.test(message) ? 'content_policy' : 'generation_failed';
      return { state: 'failed', error: new ProviderError('wavespeed', kind, `wavespeed: ${message}`) };
    }
    default:
      throw protocolError(`unknown prediction status ${JSON.stringify(prediction.status)}`);
  }
}

/** `outputs: [url]`; a lone URL string is taken too. A completed prediction with none is unreadable. */
function outputsOf(outputs: unknown): ProviderOutput[] {
  const list = Array.isArray(outputs) ? outputs : [outputs];
  const urls = list.filter((url): url is string => typeof url === 'string' && /^https?:\/\//.test(url));
  if (urls.length === 0) throw protocolError('the completed prediction has no output URL');
  return urls.map((url) => ({ url }));
}
