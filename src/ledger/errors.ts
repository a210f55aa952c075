// Typed ledger errors. A refusal decided against the ledger's state is stored under the operation's key,
// so a replay gets the same error again. Malformed operations (refused by validateOperation before any
// state is read) and `idempotency_conflict` are not stored.
export const ledgerErrorCodes = [
  'insufficient_funds',
  'account_not_found',
  'account_conflict',
  'asset_mismatch',
  'same_account',
  'hold_not_found',
  'hold_not_pending',
  'hold_expired',
  'hold_not_expired',
  'invalid_amount',
  'invalid_operation',
  'idempotency_conflict',
] as const;

export type LedgerErrorCode = (typeof ledgerErrorCodes)[number];

export class LedgerError extends Error {
  override name = 'LedgerError';
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
    /** True when this error was stored by an earlier call with the same key. */
    readonly replayed = false,
  ) {
    super(message);
  }

  toJSON() {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

/** A debit would take a never-negative account below zero. */
export class InsufficientFundsError extends LedgerError {
  override name = 'InsufficientFundsError';
}

export function ledgerError(code: LedgerErrorCode, message: string, detail: Record<string, unknown> = {}, replayed = false): LedgerError {
  return code === 'insufficient_funds' ? new InsufficientFundsError(code, message, detail, replayed) : new LedgerError(code, message, detail, replayed);
}

export function isLedgerError(error: unknown, code?: LedgerErrorCode): error is LedgerError {
  return error instanceof LedgerError && (code === undefined || error.code === code);
}
