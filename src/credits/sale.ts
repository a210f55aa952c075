// A sale granted at once, without payment. Only src/payments calls it for users, and only for
// development purchases (the demo, or TALLY_DEV_PURCHASES outside production); the demo seed and tests
// call it directly. The user's credits and the pool's backing move in one ledger operation; the pool's
// available account is never-negative, so a sale the pool cannot back is refused by the database
// itself, with nothing changed (docs/rules.md §3).
import type { CreditsConfig } from '../config/index.ts';
import type { Pool } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import { joinKey } from '../lib/keys.ts';
import { isLedgerError, type Ledger } from '../ledger/index.ts';
import { ISSUANCE, poolAccount, userAccount } from './accounts.ts';
import { recordAlert } from './alerts.ts';
import { CreditsError, SALE_BLOCKED_MESSAGE } from './errors.ts';
import type { PoolState } from './types.ts';

export interface DevelopmentSaleInput {
  userId: string;
  packageId: string;
  /** The caller's retry key: the same key buys once. */
  key?: string;
  /** The purchase record this sale settles (src/payments), which then keys it. */
  purchaseId?: string;
}

interface Deps {
  pool: Pool;
  ledger: Ledger;
  config: CreditsConfig;
  poolState: (provider: string) => Promise<PoolState>;
}

/** Grants the package and reserves its backing, or refuses (409-worthy) with a sale_blocked alert. */
export async function sellPackage(deps: Deps, input: DevelopmentSaleInput): Promise<CreditsConfig['packages'][number]> {
  const { config } = deps;
  const pkg = config.packages.find((p) => p.id === input.packageId);
  if (!pkg) throw new CreditsError('unknown_package', `no package "${input.packageId}"; packages: ${config.packages.map((p) => p.id).join(', ')}`, 'packageId');
  const provider = config.primaryProvider;
  const backing = pkg.credits * config.pools[provider]!.ratio;
  // Parts encoded: user `a:b` with key `c` and user `a` with key `b:c` must not share a key.
  const key = input.purchaseId ? joinKey('purchase', 'id', input.purchaseId) : joinKey('purchase', input.userId, input.key ?? newId('pur'));
  const purchase = input.purchaseId ? { purchaseId: input.purchaseId } : {};
  try {
    await deps.ledger.execute({
      key,
      actions: [
        {
          type: 'transfer',
          debit: ISSUANCE,
          credit: userAccount(input.userId, 'purchased'),
          amount: pkg.credits,
          metadata: { reason: 'purchase', package: pkg.id, price: pkg.price, currency: pkg.currency, ...purchase },
        },
        {
          type: 'transfer',
          debit: poolAccount(provider, 'available'),
          credit: poolAccount(provider, 'reserved'),
          amount: backing,
          metadata: { reason: 'backing for purchase', userId: input.userId, package: pkg.id },
        },
      ],
    });
  } catch (error) {
    if (isLedgerError(error, 'insufficient_funds') && error.detail.account === poolAccount(provider, 'available')) {
      await recordAlert(deps.pool, {
        type: 'sale_blocked',
        level: 'warning',
        message: `Sale of ${pkg.id} (${pkg.credits} credits) blocked: the ${provider} pool cannot back it`,
        data: { provider, userId: input.userId, packageId: pkg.id, needed: backing, available: error.detail.available },
      });
      throw new CreditsError('sale_blocked', SALE_BLOCKED_MESSAGE);
    }
    throw error;
  }
  const pool = await deps.poolState(provider);
  if (pool.available < pool.lowThreshold) {
    await recordAlert(deps.pool, {
      type: 'capacity_low',
      level: pool.available < pool.criticalThreshold ? 'critical' : 'warning',
      message: `The ${provider} pool has ${pool.available} units available after a sale (${pool.sellableUserCredits} user credits sellable)`,
      data: { provider, available: pool.available, sellableUserCredits: pool.sellableUserCredits },
    });
  }
  return pkg;
}
