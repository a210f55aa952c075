export const SALE_BLOCKED_MESSAGE = 'Temporarily unavailable';

export type CreditsErrorCode =
  | 'unknown_package'
  | 'unknown_provider'
  | 'unknown_tier'
  | 'sale_blocked'
  | 'amount_too_large'
  | 'not_found'
  | 'drift_exceeds_available'
  | 'no_balance_source';

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
