// One closed set of error codes, mapped to HTTP status in one place, answered as problem+json.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { CreditsError, InsufficientCreditsError, RefillDecisionError, type CreditsErrorCode, type RefillDecisionErrorCode } from '../credits/errors.ts';
import { ControlsError, type ControlsErrorCode } from '../controls/index.ts';
import { CredentialsError } from '../credentials/index.ts';
import { GenerationError, type GenerationErrorCode } from '../generations/errors.ts';
import { isLedgerError, type LedgerErrorCode } from '../ledger/index.ts';
import { PaymentsError, type PaymentsErrorCode } from '../payments/errors.ts';
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
  payments_not_configured: 503,
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
  payments_not_configured: 'Payments not configured',
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

// Each domain's codes mapped to an API code, as exhaustive tables: a new domain code fails the typecheck
// here until someone decides its status, instead of silently becoming a 400.
const ledgerCodes: Record<LedgerErrorCode, ErrorCode> = {
  insufficient_funds: 'insufficient_credits',
  idempotency_conflict: 'idempotency_conflict',
  account_not_found: 'not_found',
  hold_not_found: 'not_found',
  hold_not_pending: 'conflict',
  hold_expired: 'conflict',
  hold_not_expired: 'conflict',
  account_conflict: 'conflict',
  asset_mismatch: 'validation_failed',
  same_account: 'validation_failed',
  invalid_amount: 'validation_failed',
  invalid_operation: 'validation_failed',
};

const creditsCodes: Record<CreditsErrorCode, ErrorCode> = {
  unknown_package: 'validation_failed',
  unknown_provider: 'validation_failed',
  unknown_tier: 'validation_failed',
  amount_too_large: 'validation_failed',
  sale_blocked: 'sale_blocked',
  not_found: 'not_found',
  drift_exceeds_available: 'conflict',
  no_balance_source: 'unavailable',
};

const refillDecisionCodes: Record<RefillDecisionErrorCode, ErrorCode> = {
  not_found: 'not_found',
  not_open: 'conflict',
};

const generationCodes: Record<GenerationErrorCode, ErrorCode> = {
  unknown_model: 'not_found',
  not_found: 'not_found',
  bad_input: 'validation_failed',
  bad_callback: 'unauthorized',
};

const paymentsCodes: Record<PaymentsErrorCode, ErrorCode> = {
  payments_not_configured: 'payments_not_configured',
  idempotency_conflict: 'idempotency_conflict',
  request_in_progress: 'conflict',
  payment_provider_failed: 'bad_gateway',
  invalid_signature: 'validation_failed',
  not_found: 'not_found',
  no_plan_for_tier: 'validation_failed',
};

const controlsCodes: Record<ControlsErrorCode, ErrorCode> = {
  paused: 'unavailable',
  not_found: 'not_found',
  already_resumed: 'conflict',
  invalid: 'validation_failed',
};

/** A pause answers 503 with the message users may see, and says what is paused (never the operator's reason). */
function fromControls(error: ControlsError): ApiError {
  if (error.code === 'paused')
    return new ApiError('unavailable', error.message, {
      retryAfterSeconds: 60,
      extra: { paused: { scope: error.detail.scope, automatic: error.detail.automatic ?? false } },
    });
  return fromDomain(controlsCodes[error.code], error.message, error.detail.field);
}

/** Payment refusals about a header name it (`header.stripe-signature`); others as any domain's. */
function fromPayments(error: PaymentsError): ApiError {
  const header = (
    { idempotency_conflict: 'header.idempotency-key', invalid_signature: 'header.stripe-signature' } as Partial<Record<PaymentsErrorCode, string>>
  )[error.code];
  if (header) return new ApiError(paymentsCodes[error.code], error.message, { errors: [{ path: header, message: error.message }] });
  return fromDomain(paymentsCodes[error.code], error.message, error.field);
}

/** A domain refusal as an API error; a field it names is reported under `body.<field>`. */
function fromDomain(code: ErrorCode, message: string, field: unknown): ApiError {
  const errors = typeof field === 'string' && code === 'validation_failed' ? [{ path: `body.${field}`, message }] : undefined;
  return new ApiError(code, message, { errors });
}

/** How long a client is told to wait while the database is away (a restart or failover takes seconds). */
const DATABASE_RETRY_SECONDS = 5;

export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (isDatabaseUnavailable(error)) {
    return new ApiError('unavailable', 'The database is unavailable for a moment (restarting or failing over); retry shortly.', {
      retryAfterSeconds: DATABASE_RETRY_SECONDS,
    });
  }
  if (error instanceof CreditsError) return fromDomain(creditsCodes[error.code], error.message, error.field);
  if (error instanceof InsufficientCreditsError)
    return new ApiError('insufficient_credits', error.message, {
      extra: { needed: error.detail.needed, available: error.detail.available, upgrade: error.detail.upgrade },
    });
  if (error instanceof GenerationError) return fromDomain(generationCodes[error.code], error.message, error.field);
  if (error instanceof PaymentsError) return fromPayments(error);
  if (error instanceof ControlsError) return fromControls(error);
  if (error instanceof CredentialsError) return new ApiError(error.code === 'not_found' ? 'not_found' : 'unavailable', error.message);
  if (error instanceof RefillDecisionError) return fromDomain(refillDecisionCodes[error.code], error.message, undefined);
  if (isLedgerError(error)) return fromDomain(ledgerCodes[error.code], error.message, error.detail.field);
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
  // Compatibility routes (docs/compatibility.md) also carry a human-readable `error`.
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
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (shutting down|starting up|in recovery mode)/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable); // connect tried every address
  return UNAVAILABLE_MESSAGES.test(error.message);
}
