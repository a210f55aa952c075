// Operators' lists: users (by id prefix, tier, balance range) and generations (by status, provider,
// user, date), paged by cursor, and one user's whole picture. Reads only; balances through src/ledger.
import { BUCKETS, userAccount } from '../credits/accounts.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Ledger } from '../ledger/index.ts';
import { isLedgerError } from '../ledger/errors.ts';

export interface AdminViewDeps {
  pool: Pool;
  ledger: Ledger;
  credits: Credits;
}

/** What a user owns: allowance + purchased (overflow is lent by the platform). */
const OWNED_KINDS = ['user-allowance', 'user-purchased'];
/** Rows scanned per request at most when a balance filter skips users: bounded work, and the cursor goes on. */
const SCAN_CHUNK = 500;
const SCAN_CHUNKS = 4;

export interface UserFilter {
  idPrefix?: string;
  tier?: string;
  minBalance?: number;
  maxBalance?: number;
  cursor?: string;
  limit: number;
}

export interface AdminUser {
  id: string;
  tier: string;
  nextTier: string | null;
  balance: number;
  createdAt: string;
}

/** LIKE's wildcards in a user's text are matched literally. */
const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Users in id order after `cursor`. Balances come from the ledger a chunk at a time; a balance filter
 * may leave a page short, and `cursor` (the last id looked at) goes on from there; null at the end.
 */
export async function listUsers(deps: AdminViewDeps, filter: UserFilter): Promise<{ users: AdminUser[]; cursor: string | null }> {
  const users: AdminUser[] = [];
  let after = filter.cursor ?? null;
  for (let chunk = 0; chunk < SCAN_CHUNKS; chunk++) {
    const { rows } = await deps.pool.query<{ id: string; tier: string; next_tier: string | null; created_at: Date }>(
      `select id, tier, next_tier, created_at from credit_users
        where ($1::text is null or id > $1) and ($2::text is null or id like $2) and ($3::text is null or tier = $3)
        order by id limit $4`,
      [after, filter.idPrefix ? likePrefix(filter.idPrefix) : null, filter.tier ?? null, SCAN_CHUNK],
    );
    if (rows.length === 0) return { users, cursor: null };
    const balances = await deps.ledger.balancesOfOwners(
      rows.map((r) => r.id),
      OWNED_KINDS,
    );
    for (const row of rows) {
      after = row.id;
      const balance = balances.get(row.id) ?? 0;
      if (filter.minBalance !== undefined && balance < filter.minBalance) continue;
      if (filter.maxBalance !== undefined && balance > filter.maxBalance) continue;
      users.push({ id: row.id, tier: row.tier, nextTier: row.next_tier, balance, createdAt: row.created_at.toISOString() });
      if (users.length === filter.limit) return { users, cursor: row.id };
    }
    if (rows.length < SCAN_CHUNK) return { users, cursor: null };
  }
  return { users, cursor: after };
}

export interface GenerationFilter {
  status?: 'queued' | 'processing' | 'completed' | 'failed';
  provider?: string;
  userId?: string;
  from?: Date;
  to?: Date;
  cursor?: string;
  limit: number;
}

export interface AdminGeneration {
  id: string;
  userId: string;
  modelId: string;
  enhancementType: string | null;
  status: string;
  provider: string | null;
  degraded: boolean;
  creditsHeld: number;
  creditsCharged: number | null;
  errorCode: string | null;
  createdAt: string;
  completedAt: string | null;
}

type GenerationRow = {
  id: string;
  user_id: string;
  model_id: string;
  enhancement_type: string | null;
  status: string;
  provider: string | null;
  degraded: boolean;
  credits_held: number;
  credits_charged: number | null;
  error_code: string | null;
  created_at: Date;
  completed_at: Date | null;
};

const presentGeneration = (r: GenerationRow): AdminGeneration => ({
  id: r.id,
  userId: r.user_id,
  modelId: r.model_id,
  enhancementType: r.enhancement_type,
  status: r.status,
  provider: r.provider,
  degraded: r.degraded,
  creditsHeld: r.credits_held,
  creditsCharged: r.credits_charged,
  errorCode: r.error_code,
  createdAt: r.created_at.toISOString(),
  completedAt: r.completed_at?.toISOString() ?? null,
});

const GENERATION_COLUMNS =
  'id, user_id, model_id, enhancement_type, status, provider, degraded, credits_held, credits_charged, error_code, created_at, completed_at';

/** Generations newest first (ids sort by creation), filtered; `cursor` is the last id of the previous page. */
export async function listGenerations(deps: AdminViewDeps, filter: GenerationFilter): Promise<{ generations: AdminGeneration[]; cursor: string | null }> {
  const { rows } = await deps.pool.query<GenerationRow>(
    `select ${GENERATION_COLUMNS} from generations
      where ($1::text is null or status = $1) and ($2::text is null or provider = $2) and ($3::text is null or user_id = $3)
        and ($4::timestamptz is null or created_at >= $4) and ($5::timestamptz is null or created_at < $5) and ($6::text is null or id < $6)
      order by id desc limit $7`,
    [filter.status ?? null, filter.provider ?? null, filter.userId ?? null, filter.from ?? null, filter.to ?? null, filter.cursor ?? null, filter.limit],
  );
  return { generations: rows.map(presentGeneration), cursor: rows.length === filter.limit ? rows[rows.length - 1]!.id : null };
}

/** One user's picture, or null for a user Tally has never seen (a lookup creates nobody). */
export async function userDetail(deps: AdminViewDeps, userId: string) {
  const known = await deps.pool.query('select 1 from credit_users where id = $1', [userId]);
  if (known.rowCount === 0) return null;
  const [balance, generations, purchases, ...histories] = await Promise.all([
    deps.credits.balance(userId),
    deps.pool.query<GenerationRow>(`select ${GENERATION_COLUMNS} from generations where user_id = $1 order by id desc limit 20`, [userId]),
    deps.pool.query<{
      id: string;
      package_id: string;
      mode: string;
      credits: string;
      amount: string;
      currency: string;
      status: string;
      amount_refunded: string;
      created_at: Date;
    }>(
      'select id, package_id, mode, credits, amount, currency, status, amount_refunded, created_at from purchases where user_id = $1 order by created_at desc, id desc limit 20',
      [userId],
    ),
    // A bucket the user never had (no account yet) has no transfers.
    ...BUCKETS.map((bucket) =>
      deps.ledger.history(userAccount(userId, bucket), { limit: 20 }).catch((error: unknown) => {
        if (isLedgerError(error, 'account_not_found')) return { entries: [], cursor: null };
        throw error;
      }),
    ),
  ]);
  const transfers = histories
    .flatMap((h, i) => h.entries.map((e) => ({ bucket: BUCKETS[i]!, effect: e.effect, direction: e.direction, transfer: e.transfer })))
    .sort((a, b) => (a.transfer.id < b.transfer.id ? 1 : -1))
    .slice(0, 20);
  return {
    balance,
    generations: generations.rows.map(presentGeneration),
    purchases: purchases.rows.map((p) => ({
      id: p.id,
      packageId: p.package_id,
      mode: p.mode,
      credits: Number(p.credits),
      amount: Number(p.amount),
      currency: p.currency,
      status: p.status,
      amountRefunded: Number(p.amount_refunded),
      createdAt: p.created_at.toISOString(),
    })),
    transfers,
  };
}
