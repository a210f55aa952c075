// The purchases table: rows as the domain uses them, and the queries the routes list them with.
import type { Queryable } from '../db/pool.ts';

export type PurchaseStatus = 'pending' | 'paid' | 'expired' | 'failed' | 'refunded' | 'partially_refunded' | 'disputed';
export const PURCHASE_STATUSES: PurchaseStatus[] = ['pending', 'paid', 'expired', 'failed', 'refunded', 'partially_refunded', 'disputed'];

export interface PurchaseRow {
  id: string;
  user_id: string;
  mode: 'stripe' | 'development';
  package_id: string;
  credits: number;
  amount: number;
  currency: string;
  status: PurchaseStatus;
  provider: string;
  backing: number;
  hold_key: string | null;
  checkout_session_id: string | null;
  checkout_url: string | null;
  expires_at: Date | null;
  payment_intent_id: string | null;
  customer_id: string | null;
  checkout_completed_at: Date | null;
  granted_at: Date | null;
  grant_key: string | null;
  unbacked_credits: number;
  amount_refunded: number;
  credits_clawed_back: number;
  credits_spent_before_clawback: number;
  refund_credits_due: number;
  dispute_credits_due: number;
  dispute_id: string | null;
  dispute_status: string | null;
  dispute_clawed_back: number;
  credits_restored: number;
  created_at: Date;
  updated_at: Date;
}

export interface PurchaseView {
  id: string;
  userId: string;
  mode: 'stripe' | 'development';
  packageId: string;
  credits: number;
  amount: number;
  currency: string;
  status: PurchaseStatus;
  checkoutUrl: string | null;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  amountRefunded: number;
  creditsClawedBack: number;
  creditsSpentBeforeClawback: number;
  creditsRestored: number;
  unbackedCredits: number;
  disputeStatus: string | null;
  createdAt: string;
  grantedAt: string | null;
  expiresAt: string | null;
}

export function viewOf(row: PurchaseRow): PurchaseView {
  return {
    id: row.id,
    userId: row.user_id,
    mode: row.mode,
    packageId: row.package_id,
    credits: row.credits,
    amount: row.amount,
    currency: row.currency,
    status: row.status,
    // Only an open checkout's link is of use to anyone.
    checkoutUrl: row.status === 'pending' && !row.checkout_completed_at && row.expires_at !== null && row.expires_at > new Date() ? row.checkout_url : null,
    checkoutSessionId: row.checkout_session_id,
    paymentIntentId: row.payment_intent_id,
    amountRefunded: row.amount_refunded,
    creditsClawedBack: row.credits_clawed_back,
    creditsSpentBeforeClawback: row.credits_spent_before_clawback,
    creditsRestored: row.credits_restored,
    unbackedCredits: row.unbacked_credits,
    disputeStatus: row.dispute_status,
    createdAt: row.created_at.toISOString(),
    grantedAt: row.granted_at?.toISOString() ?? null,
    expiresAt: row.expires_at?.toISOString() ?? null,
  };
}

/** The row, locked for the rest of the caller's transaction: every change to a purchase goes one at a time. */
export async function lockPurchase(db: Queryable, id: string): Promise<PurchaseRow | undefined> {
  return (await db.query<PurchaseRow>('select * from purchases where id = $1 for update', [id])).rows[0];
}

export async function updatePurchase(db: Queryable, id: string, changes: Partial<Record<keyof PurchaseRow, unknown>>): Promise<void> {
  const entries = Object.entries(changes);
  const sets = entries.map(([column], i) => `${column} = $${i + 2}`).join(', ');
  await db.query(`update purchases set ${sets}, updated_at = now() where id = $1`, [id, ...entries.map(([, value]) => value)]);
}

export interface PurchaseFilter {
  userId?: string;
  status?: PurchaseStatus;
  from?: Date;
  to?: Date;
  /** The last id of the previous page (ids sort by creation time). */
  cursor?: string;
  limit: number;
}

/** Newest first, a page at a time. */
export async function listPurchases(db: Queryable, filter: PurchaseFilter): Promise<{ purchases: PurchaseView[]; cursor: string | null }> {
  const { rows } = await db.query<PurchaseRow>(
    `select * from purchases
      where ($1::text is null or user_id = $1) and ($2::text is null or status = $2)
        and ($3::timestamptz is null or created_at >= $3) and ($4::timestamptz is null or created_at < $4)
        and ($5::text is null or id < $5)
      order by id desc limit $6`,
    [filter.userId ?? null, filter.status ?? null, filter.from ?? null, filter.to ?? null, filter.cursor ?? null, filter.limit],
  );
  return { purchases: rows.map(viewOf), cursor: rows.length === filter.limit ? rows[rows.length - 1]!.id : null };
}
