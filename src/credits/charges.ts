// Charging a user for work (docs/rules.md §2–3): a hold over their buckets in spending order, then settled
// with the pool movement of the provider that did the work, or voided (the refund).
//
// Buckets: allowance, then purchased, then overflow (a paid tier's monthly cap, funded unbacked like
// an allowance). Allowance and purchased credits are backed in the primary pool's `reserved`; overflow
// is not, so its work is paid from `available`.
import type { CreditsConfig } from '../config/index.ts';
import type { Client, Pool } from '../db/pool.ts';
import { isLedgerError, type Ledger, type Operation, type Transfer } from '../ledger/index.ts';
import { BUCKETS, SPENT, poolAccount, userAccount, type Bucket } from './accounts.ts';
import { recordAlert } from './alerts.ts';
import { InsufficientCreditsError } from './errors.ts';

export type ChargeBucket = Bucket;
/** How many credits of a hold each bucket gave. */
export type ChargeSplit = Partial<Record<ChargeBucket, number>>;

/** The 402 a user meets; a free user is told to upgrade as well as to buy. */
export function insufficientCredits(input: { needed: number; available: number; tier: string; config: CreditsConfig }): InsufficientCreditsError {
  const upgrade = (input.config.tiers[input.tier]?.allowance ?? 0) === 0;
  const message = `Insufficient credits: ${input.available} left, ${input.needed} needed. ${upgrade ? 'Buy a package or upgrade your plan.' : 'Buy a package to continue.'}`;
  return new InsufficientCreditsError(message, { needed: input.needed, available: input.available, tier: input.tier, upgrade });
}

interface Deps {
  pool: Pool;
  ledger: Ledger;
  config: CreditsConfig;
}

/** Decides which buckets pay, in spending order. Pure: unit-tested without a database. */
export function splitCharge(credits: number, balances: Record<ChargeBucket, number>): ChargeSplit | undefined {
  const split: ChargeSplit = {};
  let left = credits;
  for (const bucket of BUCKETS) {
    const take = Math.min(left, balances[bucket]);
    if (take > 0) split[bucket] = take;
    left -= take;
  }
  return left === 0 ? split : undefined;
}

/**
 * Locks the user's bucket accounts and reads their balances, in one statement. FOR UPDATE waits for a
 * charge of the same user in flight and then returns the rows as that charge left them, so no two
 * charges of one user decide on the same balances. Locked in id order, as the ledger locks accounts.
 */
async function lockBuckets(ledger: Ledger, client: Client, userId: string): Promise<Record<ChargeBucket, number>> {
  const balances = await ledger.lockBalances(
    client,
    BUCKETS.map((bucket) => userAccount(userId, bucket)),
    { ownerId: userId },
  );
  const balance = (bucket: ChargeBucket) => balances.get(userAccount(userId, bucket)) ?? 0;
  return { allowance: balance('allowance'), purchased: balance('purchased'), overflow: balance('overflow') };
}

const userLocks = new Map<string, Promise<unknown>>();

/** One charge decision per user at a time in this process (the bucket rows' locks cover other processes). */
function serialisePerUser<T>(userId: string, work: () => Promise<T>): Promise<T> {
  const previous = userLocks.get(userId) ?? Promise.resolve();
  const next = previous.then(work, work);
  const tail = next.catch(() => undefined);
  userLocks.set(userId, tail);
  void tail.then(() => {
    if (userLocks.get(userId) === tail) userLocks.delete(userId);
  });
  return next;
}

/**
 * Places a hold of `credits` over the user's buckets under `key`. The balances are read and the hold
 * placed in one transaction holding the buckets' row locks, so concurrent charges of one user never
 * split on a stale read; the buckets are never-negative accounts, so the database refuses an overdraft anyway.
 */
export interface ChargeHoldInput {
  userId: string;
  credits: number;
  key: string;
  expiresAt?: Date;
  /** A key never used before: no look for an earlier answer. */
  fresh?: boolean;
  /** Rows that must exist exactly when the hold does; runs in the hold's transaction (maybe twice, see Ledger.transaction). */
  alsoIn?: (client: Client, split: ChargeSplit) => Promise<void>;
}

export interface ChargeHoldResult {
  hold: string;
  split: ChargeSplit;
  /** What the user still owns after the hold (-1 when the key was already used and nothing was held now). */
  remaining: number;
}

export async function chargeHold(deps: Deps, input: ChargeHoldInput): Promise<ChargeHoldResult> {
  return serialisePerUser(input.userId, () =>
    deps.ledger.transaction(async (client) => {
      const balances = await lockBuckets(deps.ledger, client, input.userId);
      // A key never used before (`fresh`) needs no look for an earlier answer.
      if (!input.fresh) {
        const existing = await deps.ledger.transfersOf(input.key, client);
        if (existing.length > 0) return { hold: input.key, split: splitOf(existing), remaining: -1 };
      }
      const split = splitCharge(input.credits, balances);
      if (!split) {
        const { rows } = await client.query<{ tier: string }>('select tier from credit_users where id = $1', [input.userId]);
        throw insufficientCredits({
          needed: input.credits,
          available: balances.allowance + balances.purchased + balances.overflow,
          tier: rows[0]?.tier ?? 'free',
          config: deps.config,
        });
      }
      await deps.ledger.executeIn(client, {
        key: input.key,
        actions: Object.entries(split).map(([bucket, amount]) => ({
          type: 'transfer' as const,
          debit: userAccount(input.userId, bucket as ChargeBucket),
          credit: SPENT,
          amount: amount!,
          pending: true,
          expiresAt: input.expiresAt,
          metadata: { bucket },
        })),
      });
      // Rows that must exist exactly when the hold does (a generation and its queue job) commit with it.
      await input.alsoIn?.(client, split);
      // What the user still owns (allowance + purchased; overflow is lent, not owned).
      const remaining = balances.allowance + balances.purchased - (split.allowance ?? 0) - (split.purchased ?? 0);
      return { hold: input.key, split, remaining };
    }),
  );
}

function splitOf(transfers: Transfer[]): ChargeSplit {
  return Object.fromEntries(transfers.map((t) => [String(t.metadata?.bucket ?? 'purchased'), t.amount]));
}

/**
 * The work is done: the user's hold is posted and the pool moves with it. On the primary provider its
 * backing is consumed (reserved -> consumed; overflow from available). On a fallback provider the
 * primary's backing returns to available and the fallback's `units` are consumed from its own pool.
 */
export async function settleCharge(deps: Deps, input: { hold: string; provider: string; units?: number; client?: Client; split?: ChargeSplit }): Promise<void> {
  const execute = (op: Operation) => (input.client ? deps.ledger.executeIn(input.client, op) : deps.ledger.execute(op));
  const primary = deps.config.primaryProvider;
  const ratio = deps.config.pools[primary]!.ratio;
  // The split as chargeHold returned it (kept by the caller), or read back from the hold.
  const split = input.split ?? splitOf(await heldTransfers(deps, input));
  const backed = ((split.allowance ?? 0) + (split.purchased ?? 0)) * ratio;
  const unbacked = (split.overflow ?? 0) * ratio;
  const post = { type: 'post' as const, hold: input.hold };
  const move = (debit: string, credit: string, amount: number, reason: string) =>
    amount > 0 ? [{ type: 'transfer' as const, debit, credit, amount, metadata: { reason, hold: input.hold } }] : [];

  const poolMoves =
    input.provider === primary
      ? [
          ...move(poolAccount(primary, 'reserved'), poolAccount(primary, 'consumed'), backed, 'work done'),
          ...move(poolAccount(primary, 'available'), poolAccount(primary, 'consumed'), unbacked, 'overflow work done'),
        ]
      : [
          ...move(poolAccount(primary, 'reserved'), poolAccount(primary, 'available'), backed, `work done by ${input.provider}: backing released`),
          ...move(poolAccount(input.provider, 'available'), poolAccount(input.provider, 'consumed'), input.units ?? 0, 'work done'),
        ];
  try {
    await execute({ key: `settle:${input.hold}`, actions: [post, ...poolMoves] });
  } catch (error) {
    if (!isLedgerError(error, 'insufficient_funds')) throw error;
    // The work was done and the user pays for it whatever the pool says: post the hold alone and
    // report the pool's shortfall (it shows as drift in the backing check).
    await execute({ key: `settle:${input.hold}:pool-short`, actions: [post] });
    await recordAlert(input.client ?? deps.pool, {
      type: 'pool_shortfall',
      level: 'critical',
      message: `Work for ${input.hold} was settled without moving the ${String(error.detail.account)} units: the pool is short`,
      data: { hold: input.hold, provider: input.provider, ...error.detail },
    });
  }
}

async function heldTransfers(deps: Deps, input: { hold: string; client?: Client }): Promise<Transfer[]> {
  const transfers = await deps.ledger.transfersOf(input.hold, input.client);
  if (transfers.length === 0) throw new Error(`no charge ${input.hold}`);
  return transfers;
}

/** The work failed: the hold is voided and the user has every credit back (the refund). */
export async function refundCharge(deps: Deps, input: { hold: string; client?: Client }): Promise<void> {
  const op: Operation = { key: `refund:${input.hold}`, actions: [{ type: 'void', hold: input.hold }] };
  await (input.client ? deps.ledger.executeIn(input.client, op) : deps.ledger.execute(op));
}
