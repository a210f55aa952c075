// Server-side fetching of URLs that someone else chose: input images from users, results from providers,
// webhooks to users (docs/rules.md §5 and §8). The address is checked inside the socket's own DNS lookup, so the
// address checked is the address connected to, and a DNS answer that changes between a check and the
// connection (rebinding) cannot slip past. Literal IPs are checked before connecting, since Node skips the
// lookup for them. Redirects are followed by hand so every hop goes through the same checks.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { UrlAllowlist } from './allowlist.ts';
import { UrlFetchError, UrlRefusedError } from './errors.ts';
import { checkTarget, checkedLookup, systemLookup, type HostLookup } from './target.ts';

export { allowlistFromText, EMPTY_ALLOWLIST, InvalidAllowlistEntryError, parseAllowlist, type UrlAllowlist } from './allowlist.ts';
export { UrlFetchError, UrlRefusedError, type UrlFetchFailure, type UrlRefusedReason } from './errors.ts';
export { checkPublicUrl, type HostLookup, type ResolvedAddress } from './target.ts';

export interface SafeFetchOptions {
  allowlist: UrlAllowlist;
  /** Of the response body; more fails the fetch. */
  maxBytes: number;
  /** For the whole fetch, redirects included. */
  timeoutMs: number;
  maxRedirects?: number;
  accept?: string;
  lookup?: HostLookup;
  signal?: AbortSignal;
  method?: 'GET' | 'POST';
  body?: string | Buffer;
  /** Sent to the first origin only: a redirect elsewhere must not carry a signature or a token along. */
  headers?: Record<string, string>;
  /** Return any final status (and a redirect past maxRedirects) instead of failing on it. */
  acceptAnyStatus?: boolean;
}

export interface SafeFetchResult {
  status: number;
  data: Buffer;
  contentType: string | undefined;
  finalUrl: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

interface Hop {
  target: URL;
  method: 'GET' | 'POST';
  body: string | Buffer | undefined;
  headers: Record<string, string>;
}

export async function safeFetch(url: string, options: SafeFetchOptions): Promise<SafeFetchResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const maxRedirects = options.maxRedirects ?? 3;
  const first = checkTarget(url, options.allowlist);
  let hop: Hop = { target: first, method: options.method ?? 'GET', body: options.body, headers: options.headers ?? {} };
  for (let redirects = 0; ; redirects++) {
    const { location, ...response } = await fetchOnce({ hop, options, signal, timedOut: () => deadline.aborted });
    const result: SafeFetchResult = { ...response, finalUrl: hop.target.href };
    if (location === undefined) return result;
    if (redirects >= maxRedirects) {
      if (options.acceptAnyStatus) return result;
      throw new UrlFetchError({ reason: 'too_many_redirects', url, message: `${url} redirected more than ${maxRedirects} times` });
    }
    const target = checkTarget(location, options.allowlist, hop.target);
    // 307 and 308 repeat the request as it was; the others turn it into a GET, as browsers do.
    const keep = response.status === 307 || response.status === 308;
    hop = {
      target,
      method: keep ? hop.method : 'GET',
      body: keep ? hop.body : undefined,
      headers: target.origin === first.origin ? hop.headers : {},
    };
  }
}

interface HopResponse {
  status: number;
  data: Buffer;
  contentType: string | undefined;
  /** Set when the response is a redirect to follow. */
  location?: string;
}

function fetchOnce(input: { hop: Hop; options: SafeFetchOptions; signal: AbortSignal; timedOut: () => boolean }): Promise<HopResponse> {
  const { hop, options, signal } = input;
  const url = hop.target.href;
  return new Promise<HopResponse>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (error: Error) =>
      settle(() => {
        request.destroy();
        reject(error);
      });
    const onAbort = () =>
      input.timedOut()
        ? fail(new UrlFetchError({ reason: 'timeout', url, message: `${url} did not finish within ${options.timeoutMs} ms` }))
        : fail(new UrlFetchError({ reason: 'aborted', url, message: `fetching ${url} was cancelled` }));

    const headers: Record<string, string> = { accept: options.accept ?? '*/*', 'user-agent': 'Tally', ...hop.headers, 'accept-encoding': 'identity' };
    if (hop.body !== undefined) headers['content-length'] = String(Buffer.byteLength(hop.body));
    const send = hop.target.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(hop.target, {
      method: hop.method,
      headers,
      agent: false, // a pooled socket could have been opened under another caller's allowlist
      lookup: checkedLookup({ url, allowlist: options.allowlist, lookup: options.lookup ?? systemLookup }),
    });
    request.on('error', (error) => {
      // A refusal from the lookup arrives here as the request's error, and stays what it is.
      if (error instanceof UrlRefusedError) return fail(error);
      fail(new UrlFetchError({ reason: 'network', url, message: `${url} could not be fetched: ${error.message}` }));
    });
    request.on('response', (response) => readResponse({ response, url, options, resolve: (result) => settle(() => resolve(result)), fail }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    request.end(hop.body);
  });
}

function readResponse(input: {
  response: IncomingMessage;
  url: string;
  options: SafeFetchOptions;
  resolve: (result: HopResponse) => void;
  fail: (error: Error) => void;
}) {
  const { response, url, options, resolve, fail } = input;
  const status = response.statusCode ?? 0;
  const contentType = response.headers['content-type'];
  const location = response.headers.location;
  if (REDIRECT_STATUSES.has(status) && location) {
    response.resume();
    return resolve({ status, data: Buffer.alloc(0), contentType, location });
  }
  if ((status < 200 || status > 299) && !options.acceptAnyStatus) {
    return fail(new UrlFetchError({ reason: 'http_status', url, status, message: `${url} answered HTTP ${status}` }));
  }
  const tooLarge = () => new UrlFetchError({ reason: 'too_large', url, message: `${url} is larger than ${options.maxBytes} bytes` });
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > options.maxBytes) return fail(tooLarge());
  const chunks: Buffer[] = [];
  let received = 0;
  response.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > options.maxBytes) return fail(tooLarge());
    chunks.push(chunk);
  });
  // 'close' without a complete body (the server hung up) fails; after 'end' it finds the fetch settled.
  response.on('end', () => {
    if (response.complete) resolve({ status, data: Buffer.concat(chunks), contentType });
  });
  response.on('close', () => fail(new UrlFetchError({ reason: 'network', url, message: `${url} closed the connection mid-body` })));
  response.on('error', (error) => fail(new UrlFetchError({ reason: 'network', url, message: `${url} could not be read: ${error.message}` })));
}
