// One closed set of error codes, mapped to HTTP status in one place, answered as problem+json.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { InsufficientCreditsError } from '../credits/charges.ts';
import { RefillDecisionError } from '../credits/refills.ts';
import { CreditsError } from '../credits/index.ts';
import { GenerationError } from '../generations/errors.ts';
import { isLedgerError, type LedgerError } from '../ledger/index.ts';
import type { AppEnv } from './context.ts';

export const errorStatus = {
  malformed_json: 400,
  validation_failed: 400,
  unauthorized: 401,
  insufficient_credits: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  idempotency_conflict: 409,
  sale_blocked: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
  gateway_timeout: 504,
} as const;

export type ErrorCode = keyof typeof errorStatus;

const titles: Record<ErrorCode, string> = {
  malformed_json: 'Malformed JSON',
  validation_failed: 'Invalid request',
  unauthorized: 'Unauthorized',
  insufficient_credits: 'Insufficient credits',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  idempotency_conflict: 'Idempotency key reused',
  sale_blocked: 'Sale blocked',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  internal: 'Internal error',
  bad_gateway: 'Provider failed',
  unavailable: 'Service unavailable',
  gateway_timeout: 'Not finished in time',
};

export interface FieldError {
  /** Where the bad value is: `body.amount`, `query.limit`, `path.accountId`, `header.x-tally-user`. */
  path: string;
  message: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly options: { errors?: FieldError[]; retryAfterSeconds?: number; extra?: Record<string, unknown> } = {},
  ) {
    super(detail);
  }
}

export function validationError(error: ZodError, target: string): ApiError {
  const errors = error.issues.map((issue) => ({ path: [target, ...issue.path.map(String)].join('.'), message: issue.message }));
  return new ApiError('validation_failed', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
}

/** Ledger refusals a client can cause, as API errors. Anything else stays a 500. */
function fromLedgerError(error: LedgerError): ApiError {
  const field = typeof error.detail.field === 'string' ? [{ path: `body.${error.detail.field}`, message: error.message }] : undefined;
  switch (error.code) {
    case 'insufficient_funds':
      return new ApiError('insufficient_credits', error.message);
    case 'idempotency_conflict':
      return new ApiError('idempotency_conflict', error.message);
    case 'account_not_found':
    case 'hold_not_found':
      return new ApiError('not_found', error.message);
    case 'hold_not_pending':
    case 'hold_expired':
    case 'hold_not_expired':
    case 'account_conflict':
      return new ApiError('conflict', error.message);
    default:
      return new ApiError('validation_failed', error.message, { errors: field });
  }
}

function fromCreditsError(error: CreditsError): ApiError {
  // API.md: a blocked sale answers exactly "Service temporarily unavailable".
  if (error.code === 'sale_blocked') return new ApiError('sale_blocked', 'Service temporarily unavailable');
  if (error.code === 'not_found') return new ApiError('not_found', error.message);
  if (error.code === 'drift_exceeds_available') return new ApiError('conflict', error.message);
  if (error.code === 'no_balance_source') return new ApiError('unavailable', error.message);
  return new ApiError('validation_failed', error.message, { errors: error.field ? [{ path: `body.${error.field}`, message: error.message }] : undefined });
}

function fromGenerationError(error: GenerationError): ApiError {
  const errors = error.field ? [{ path: `body.${error.field}`, message: error.message }] : undefined;
  if (error.code === 'unknown_model' || error.code === 'not_found') return new ApiError('not_found', error.message);
  if (error.code === 'bad_callback') return new ApiError('unauthorized', error.message);
  return new ApiError('validation_failed', error.message, { errors });
}

/** How long a client is told to wait while the database is away (a restart or failover takes seconds). */
const DATABASE_RETRY_SECONDS = 5;

export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (isDatabaseUnavailable(error)) {
    return new ApiError('unavailable', 'The database is unavailable for a moment (restarting or failing over); retry shortly.', { retryAfterSeconds: DATABASE_RETRY_SECONDS });
  }
  if (error instanceof CreditsError) return fromCreditsError(error);
  if (error instanceof InsufficientCreditsError) return new ApiError('insufficient_credits', error.message, { extra: { needed: error.detail.needed, available: error.detail.available, upgrade: error.detail.upgrade } });
  if (error instanceof GenerationError) return fromGenerationError(error);
  if (error instanceof RefillDecisionError) return new ApiError(error.code === 'not_found' ? 'not_found' : 'conflict', error.message);
  if (isLedgerError(error)) return fromLedgerError(error);
  if (error instanceof HTTPException) {
    if (error.status === 413) return new ApiError('payload_too_large', error.message || 'the request body is too large');
    if (error.status === 400 && /json/i.test(error.message)) return new ApiError('malformed_json', 'the request body is not valid JSON');
    if (error.status === 401) return new ApiError('unauthorized', error.message || 'authentication required');
    if (error.status < 500) return new ApiError('validation_failed', error.message || 'bad request');
  }
  return undefined;
}

export function problemResponse(c: Context<AppEnv>, error: ApiError): Response {
  const status = errorStatus[error.code];
  const body: Record<string, unknown> = {
    type: `urn:tally:error:${error.code}`,
    title: titles[error.code],
    status,
    detail: error.detail,
    code: error.code,
    requestId: c.get('requestId'),
  };
  if (error.options.errors?.length) body.errors = error.options.errors;
  Object.assign(body, error.options.extra);
  // Compatibility routes (API.md) also carry a human-readable `error`.
  if (c.req.path.startsWith('/api/')) body.error = error.detail;
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (error.options.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.options.retryAfterSeconds);
  if (error.code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
  return c.body(JSON.stringify(body), status, headers);
}

/** The app's one error handler: known errors become problem+json; anything else is a generic 500. */
export function handleError(error: unknown, c: Context<AppEnv>): Response {
  const known = toApiError(error);
  if (known) return problemResponse(c, known);
  c.get('log')?.error({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
  return problemResponse(c, new ApiError('internal', `Something went wrong on our side. Quote request id ${c.get('requestId')} when reporting it.`));
}

/** SQLSTATEs and socket errors that mean "the database is not there right now", not a bug. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (shutting down|starting up|in recovery mode)/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable); // connect tried every address
  return UNAVAILABLE_MESSAGES.test(error.message);
}
