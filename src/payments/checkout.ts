// Buying a package: capacity is checked and held by a ledger hold (pool available -> reserved,
// pending) that lives as long as the Checkout Session; credits come only from the verified webhook.
import type { CreditsConfig } from '../config/index.ts';
import type { Pool } from '../db/pool.ts';
import { poolAccount } from '../credits/accounts.ts';
import { recordAlert } from '../credits/alerts.ts';
import { CreditsError, type Credits } from '../credits/index.ts';
import { isLedgerError, type Ledger } from '../ledger/index.ts';
import { newId } from '../lib/id.ts';
import type { Logger } from '../log.ts';
import { joinKey } from '../lib/keys.ts';
import { updatePurchase, type PurchaseRow } from './repository.ts';
import type { PaymentGateway } from './stripe.ts';

export interface CheckoutDeps {
  pool: Pool;
  ledger: Ledger;
  credits: Credits;
  creditsConfig: CreditsConfig;
  gateway: PaymentGateway;
  checkoutMinutes: number;
  log: Logger;
}

export type PurchaseAnswer =
  | { mode: 'stripe'; purchaseId: string; packageId: string; checkoutUrl: string }
  | { mode: 'development'; purchaseId: string; packageId: string; granted: number; balance: number };

export function packageOf(config: CreditsConfig, packageId: string) {
  const pkg = config.packages.find((p) => p.id === packageId);
  if (!pkg) throw new CreditsError('unknown_package', `no package "${packageId}"; packages: ${config.packages.map((p) => p.id).join(', ')}`, 'packageId');
  return pkg;
}

/** Opens (or, on a second click, returns) the user's checkout for a package. */
export async function openCheckout(deps: CheckoutDeps, input: { userId: string; packageId: string }): Promise<PurchaseAnswer> {
  const pkg = packageOf(deps.creditsConfig, input.packageId);
  await deps.credits.ensureUser(input.userId);
  for (let attempt = 0; attempt < 3; attempt++) {
    const open = await findOpenCheckout(deps, input);
    if (open && open.expires_at! > new Date(Date.now() + 60_000)) return sessionFor(deps, open);
    if (open) await closeStaleCheckout(deps, open);
    const created = await createPurchase(deps, { userId: input.userId, pkg });
    if (created) return sessionFor(deps, created);
    // Another click of the same user made the open checkout first: use that one.
  }
  throw new Error('could not open or find a checkout after three tries');
}

async function findOpenCheckout(deps: CheckoutDeps, input: { userId: string; packageId: string }): Promise<PurchaseRow | undefined> {
  const { rows } = await deps.pool.query<PurchaseRow>(
    `select * from purchases where user_id = $1 and package_id = $2 and status = 'pending' and mode = 'stripe' and checkout_completed_at is null`,
    [input.userId, input.packageId],
  );
  return rows[0];
}

/**
 * Holds the package's backing, then records the purchase; the unique index on open checkouts lets one
 * of two simultaneous clicks win (the loser voids its hold and takes the winner's checkout). The hold
 * comes first so that every purchase row anyone can see is backed.
 */
async function createPurchase(deps: CheckoutDeps, input: { userId: string; pkg: CreditsConfig['packages'][number] }): Promise<PurchaseRow | undefined> {
  const { pkg, userId } = input;
  const provider = deps.creditsConfig.primaryProvider;
  const backing = pkg.credits * deps.creditsConfig.pools[provider]!.ratio;
  const id = newId('pur');
  const holdKey = joinKey('purchase', id, 'hold');
  const expiresAt = new Date(Date.now() + deps.checkoutMinutes * 60_000);
  try {
    await deps.ledger.placeHold({
      key: holdKey,
      expiresAt,
      transfers: [
        {
          debit: poolAccount(provider, 'available'),
          credit: poolAccount(provider, 'reserved'),
          amount: backing,
          metadata: { reason: 'backing held for checkout', purchaseId: id, userId, package: pkg.id },
        },
      ],
    });
  } catch (error) {
    if (isLedgerError(error, 'insufficient_funds') && error.detail.account === poolAccount(provider, 'available')) {
      await recordAlert(deps.pool, {
        type: 'sale_blocked',
        level: 'warning',
        message: `Sale of ${pkg.id} (${pkg.credits} credits) blocked: the ${provider} pool cannot back it`,
        data: { userId, packageId: pkg.id, needed: backing, available: error.detail.available },
      });
      throw new CreditsError('sale_blocked', 'Temporarily unavailable');
    }
    throw error;
  }
  const { rows } = await deps.pool.query<PurchaseRow>(
    `insert into purchases (id, user_id, mode, package_id, credits, amount, currency, status, provider, backing, hold_key, expires_at)
     values ($1, $2, 'stripe', $3, $4, $5, $6, 'pending', $7, $8, $9, $10)
     on conflict (user_id, package_id) where status = 'pending' and mode = 'stripe' and checkout_completed_at is null do nothing
     returning *`,
    [id, userId, pkg.id, pkg.credits, pkg.price, pkg.currency, provider, backing, holdKey, expiresAt],
  );
  if (rows[0]) {
    deps.log.info({ purchaseId: id, userId, packageId: pkg.id, backing, expiresAt }, 'checkout: backing held');
    await alertIfCapacityLow(deps, provider);
    return rows[0];
  }
  await deps.ledger.voidHold({ hold: holdKey });
  return undefined;
}

/** SPEC's "capacity low after a sale": the held backing already left the pool's available units. */
async function alertIfCapacityLow(deps: CheckoutDeps, provider: string): Promise<void> {
  const pool = await deps.credits.poolState(provider);
  if (pool.available >= pool.lowThreshold) return;
  await recordAlert(deps.pool, {
    type: 'capacity_low',
    level: pool.available < pool.criticalThreshold ? 'critical' : 'warning',
    message: `The ${provider} pool has ${pool.available} units available after a checkout opened (${pool.sellableUserCredits} user credits sellable)`,
    data: { provider, available: pool.available, sellableUserCredits: pool.sellableUserCredits },
  });
}

/**
 * The checkout link of a purchase. The Stripe idempotency key is the purchase's, so a second click
 * that arrives before the first stored its session gets the very same session from Stripe.
 */
async function sessionFor(deps: CheckoutDeps, purchase: PurchaseRow): Promise<PurchaseAnswer> {
  const answer = (url: string) => ({ mode: 'stripe' as const, purchaseId: purchase.id, packageId: purchase.package_id, checkoutUrl: url });
  if (purchase.checkout_url) return answer(purchase.checkout_url);
  let session: { id: string; url: string };
  try {
    session = await deps.gateway.createPackageCheckout({
      purchaseId: purchase.id,
      userId: purchase.user_id,
      packageId: purchase.package_id,
      credits: purchase.credits,
      amount: purchase.amount,
      currency: purchase.currency,
      expiresAt: purchase.expires_at!,
    });
  } catch (error) {
    deps.log.warn({ err: error, purchaseId: purchase.id }, 'checkout: Stripe refused or failed; the held backing is released');
    await failPurchase(deps, purchase);
    throw error;
  }
  await deps.pool.query(`update purchases set checkout_session_id = $2, checkout_url = $3, updated_at = now() where id = $1 and checkout_session_id is null`, [
    purchase.id,
    session.id,
    session.url,
  ]);
  deps.log.info({ purchaseId: purchase.id, session: session.id }, 'checkout: session open');
  return answer(session.url);
}

async function failPurchase(deps: CheckoutDeps, purchase: PurchaseRow): Promise<void> {
  await voidQuietly(deps.ledger, purchase.hold_key!);
  await updatePurchase(deps.pool, purchase.id, { status: 'failed' });
}

/** A checkout past its time whose `expired` event has not come yet: its capacity returns now. */
async function closeStaleCheckout(deps: CheckoutDeps, purchase: PurchaseRow): Promise<void> {
  await voidQuietly(deps.ledger, purchase.hold_key!);
  await deps.pool.query(`update purchases set status = 'expired', updated_at = now() where id = $1 and status = 'pending' and checkout_completed_at is null`, [
    purchase.id,
  ]);
}

/** Voids a hold unless it is already resolved (expired by the sweeper, voided before). */
export async function voidQuietly(ledger: Ledger, holdKey: string): Promise<void> {
  try {
    await ledger.voidHold({ hold: holdKey });
  } catch (error) {
    if (!isLedgerError(error, 'hold_not_pending')) throw error;
  }
}

/** A development purchase: granted at once, no payment, recorded as such (only when enabled; see index.ts). */
export async function grantDevelopmentPurchase(
  deps: Omit<CheckoutDeps, 'gateway' | 'checkoutMinutes'>,
  input: { userId: string; packageId: string; purchaseId?: string },
): Promise<PurchaseAnswer> {
  const pkg = packageOf(deps.creditsConfig, input.packageId);
  // A keyed request's id is stable across its retries: a rerun finds this row and the ledger's grant
  // under the same key, and grants nothing twice.
  const id = input.purchaseId ?? newId('pur');
  const provider = deps.creditsConfig.primaryProvider;
  await deps.credits.ensureUser(input.userId);
  await deps.pool.query(
    `insert into purchases (id, user_id, mode, package_id, credits, amount, currency, status, provider, backing) values ($1, $2, 'development', $3, $4, 0, $5, 'pending', $6, $7)
     on conflict (id) do nothing`,
    [id, input.userId, pkg.id, pkg.credits, pkg.currency, provider, pkg.credits * deps.creditsConfig.pools[provider]!.ratio],
  );
  try {
    const result = await deps.credits.purchase({ userId: input.userId, packageId: pkg.id, purchaseId: id });
    await updatePurchase(deps.pool, id, { status: 'paid', granted_at: new Date(), grant_key: joinKey('purchase', 'id', id) });
    deps.log.info(
      { purchaseId: id, userId: input.userId, packageId: pkg.id, credits: pkg.credits, mode: 'development' },
      'development purchase granted (no payment taken)',
    );
    return { mode: 'development', purchaseId: id, packageId: pkg.id, granted: result.granted, balance: result.balance.balance };
  } catch (error) {
    await updatePurchase(deps.pool, id, { status: 'failed' });
    throw error;
  }
}
