// Monthly allowances (docs/rules.md §2): granted at the tier's amount with backing reserved from the primary
// pool, expired at the monthly reset with the backing released. Every step is a keyed ledger operation,
// so running a reset twice, or from two processes at once, grants once.
import type { CreditsConfig } from '../config/index.ts';
import { withTransaction, type Client, type Pool, type Queryable } from '../db/pool.ts';
import { isLedgerError, type Ledger, type Operation } from '../ledger/index.ts';
import { ISSUANCE, poolAccount, userAccount } from './accounts.ts';
import { recordAlert } from './alerts.ts';

/** `2026-11`: the month an allowance belongs to, in UTC. */
export function periodOf(date: Date): string {
  return date.toISOString().slice(0, 7);
}

export function previousPeriod(period: string): string {
  const [year, month] = period.split('-').map(Number) as [number, number];
  return periodOf(new Date(Date.UTC(year, month - 2, 1)));
}

interface Deps {
  pool: Pool;
  ledger: Ledger;
  config: CreditsConfig;
  /**
   * Set while a named lock is held: every read and ledger operation then runs in the lock's own
   * transaction, so work under the lock never waits for a second connection from the pool (with every
   * connection held by lock waiters, that wait would never end).
   */
  tx?: Client;
}

const run = (deps: Deps, op: Operation) => (deps.tx ? deps.ledger.executeIn(deps.tx, op) : deps.ledger.execute(op));
const dbOf = (deps: Deps): Queryable => deps.tx ?? deps.pool;

/**
 * Grants `credits` of allowance under `key`, backed by the primary pool. A grant is never refused for
 * lack of pool: without enough backing the credits are granted unbacked (`<key>:unbacked`) and a
 * critical alert says so.
 */
export async function grantAllowance(deps: Deps, input: { userId: string; credits: number; key: string; reason: string }): Promise<{ backed: boolean }> {
  if (input.credits <= 0) return { backed: true };
  const provider = deps.config.primaryProvider;
  const backing = input.credits * deps.config.pools[provider]!.ratio;
  const userLeg = {
    type: 'transfer' as const,
    debit: ISSUANCE,
    credit: userAccount(input.userId, 'allowance'),
    amount: input.credits,
    metadata: { reason: input.reason },
  };
  try {
    await run(deps, {
      key: input.key,
      actions: [
        userLeg,
        {
          type: 'transfer',
          debit: poolAccount(provider, 'available'),
          credit: poolAccount(provider, 'reserved'),
          amount: backing,
          metadata: { reason: `backing: ${input.reason}`, userId: input.userId },
        },
      ],
    });
    return { backed: true };
  } catch (error) {
    if (!isLedgerError(error, 'insufficient_funds') || error.detail.account !== poolAccount(provider, 'available')) throw error;
  }
  // Allowance grants may draw on the emergency reserve that sales may not touch.
  try {
    await run(deps, {
      key: `${input.key}:emergency`,
      actions: [
        userLeg,
        {
          type: 'transfer',
          debit: poolAccount(provider, 'emergency'),
          credit: poolAccount(provider, 'reserved'),
          amount: backing,
          metadata: { reason: `backing from the emergency reserve: ${input.reason}`, userId: input.userId },
        },
      ],
    });
    return { backed: true };
  } catch (error) {
    if (!isLedgerError(error, 'insufficient_funds') || error.detail.account !== poolAccount(provider, 'emergency')) throw error;
  }
  const unbacked = await run(deps, { key: `${input.key}:unbacked`, actions: [userLeg] });
  if (!unbacked.replayed) {
    await recordAlert(dbOf(deps), {
      type: 'allowance_shortfall',
      level: 'critical',
      message: `Granted ${input.credits} allowance credits to ${input.userId} without backing: the ${provider} pool is short of ${backing} units`,
      data: { userId: input.userId, credits: input.credits, backing, key: input.key },
    });
  }
  return { backed: false };
}

/** A paid tier's overflow: the month's cap, lent by the platform (unbacked; its work is paid from available). */
export async function fundOverflow(deps: Deps, input: { userId: string; credits: number; key: string }): Promise<void> {
  if (input.credits <= 0) return;
  await run(deps, {
    key: input.key,
    actions: [
      { type: 'transfer', debit: ISSUANCE, credit: userAccount(input.userId, 'overflow'), amount: input.credits, metadata: { reason: 'monthly overflow cap' } },
    ],
  });
}

export const grantKey = (userId: string, period: string) => `allowance:${userId}:${period}`;
export const topUpKey = (userId: string, period: string, tier: string) => `allowance-topup:${userId}:${period}:${tier}`;

/**
 * The allowance credits of a month granted without backing (its grant and top-ups that fell back to
 * `:unbacked`). Spending allowance consumes backing as if every credit were backed, so the unbacked
 * part counts as spent first: of `remaining` credits at expiry, max(0, remaining - unbacked) are backed.
 * The month that starts is counted too: an upgrade just before its reset ran is keyed to it, and the
 * reset expires it with the rest.
 */
async function unbackedCredits(deps: Deps, userId: string, periods: string[]): Promise<number> {
  const keys = periods.flatMap((period) => [grantKey(userId, period), ...Object.keys(deps.config.tiers).map((tier) => topUpKey(userId, period, tier))]);
  let total = 0;
  for (const key of keys) for (const transfer of await deps.ledger.transfersOf(`${key}:unbacked`, dbOf(deps))) total += transfer.amount;
  return total;
}

/** Units of backing to release when `remaining` allowance credits expire (pure; see unbackedCredits). */
export function backingToRelease(input: { remaining: number; unbacked: number; ratio: number }): number {
  return Math.max(0, input.remaining - input.unbacked) * input.ratio;
}

/** Runs `work` while holding a lock named `name`, across every process on this database. */
export function withNamedLock<T>(pool: Pool, name: string, work: (tx: Client) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (tx) => {
    await tx.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [name]);
    return work(tx);
  });
}

/**
 * The reset of one user for `period` (the month that starts): the previous month's remaining allowance
 * expires (its backing returns to available), a pending downgrade takes effect, and the new month's
 * allowance is granted. Purchased credits are never touched.
 */
export async function resetUserMonth(
  deps: Deps,
  input: { userId: string; period: string },
): Promise<{ expired: number; granted: number; tier: string; alreadyDone: boolean }> {
  // One reset of a user at a time, in any process: the second finds the month already granted.
  return withNamedLock(deps.pool, `allowance-reset:${input.userId}`, (tx) => resetLocked({ ...deps, tx }, input));
}

async function resetLocked(
  deps: Deps,
  input: { userId: string; period: string },
): Promise<{ expired: number; granted: number; tier: string; alreadyDone: boolean }> {
  const key = grantKey(input.userId, input.period);
  let done = false;
  for (const attempt of [key, `${key}:emergency`, `${key}:unbacked`]) done ||= (await deps.ledger.transfersOf(attempt, dbOf(deps))).length > 0;
  const current = (await dbOf(deps).query<{ tier: string; next_tier: string | null }>('select tier, next_tier from credit_users where id = $1', [input.userId]))
    .rows[0];
  if (!current) throw new Error(`no user ${input.userId}`);
  if (done) return { expired: 0, granted: 0, tier: current.tier, alreadyDone: true };
  const provider = deps.config.primaryProvider;
  const ratio = deps.config.pools[provider]!.ratio;
  const previous = previousPeriod(input.period);
  const wallet = userAccount(input.userId, 'allowance');

  // The amount to expire is read, then moved under a key that names it: if the user spends in between,
  // the transfer is refused for funds and the loop reads again (a new amount, a new key).
  let expired = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const remaining = (await deps.ledger.balanceOf(wallet, { db: dbOf(deps) })).balance;
    if (remaining === 0) break;
    const release = backingToRelease({ remaining, unbacked: await unbackedCredits(deps, input.userId, [previous, input.period]), ratio });
    try {
      await run(deps, {
        key: `allowance-expiry:${input.userId}:${input.period}:${remaining}`,
        actions: [
          { type: 'transfer', debit: wallet, credit: ISSUANCE, amount: remaining, metadata: { reason: `allowance of ${previous} expired` } },
          ...(release > 0
            ? [
                {
                  type: 'transfer' as const,
                  debit: poolAccount(provider, 'reserved'),
                  credit: poolAccount(provider, 'available'),
                  amount: release,
                  metadata: { reason: 'backing of expired allowance released', userId: input.userId },
                },
              ]
            : []),
        ],
      });
      expired = remaining;
      break;
    } catch (error) {
      if (!isLedgerError(error, 'insufficient_funds') || error.detail.account !== wallet) throw error;
    }
  }

  // Unused overflow lapses too (it was never backed, so nothing returns to the pool).
  const overflowLeft = (await deps.ledger.balanceOf(userAccount(input.userId, 'overflow'), { db: dbOf(deps) })).balance;
  if (overflowLeft > 0) {
    await run(deps, {
      key: `overflow-expiry:${input.userId}:${input.period}:${overflowLeft}`,
      actions: [
        {
          type: 'transfer',
          debit: userAccount(input.userId, 'overflow'),
          credit: ISSUANCE,
          amount: overflowLeft,
          metadata: { reason: `overflow of ${previous} lapsed` },
        },
      ],
    });
  }

  // The tier the new month is granted at: a pending downgrade applies now.
  const { rows } = await dbOf(deps).query<{ tier: string }>(
    `update credit_users set tier = coalesce(next_tier, tier), next_tier = null, updated_at = now() where id = $1 returning tier`,
    [input.userId],
  );
  const tier = rows[0]!.tier;
  const granted = deps.config.tiers[tier]?.allowance ?? 0;
  await grantAllowance(deps, {
    userId: input.userId,
    credits: granted,
    key: grantKey(input.userId, input.period),
    reason: `${tier} allowance for ${input.period}`,
  });
  await fundOverflow(deps, { userId: input.userId, credits: deps.config.tiers[tier]?.overflowCap ?? 0, key: `overflow:${input.userId}:${input.period}` });
  return { expired, granted, tier, alreadyDone: false };
}
