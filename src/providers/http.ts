// The HTTP call every adapter makes: a time limit, network failures and timeouts turned into typed
// ProviderErrors, the body read as JSON when it is JSON. Mapping statuses and body codes to error kinds
// is each adapter's job (every provider spells them differently).
import { ProviderError, type HttpProviderOptions, type ProviderName } from './types.ts';

export interface ProviderResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  json: unknown;
  text: string;
}

export interface ProviderRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** A path under the adapter's base URL, or an absolute URL the provider gave us. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  signal?: AbortSignal;
}

export async function callProvider(provider: ProviderName, options: HttpProviderOptions, request: ProviderRequest): Promise<ProviderResponse> {
  const url = /^https?:\/\//.test(request.url) ? request.url : `${options.baseUrl.replace(/\/+$/, '')}${request.url}`;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: request.method ?? (request.body === undefined ? 'GET' : 'POST'),
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal,
    });
    text = await response.text();
  } catch (error) {
    if (timeout.aborted) throw new ProviderError(provider, 'timeout', `${provider} did not answer within ${options.timeoutMs} ms`);
    if (request.signal?.aborted) throw error;
    throw new ProviderError(provider, 'unavailable', `${provider} could not be reached: ${(error as Error).message}`);
  }
  let json: unknown;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The usual mapping of an HTTP status with no better information in the body. */
export function kindOfStatus(status: number): ProviderError['kind'] {
  if (status === 400 || status === 422) return 'bad_input';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 402) return 'insufficient_balance';
  if (status === 404) return 'not_found';
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429) return 'rate_limited';
  return 'unavailable';
}

/** A plain object, for reading untyped JSON without `any`. */
export const asRecord = (value: unknown): Record<string, unknown> =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** A decimal USD amount as integer micro-USD (amounts carry at most 6 decimals, so rounding is exact). */
export function usdToMicro(value: unknown): number | undefined {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? Math.round(number * 1_000_000) : undefined;
}
