// Plans sold as Stripe subscriptions: a subscription's price names the tier (config map), and the
// tier is set with the credits domain's rules (an upgrade now, a downgrade at the next reset).
import type Stripe from 'stripe';
import type { Client, Queryable } from '../db/pool.ts';
import type { WebhookDeps } from './webhook.ts';

/** Statuses in which the customer keeps the plan's tier; anything else (canceled, unpaid …) is the lowest tier. */
const KEEPS_TIER = new Set(['active', 'trialing', 'past_due']);

export async function rememberCustomer(db: Queryable, input: { userId: string; customerId: string }): Promise<void> {
  await db.query('insert into stripe_customers (user_id, customer_id) values ($1, $2) on conflict do nothing', [input.userId, input.customerId]);
}

export async function customerOf(db: Queryable, userId: string): Promise<string | undefined> {
  return (await db.query<{ customer_id: string }>('select customer_id from stripe_customers where user_id = $1', [userId])).rows[0]?.customer_id;
}

export async function applySubscription(
  deps: WebhookDeps,
  tx: Client,
  input: { subscription: Stripe.Subscription; deleted: boolean; created: number },
): Promise<string> {
  const { subscription } = input;
  const customerId = typeof subscription.customer === 'string' ? subscription.customer : subscription.customer.id;
  const known = (await tx.query<{ user_id: string }>('select user_id from stripe_customers where customer_id = $1', [customerId])).rows[0]?.user_id;
  const userId = known ?? subscription.metadata?.userId;
  if (!userId) return 'ignored: a customer Tally does not know';
  const priceId = subscription.items?.data?.[0]?.price?.id ?? null;
  const active = !input.deleted && KEEPS_TIER.has(subscription.status);
  const tier = active ? (priceId ? deps.priceTiers[priceId] : undefined) : deps.credits.tiers()[0]!;
  if (!tier) {
    deps.log.warn({ subscription: subscription.id, priceId }, 'stripe subscription: price not in STRIPE_PRICE_TIERS; tier unchanged');
    return `ignored: price ${priceId} names no tier`;
  }
  // Events may arrive out of order: an older event than the one applied changes nothing.
  const { rows } = await tx.query<{ event_created: number }>('select event_created from stripe_subscriptions where id = $1 for update', [subscription.id]);
  if (rows[0] && rows[0].event_created > input.created) return 'stale: a newer event was applied';
  await tx.query(
    `insert into stripe_subscriptions (id, user_id, status, price_id, tier, event_created) values ($1, $2, $3, $4, $5, $6)
     on conflict (id) do update set status = excluded.status, price_id = excluded.price_id, tier = excluded.tier, event_created = excluded.event_created, updated_at = now()`,
    [subscription.id, userId, input.deleted ? 'deleted' : subscription.status, priceId, tier, input.created],
  );
  await rememberCustomer(tx, { userId, customerId });
  // setTier keys its grants, so running it again (a retried event) grants nothing twice.
  const balance = await deps.credits.setTier(userId, tier);
  return `tier ${tier} for ${userId} (${balance.nextTier ? `from the next reset; ${balance.tier} until then` : 'now'})`;
}
