export type AccountId = string;

export interface Account {
  id: AccountId;
  asset: string;
  kind: string;
  ownerId: string | null;
  neverNegative: boolean;
  /** Spendable: posted credits - posted debits - pending debits. */
  balance: number;
  metadata: Record<string, unknown>;
  createdAt: string;
}

export type TransferState = 'pending' | 'posted' | 'voided' | 'expired';

export interface Transfer {
  id: string;
  /** Key of the operation that created it; a hold is addressed by this key. */
  requestKey: string;
  /** Index among the transfers that operation created. */
  position: number;
  debitAccountId: AccountId;
  creditAccountId: AccountId;
  asset: string;
  amount: number;
  state: TransferState;
  /** Set once posted: the amount that moved (a hold may be posted for less). */
  postedAmount: number | null;
  expiresAt: string | null;
  metadata: Record<string, unknown> | null;
  createdAt: string;
  resolvedAt: string | null;
  /** Key of the operation that posted, voided or expired it. */
  resolvedBy: string | null;
}

/** One step of an operation. The steps of one operation apply together or not at all. */
export type Action =
  | {
      type: 'transfer';
      debit: AccountId;
      credit: AccountId;
      amount: number;
      /** A hold: the debit side is reserved now, the credit side receives it when posted. */
      pending?: boolean;
      /** Only for pending transfers: after this time the hold may only be voided or expired. */
      expiresAt?: Date | string;
      metadata?: Record<string, unknown>;
    }
  /** Posts every transfer of a hold; `amounts` (one per transfer) may be less than held, the rest returns. */
  | { type: 'post'; hold: string; amounts?: number[] }
  | { type: 'void'; hold: string }
  /**
   * What the sweeper sends: voids a hold, but only once it is past its expiry (as of the database's
   * clock, or `asOf` when the sweeper is run for a given time). `asOf` is not part of the fingerprint.
   */
  | { type: 'expire'; hold: string; asOf?: Date | string };

export interface Operation {
  /** Idempotency key: the same key with the same actions returns the first answer. */
  key: string;
  actions: Action[];
}

export interface OperationResult {
  key: string;
  /** True when this answer was stored by an earlier call with the same key. */
  replayed: boolean;
  /** Transfers created or resolved by the operation, as they stood after it. */
  transfers: Transfer[];
}

export interface Balance {
  accountId: AccountId;
  asset: string;
  /** Spendable now. */
  balance: number;
  /** Held by pending debits. */
  pending: number;
  /** balance + pending: what the account holds once every hold is voided. */
  posted: number;
}

export interface HistoryEntry {
  transfer: Transfer;
  /** The change this transfer made to the account's spendable balance, signed. */
  effect: number;
  direction: 'debit' | 'credit';
}
