// The typed API client: paths and bodies come from the app's own OpenAPI document (schema.d.ts, made
// by web/scripts/openapi.ts at build time), so a route that changes shape breaks the web's typecheck.
// Credentials: a bearer token when the page has one (admin API key, user JWT), otherwise the browser
// sends the host app's session cookie by itself (same origin). Tokens are never logged.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';
import type { FuturePaths } from './future';

/** An API answer that is not a success, as its problem+json says. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(detail);
  }

  /** The server has no such route (an older server, or a feature not yet installed). */
  get routeMissing(): boolean {
    return this.status === 404 && this.detail.startsWith('no route for');
  }
}

export function createApi(token: () => string | null) {
  const auth: Middleware = {
    onRequest({ request }) {
      const value = token();
      if (value) request.headers.set('authorization', `Bearer ${value}`);
      return request;
    },
  };
  const baseUrl = window.location.origin;
  const api = createClient<paths>({ baseUrl, credentials: 'same-origin' });
  api.use(auth);
  const future = createClient<FuturePaths>({ baseUrl, credentials: 'same-origin' });
  future.use(auth);
  return { api, future };
}

export type Api = ReturnType<typeof createApi>;

/** The data of a successful answer, or an ApiProblem. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch {
    throw new ApiProblem(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  if (result.response.ok) return result.data as T;
  const body = (result.error ?? {}) as { code?: string; detail?: string; title?: string; errors?: { path: string; message: string }[] };
  throw new ApiProblem(result.response.status, body.code ?? 'error', body.detail ?? body.title ?? `HTTP ${result.response.status}`, body.errors ?? []);
}

export type Schemas = import('./schema').components['schemas'];
