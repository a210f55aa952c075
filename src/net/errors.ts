// What can go wrong when the server fetches a URL someone else chose, as types callers can branch on:
// refused before anything was sent (the destination is off limits), or failed while fetching.

export type UrlRefusedReason = 'invalid_url' | 'scheme' | 'credentials' | 'reserved_address' | 'unresolvable';

/** The URL points somewhere a server-side fetch must not go; nothing was sent to it. */
export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError';
  readonly reason: UrlRefusedReason;
  readonly url: string;
  constructor(input: { reason: UrlRefusedReason; url: string; message: string }) {
    super(input.message);
    this.reason = input.reason;
    this.url = input.url;
  }
}

export type UrlFetchFailure = 'too_large' | 'timeout' | 'http_status' | 'too_many_redirects' | 'network' | 'aborted';

export class UrlFetchError extends Error {
  override name = 'UrlFetchError';
  readonly reason: UrlFetchFailure;
  readonly url: string;
  /** The HTTP status, for reason 'http_status'. */
  readonly status: number | undefined;
  constructor(input: { reason: UrlFetchFailure; url: string; message: string; status?: number }) {
    super(input.message);
    this.reason = input.reason;
    this.url = input.url;
    this.status = input.status;
  }
}
