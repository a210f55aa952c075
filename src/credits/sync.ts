// Sync (docs/rules.md §3): the provider's own count of the pool, beside the database's. The difference is
// recorded and alerted; an operator may book it as an adjustment. Nothing is ever edited in place.
import type { Pool } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import type { Ledger } from '../ledger/index.ts';
import { poolAccount } from './accounts.ts';
import { recordAlert } from './alerts.ts';
import { resolveAlert } from '../alerts/store.ts';

/** What a provider adapter implements to tell how many units the platform really has left, in the pool's unit. */
export interface ProviderBalancePort {
  remainingUnits(provider: string): Promise<number>;
  /** Whether the pool has a balance source at all (scheduled sync skips those that do not). */
  hasSource?(provider: string): boolean;
}

/**
 * A provider's balance in the pool's unit. A pay-as-you-go provider reports USD (micro-USD here) while
 * its pool counts provider credits: the USD buys floor(micro-USD / unit cost) units (a part of a unit
 * buys nothing, so the rounding is down).
 */
export function toPoolUnits(balance: { amount: number; unit: string }, pool: { unit: string; unitCostMicroUsd: number }): number {
  if (balance.unit !== 'micro_usd' || pool.unit === 'micro_usd') return balance.amount;
  if (pool.unitCostMicroUsd <= 0) throw new Error('the pool has no unit cost to convert a USD balance with');
  return Math.floor(balance.amount / pool.unitCostMicroUsd);
}

export interface SyncResult {
  id: string;
  provider: string;
  /** The provider's count. */
  real: number;
  /** The database's: available + reserved. */
  database: number;
  /** real - database: positive means the provider holds more than we think. */
  drift: number;
  createdAt: string;
}

/**
 * Records the comparison. A drift beyond `tolerance` units raises (or counts on) the pool's drift
 * alert; within it the alert clears. Nothing is booked: only an operator applies a drift (applyDrift).
 */
export async function syncPool(
  deps: { pool: Pool; port: ProviderBalancePort },
  input: { provider: string; database: number; tolerance?: number; now?: Date },
): Promise<SyncResult> {
  const real = await deps.port.remainingUnits(input.provider);
  if (!Number.isSafeInteger(real) || real < 0) throw new Error(`provider ${input.provider} reported an unusable balance: ${real}`);
  const drift = real - input.database;
  const { rows } = await deps.pool.query('insert into pool_syncs (id, provider, real, database, drift) values ($1, $2, $3, $4, $5) returning id, created_at', [
    newId('sync'),
    input.provider,
    real,
    input.database,
    drift,
  ]);
  if (Math.abs(drift) > (input.tolerance ?? 0)) {
    await recordAlert(deps.pool, {
      now: input.now,
      type: 'sync_drift',
      level: 'warning',
      message: `${input.provider}: the provider reports ${real} units, the database ${input.database} (drift ${drift > 0 ? '+' : ''}${drift})`,
      data: { provider: input.provider, real, database: input.database, drift, syncId: rows[0].id },
    });
  } else {
    await resolveAlert(deps.pool, {
      type: 'sync_drift',
      subject: input.provider,
      message: `${input.provider}: the provider and the database agree within ${input.tolerance ?? 0} units (drift ${drift})`,
      now: input.now,
    });
  }
  return { id: rows[0].id, provider: input.provider, real, database: input.database, drift, createdAt: rows[0].created_at.toISOString() };
}

/** Books a recorded drift as an adjustment of `available` (external <-> available), with the operator's reason. */
export async function applyDrift(
  deps: { pool: Pool; ledger: Ledger },
  input: { syncId: string; reason: string },
): Promise<{ applied: boolean; drift: number }> {
  const { rows } = await deps.pool.query<{ provider: string; drift: number }>('select provider, drift from pool_syncs where id = $1', [input.syncId]);
  const sync = rows[0];
  if (!sync) throw new SyncNotFoundError(`no sync ${input.syncId}`);
  if (sync.drift === 0) return { applied: false, drift: 0 };
  const key = `drift:${input.syncId}`;
  const [debit, credit] =
    sync.drift > 0
      ? [poolAccount(sync.provider, 'external'), poolAccount(sync.provider, 'available')]
      : [poolAccount(sync.provider, 'available'), poolAccount(sync.provider, 'external')];
  await deps.ledger.execute({
    key,
    actions: [{ type: 'transfer', debit, credit, amount: Math.abs(sync.drift), metadata: { reason: input.reason, syncId: input.syncId } }],
  });
  await deps.pool.query('update pool_syncs set applied_by = $2 where id = $1', [input.syncId, key]);
  return { applied: true, drift: sync.drift };
}

export class SyncNotFoundError extends Error {
  override name = 'SyncNotFoundError';
}
