// The ledger side of a purchase after checkout, each step run inside the caller's transaction with the
// purchase row locked (repository.lockPurchase), so every step happens once: grant (post the held
// backing and issue the credits together), release (void the hold), claw back and restore.
import type { CreditsConfig } from '../config/index.ts';
import type { Client } from '../db/pool.ts';
import { ISSUANCE, poolAccount, userAccount } from '../credits/accounts.ts';
import { recordAlert } from '../credits/alerts.ts';
import { isLedgerError, type Action, type Ledger } from '../ledger/index.ts';
import { joinKey } from '../lib/keys.ts';
import type { Logger } from '../log.ts';
import { planClawback } from './clawback.ts';
import { updatePurchase, type PurchaseRow, type PurchaseStatus } from './repository.ts';

export interface SettleDeps {
  ledger: Ledger;
  creditsConfig: CreditsConfig;
  log: Logger;
}

/** The refusals that mean "the hold is no longer there to post": the payment arrived after it expired. */
const HOLD_GONE = ['hold_expired', 'hold_not_pending', 'hold_not_found'] as const;

/**
 * Paid: the credits are granted exactly once. Normally the held backing is posted and the credits
 * issued in one operation. If the hold has expired, the user paid all the same: the credits are
 * granted, with backing if the pool can still give it, else unbacked with a critical alert.
 */
export async function grantPurchase(
  deps: SettleDeps,
  tx: Client,
  purchase: PurchaseRow,
  payment: { paymentIntentId: string | null; customerId: string | null },
): Promise<'granted' | 'already granted'> {
  if (purchase.granted_at) return 'already granted';
  const credit: Action = {
    type: 'transfer',
    debit: ISSUANCE,
    credit: userAccount(purchase.user_id, 'purchased'),
    amount: purchase.credits,
    metadata: { reason: 'purchase', purchaseId: purchase.id, package: purchase.package_id, price: purchase.amount, currency: purchase.currency },
  };
  const backing: Action = {
    type: 'transfer',
    debit: poolAccount(purchase.provider, 'available'),
    credit: poolAccount(purchase.provider, 'reserved'),
    amount: purchase.backing,
    metadata: { reason: 'backing for purchase', purchaseId: purchase.id },
  };
  const hold = purchase.hold_key ? (await deps.ledger.transfersOf(purchase.hold_key, tx))[0] : undefined;
  const attempts: { key: string; actions: Action[]; unbacked?: boolean }[] = [];
  if (hold?.state === 'pending')
    attempts.push({ key: joinKey('purchase', purchase.id, 'grant'), actions: [{ type: 'post', hold: purchase.hold_key! }, credit] });
  // Late: an expired hold not yet swept is voided in the same operation, so its backing can be booked again.
  const voidLate: Action[] = hold?.state === 'pending' ? [{ type: 'void', hold: purchase.hold_key! }] : [];
  attempts.push({ key: joinKey('purchase', purchase.id, 'grant-late'), actions: [...voidLate, credit, backing] });
  attempts.push({ key: joinKey('purchase', purchase.id, 'grant-unbacked'), actions: [...voidLate, credit], unbacked: true });

  for (const attempt of attempts) {
    try {
      await deps.ledger.executeIn(tx, { key: attempt.key, actions: attempt.actions });
    } catch (error) {
      const holdGone = HOLD_GONE.some((code) => isLedgerError(error, code));
      const poolShort = isLedgerError(error, 'insufficient_funds') && error.detail.account === poolAccount(purchase.provider, 'available');
      if (holdGone || poolShort) continue;
      throw error;
    }
    if (attempt.unbacked) {
      await recordAlert(tx, {
        type: 'purchase_unbacked',
        level: 'critical',
        message: `Purchase ${purchase.id} was paid after its checkout hold expired and the ${purchase.provider} pool cannot back it: ${purchase.credits} credits granted without ${purchase.backing} units of backing. Refill the pool.`,
        data: { purchaseId: purchase.id, userId: purchase.user_id, credits: purchase.credits, shortfall: purchase.backing },
      });
    }
    await updatePurchase(tx, purchase.id, {
      status: 'paid',
      granted_at: new Date(),
      grant_key: attempt.key,
      unbacked_credits: attempt.unbacked ? purchase.credits : 0,
      payment_intent_id: payment.paymentIntentId ?? purchase.payment_intent_id,
      customer_id: payment.customerId ?? purchase.customer_id,
      checkout_completed_at: purchase.checkout_completed_at ?? new Date(),
    });
    deps.log.info({ purchaseId: purchase.id, userId: purchase.user_id, credits: purchase.credits, via: attempt.key }, 'purchase paid: credits granted');
    return 'granted';
  }
  throw new Error(`purchase ${purchase.id}: no way to grant was accepted`);
}

/** The checkout ended without payment: the held capacity returns to the pool. */
export async function releasePurchase(
  deps: SettleDeps,
  tx: Client,
  purchase: PurchaseRow,
  status: Extract<PurchaseStatus, 'expired' | 'failed'>,
): Promise<string> {
  if (purchase.granted_at) return 'already granted';
  if (purchase.hold_key) {
    try {
      await deps.ledger.executeIn(tx, { key: joinKey('purchase', purchase.id, 'release'), actions: [{ type: 'void', hold: purchase.hold_key }] });
    } catch (error) {
      if (!HOLD_GONE.some((code) => isLedgerError(error, code))) throw error;
    }
  }
  await updatePurchase(tx, purchase.id, { status });
  return status;
}

/**
 * Takes back `due` credits for a refund or dispute (`step` names it, so the same step never runs twice):
 * what the user still holds, with its backing released; the rest is recorded as already spent.
 */
export async function clawBack(
  deps: SettleDeps,
  tx: Client,
  purchase: PurchaseRow,
  input: { due: number; step: string },
): Promise<{ take: number; spent: number }> {
  if (input.due <= 0) return { take: 0, spent: 0 };
  const held = (await deps.ledger.balanceOf(userAccount(purchase.user_id, 'purchased'), { db: tx })).balance;
  const ratio = purchase.credits > 0 ? purchase.backing / purchase.credits : 0;
  const unbackedLeft = Math.max(0, purchase.unbacked_credits - (purchase.credits_clawed_back - purchase.credits_restored));
  const plan = planClawback({ due: input.due, held, unbackedLeft, ratio });
  const actions: Action[] = [];
  if (plan.take > 0)
    actions.push({
      type: 'transfer',
      debit: userAccount(purchase.user_id, 'purchased'),
      credit: ISSUANCE,
      amount: plan.take,
      metadata: { reason: 'purchase clawback', purchaseId: purchase.id, step: input.step },
    });
  if (plan.release > 0)
    actions.push({
      type: 'transfer',
      debit: poolAccount(purchase.provider, 'reserved'),
      credit: poolAccount(purchase.provider, 'available'),
      amount: plan.release,
      metadata: { reason: 'backing released by clawback', purchaseId: purchase.id },
    });
  // The amounts are in the key: had the user spent between the read and the write, the write is refused
  // (never-negative), the caller's transaction rolls back and the webhook is retried with a fresh read.
  if (actions.length > 0) await deps.ledger.executeIn(tx, { key: joinKey('purchase', purchase.id, input.step, String(plan.take)), actions });
  deps.log.info({ purchaseId: purchase.id, step: input.step, due: input.due, taken: plan.take, alreadySpent: plan.spent }, 'purchase: credits clawed back');
  return plan;
}

/** A dispute won: the credits it took come back, backed like a sale (unbacked with an alert when the pool is short). */
export async function restoreCredits(deps: SettleDeps, tx: Client, purchase: PurchaseRow, input: { credits: number; step: string }): Promise<void> {
  if (input.credits <= 0) return;
  const credit: Action = {
    type: 'transfer',
    debit: ISSUANCE,
    credit: userAccount(purchase.user_id, 'purchased'),
    amount: input.credits,
    metadata: { reason: 'purchase restore', purchaseId: purchase.id, step: input.step },
  };
  const ratio = purchase.backing / purchase.credits;
  const backing: Action = {
    type: 'transfer',
    debit: poolAccount(purchase.provider, 'available'),
    credit: poolAccount(purchase.provider, 'reserved'),
    amount: input.credits * ratio,
    metadata: { reason: 'backing for restored credits', purchaseId: purchase.id },
  };
  try {
    await deps.ledger.executeIn(tx, { key: joinKey('purchase', purchase.id, input.step), actions: [credit, backing] });
  } catch (error) {
    if (!isLedgerError(error, 'insufficient_funds') || error.detail.account !== poolAccount(purchase.provider, 'available')) throw error;
    await deps.ledger.executeIn(tx, { key: joinKey('purchase', purchase.id, input.step, 'unbacked'), actions: [credit] });
    await recordAlert(tx, {
      type: 'purchase_unbacked',
      level: 'critical',
      message: `Credits restored to ${purchase.user_id} after a won dispute could not be backed by the ${purchase.provider} pool`,
      data: { purchaseId: purchase.id, credits: input.credits },
    });
  }
}
