// Stripe events, each handled once by its id: the event's row is inserted in the same transaction as
// everything it changes, so a replay finds the row, and a concurrent duplicate waits on it and then
// finds it. Events that arrive before the payment they belong to wait in stripe_deferred_events.
import type Stripe from 'stripe';
import type { Client, Pool } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import type { Credits } from '../credits/index.ts';
import { isLedgerError } from '../ledger/index.ts';
import { disputeDue, refundDue, statusAfterRefund } from './clawback.ts';
import { lockPurchase, updatePurchase, type PurchaseRow } from './repository.ts';
import { clawBack, grantPurchase, releasePurchase, restoreCredits, type SettleDeps } from './settle.ts';
import type { StripeEvent } from './stripe.ts';
import { applySubscription, rememberCustomer } from './subscriptions.ts';

export interface WebhookDeps extends SettleDeps {
  pool: Pool;
  credits: Credits;
  priceTiers: Record<string, string>;
}

export async function handleStripeEvent(deps: WebhookDeps, event: StripeEvent): Promise<{ duplicate: boolean; outcome: string }> {
  // A replay of a handled event is answered without opening a transaction.
  const seen = await deps.pool.query('select 1 from stripe_events where id = $1', [event.id]);
  if (seen.rowCount) return { duplicate: true, outcome: 'duplicate' };
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await withTransaction(deps.pool, async (tx) => {
        // A concurrent duplicate waits on the first delivery's row below, holding a connection; bounded,
        // so duplicates can never hold every connection while the first needs one (setTier takes its own).
        await tx.query(`set local lock_timeout = '10s'`);
        const fresh = await tx.query(`insert into stripe_events (id, type, outcome) values ($1, $2, 'handling') on conflict (id) do nothing returning id`, [
          event.id,
          event.type,
        ]);
        if (fresh.rowCount === 0) return { duplicate: true, outcome: 'duplicate' };
        const outcome = await dispatch(deps, tx, event.type, event.data.object, event.created);
        await tx.query('update stripe_events set outcome = $2 where id = $1', [event.id, outcome]);
        return { duplicate: false, outcome };
      });
      deps.log.info({ event: event.id, type: event.type, ...result }, 'stripe event');
      return result;
    } catch (error) {
      // The user spent between a clawback's read and its write: everything rolled back; read again.
      if (attempt < 3 && isLedgerError(error, 'insufficient_funds')) continue;
      throw error;
    }
  }
}

type StripeObject = StripeEvent['data']['object'];

async function dispatch(deps: WebhookDeps, tx: Client, type: string, object: StripeObject, created: number): Promise<string> {
  switch (type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      return onCheckoutCompleted(deps, tx, object as Stripe.Checkout.Session, type === 'checkout.session.async_payment_succeeded');
    case 'checkout.session.expired':
    case 'checkout.session.async_payment_failed': {
      const purchase = await purchaseOfSession(tx, object as Stripe.Checkout.Session);
      if (!purchase) return 'ignored: not a purchase of ours';
      return releasePurchase(deps, tx, purchase, type === 'checkout.session.expired' ? 'expired' : 'failed');
    }
    case 'charge.refunded':
    case 'charge.dispute.created':
    case 'charge.dispute.closed':
      return onPaymentEvent(deps, tx, type, object as Stripe.Charge | Stripe.Dispute, created);
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return applySubscription(deps, tx, { subscription: object as Stripe.Subscription, deleted: type === 'customer.subscription.deleted', created });
    default:
      return 'ignored';
  }
}

const idOf = (value: string | { id: string } | null | undefined): string | null => (typeof value === 'string' ? value : (value?.id ?? null));

/**
 * The purchase a payment session pays for, only when Tally opened that session for it: named by the
 * metadata Tally wrote (a payer can set `client_reference_id` on a Payment Link, never the metadata),
 * for exactly its price, and the session Tally stored — or, when the process stopped before storing
 * it, a purchase still waiting for one (not one that failed to open).
 */
async function purchaseOfSession(tx: Client, session: Stripe.Checkout.Session): Promise<PurchaseRow | undefined> {
  const purchaseId = session.metadata?.purchaseId;
  if (session.mode !== 'payment' || !purchaseId) return undefined;
  const purchase = await lockPurchase(tx, purchaseId);
  if (!purchase || purchase.mode !== 'stripe') return undefined;
  const forItsPrice = session.amount_total === purchase.amount && session.currency?.toLowerCase() === purchase.currency.toLowerCase();
  const itsSession = purchase.checkout_session_id === null ? purchase.status !== 'failed' : purchase.checkout_session_id === session.id;
  return forItsPrice && itsSession ? purchase : undefined;
}

async function onCheckoutCompleted(deps: WebhookDeps, tx: Client, session: Stripe.Checkout.Session, asyncSucceeded: boolean): Promise<string> {
  const customerId = idOf(session.customer);
  if (session.mode === 'subscription') {
    const userId = session.metadata?.userId; // Tally's own metadata: a payer may set client_reference_id
    if (userId && customerId) await rememberCustomer(tx, { userId, customerId });
    return 'subscription checkout: customer recorded (the tier follows the subscription events)';
  }
  const purchase = await purchaseOfSession(tx, session);
  if (!purchase) return 'ignored: not a purchase of ours';
  const paymentIntentId = idOf(session.payment_intent);
  if (!asyncSucceeded && session.payment_status === 'unpaid') {
    // An asynchronous payment method: the money is on its way; async_payment_succeeded grants.
    await updatePurchase(tx, purchase.id, {
      checkout_completed_at: new Date(),
      checkout_session_id: session.id,
      payment_intent_id: paymentIntentId,
      customer_id: customerId,
    });
    return 'awaiting asynchronous payment';
  }
  if (purchase.checkout_session_id === null) await updatePurchase(tx, purchase.id, { checkout_session_id: session.id });
  const outcome = await grantPurchase(deps, tx, purchase, { paymentIntentId, customerId });
  const applied = paymentIntentId ? await applyDeferred(deps, tx, paymentIntentId) : 0;
  return applied ? `${outcome}; ${applied} earlier refund/dispute event(s) applied` : outcome;
}

/** Refunds and disputes, found by their payment intent; deferred when the payment is not granted yet. */
async function onPaymentEvent(deps: WebhookDeps, tx: Client, type: string, object: Stripe.Charge | Stripe.Dispute, created: number): Promise<string> {
  const paymentIntentId = idOf(object.payment_intent);
  if (!paymentIntentId) return 'ignored: no payment intent';
  const purchase = (await tx.query<PurchaseRow>('select * from purchases where payment_intent_id = $1 for update', [paymentIntentId])).rows[0];
  if (!purchase?.granted_at) {
    await tx.query(
      `insert into stripe_deferred_events (event_id, payment_intent_id, type, object, created) values ($1, $2, $3, $4, $5) on conflict (event_id) do nothing`,
      [`${type}:${object.id}:${created}`, paymentIntentId, type, JSON.stringify(object), created],
    );
    return 'deferred: the payment is not recorded yet';
  }
  if (type === 'charge.refunded') return onRefund(deps, tx, purchase, object as Stripe.Charge);
  if (type === 'charge.dispute.created') return onDisputeOpened(deps, tx, purchase, object as Stripe.Dispute);
  return onDisputeClosed(deps, tx, purchase, object as Stripe.Dispute);
}

async function applyDeferred(deps: WebhookDeps, tx: Client, paymentIntentId: string): Promise<number> {
  const { rows } = await tx.query<{ event_id: string; type: string; object: Stripe.Charge | Stripe.Dispute; created: number }>(
    'delete from stripe_deferred_events where payment_intent_id = $1 returning event_id, type, object, created',
    [paymentIntentId],
  );
  rows.sort((a, b) => a.created - b.created || a.event_id.localeCompare(b.event_id));
  for (const row of rows) await onPaymentEvent(deps, tx, row.type, row.object, row.created);
  return rows.length;
}

async function onRefund(deps: WebhookDeps, tx: Client, purchase: PurchaseRow, charge: Stripe.Charge): Promise<string> {
  // amount_refunded is cumulative: an older or repeated event has nothing new.
  if (charge.amount_refunded <= purchase.amount_refunded) return 'refund already applied';
  const due = refundDue({
    credits: purchase.credits,
    price: purchase.amount,
    amountRefunded: charge.amount_refunded,
    refundDueSoFar: purchase.refund_credits_due,
    disputeDue: purchase.dispute_credits_due,
  });
  const plan = await clawBack(deps, tx, purchase, { due, step: `refund-to-${charge.amount_refunded}` });
  await updatePurchase(tx, purchase.id, {
    amount_refunded: charge.amount_refunded,
    refund_credits_due: purchase.refund_credits_due + due,
    credits_clawed_back: purchase.credits_clawed_back + plan.take,
    credits_spent_before_clawback: purchase.credits_spent_before_clawback + plan.spent,
    status: purchase.status === 'disputed' ? 'disputed' : statusAfterRefund({ price: purchase.amount, amountRefunded: charge.amount_refunded }),
  });
  return `refund: ${plan.take} credits clawed back, ${plan.spent} already spent`;
}

async function onDisputeOpened(deps: WebhookDeps, tx: Client, purchase: PurchaseRow, dispute: Stripe.Dispute): Promise<string> {
  if (purchase.dispute_id === dispute.id) return 'dispute already applied';
  const due = disputeDue({ credits: purchase.credits, price: purchase.amount, disputedAmount: dispute.amount, refundDue: purchase.refund_credits_due });
  const plan = await clawBack(deps, tx, purchase, { due, step: `dispute-${dispute.id}` });
  await updatePurchase(tx, purchase.id, {
    dispute_id: dispute.id,
    dispute_status: dispute.status,
    dispute_credits_due: due,
    dispute_clawed_back: plan.take,
    credits_clawed_back: purchase.credits_clawed_back + plan.take,
    credits_spent_before_clawback: purchase.credits_spent_before_clawback + plan.spent,
    status: 'disputed',
  });
  return `dispute: ${plan.take} credits clawed back, ${plan.spent} already spent`;
}

const CLOSED_DISPUTE = new Set(['won', 'lost', 'warning_closed']);

async function onDisputeClosed(deps: WebhookDeps, tx: Client, purchase: PurchaseRow, dispute: Stripe.Dispute): Promise<string> {
  if (purchase.dispute_id !== dispute.id) {
    // Closed before we saw it open: take back as the opening would have, then settle as closed.
    await onDisputeOpened(deps, tx, purchase, { ...dispute, status: 'needs_response' });
    purchase = (await lockPurchase(tx, purchase.id))!;
  }
  if (CLOSED_DISPUTE.has(purchase.dispute_status ?? '')) return 'dispute already closed';
  // Won, or an inquiry closed without becoming a chargeback: no money left, so the credits return.
  if (dispute.status !== 'won' && dispute.status !== 'warning_closed') {
    await updatePurchase(tx, purchase.id, { dispute_status: dispute.status });
    return `dispute closed (${dispute.status}): the clawback stands`;
  }
  await restoreCredits(deps, tx, purchase, { credits: purchase.dispute_clawed_back, step: `dispute-${dispute.id}-won` });
  await updatePurchase(tx, purchase.id, {
    dispute_status: dispute.status,
    dispute_credits_due: 0,
    credits_restored: purchase.credits_restored + purchase.dispute_clawed_back,
    status: purchase.amount_refunded > 0 ? statusAfterRefund({ price: purchase.amount, amountRefunded: purchase.amount_refunded }) : 'paid',
  });
  return `dispute ${dispute.status === 'won' ? 'won' : 'inquiry closed'}: ${purchase.dispute_clawed_back} credits restored`;
}
