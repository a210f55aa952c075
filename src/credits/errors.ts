// Every refusal the credits domain makes, each with its code; the HTTP layer maps codes to statuses in
// one exhaustive table (src/http/errors.ts), so a new code cannot silently become a 400.

/** The answer to a sale the pool cannot back (the compatibility routes promise this exact text). */
export const SALE_BLOCKED_MESSAGE = 'Service temporarily unavailable';
/** The label of a package that cannot be sold now, shown beside it in the package list. */
export const PACKAGE_UNAVAILABLE_LABEL = 'Temporarily unavailable';

export type CreditsErrorCode =
  'unknown_package' | 'unknown_provider' | 'unknown_tier' | 'sale_blocked' | 'amount_too_large' | 'not_found' | 'drift_exceeds_available' | 'no_balance_source';

export class CreditsError extends Error {
  override name = 'CreditsError';
  constructor(
    readonly code: CreditsErrorCode,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The user cannot pay for the work (402); a free user is told to upgrade as well as to buy. */
export class InsufficientCreditsError extends Error {
  override name = 'InsufficientCreditsError';
  constructor(
    message: string,
    readonly detail: { needed: number; available: number; tier: string; upgrade: boolean },
  ) {
    super(message);
  }
}

export type RefillDecisionErrorCode = 'not_found' | 'not_open';

/** A refill request that does not exist, or was already decided. */
export class RefillDecisionError extends Error {
  override name = 'RefillDecisionError';
  constructor(
    readonly code: RefillDecisionErrorCode,
    message: string,
  ) {
    super(message);
  }
}
