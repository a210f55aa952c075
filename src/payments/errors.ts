export type PaymentsErrorCode =
  | 'payments_not_configured'
  | 'idempotency_conflict'
  | 'request_in_progress'
  | 'payment_provider_failed'
  | 'invalid_signature'
  | 'not_found'
  | 'no_plan_for_tier';

export class PaymentsError extends Error {
  override name = 'PaymentsError';
  constructor(
    readonly code: PaymentsErrorCode,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export const NOT_CONFIGURED_MESSAGE =
  'Purchases are not available: no payment provider is configured. The operator sets STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (or, outside production, TALLY_DEV_PURCHASES=true for free development purchases).';
