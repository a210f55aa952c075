// The credits domain (docs/rules.md §1–3) on the ledger: users and tiers, buckets, provider pools, capacity
// and purchases. Every balance here is a ledger account; this module only decides which transfers to ask
// for, and the ledger's never-negative accounts make the capacity check atomic with the sale.
import type { CreditsConfig } from '../config/index.ts';
import type { Client, Pool, Queryable } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import { isLedgerError, type InvariantCheck, type Ledger } from '../ledger/index.ts';
import { BUCKETS, ISSUANCE, SPENT, canonicalProvider, poolAccount, userAccount } from './accounts.ts';
import { fundOverflow, grantAllowance, periodOf, resetUserMonth, topUpKey, withNamedLock } from './allowance.ts';
import { backingMatchesCredits } from './invariants.ts';
import { sellPackage, type DevelopmentSaleInput } from './sale.ts';
import type { Capacity, PoolState, UserBalance } from './types.ts';
import { chargeHold, insufficientCredits, refundCharge, settleCharge, type ChargeHoldInput, type ChargeHoldResult, type ChargeSplit } from './charges.ts';
import { adjustPurchased } from './adjustments.ts';
import { checkBurnRates, type BurnRate } from './burn.ts';
import { checkRefillThresholds, decideRefill, listRefillRequests, openRefillRequest, type RefillRequest } from './refills.ts';
import { applyDrift, syncPool, SyncNotFoundError, type ProviderBalancePort, type SyncResult } from './sync.ts';

export type { ProviderBalancePort, SyncResult } from './sync.ts';
export type { RefillRequest } from './refills.ts';

import { CreditsError, PACKAGE_UNAVAILABLE_LABEL } from './errors.ts';

export { canonicalProvider } from './accounts.ts';
export { CreditsError, InsufficientCreditsError, RefillDecisionError, type CreditsErrorCode } from './errors.ts';
export type { ChargeSplit } from './charges.ts';

export type { Capacity, PackageOffer, PoolState, UserBalance } from './types.ts';

export class Credits {
  private readonly knownUsers = new Set<string>();

  constructor(private readonly deps: { pool: Pool; ledger: Ledger; config: CreditsConfig; balances?: ProviderBalancePort }) {}

  private get config() {
    return this.deps.config;
  }

  /** Opens the platform's accounts: issuance, spent, and each configured pool's four parts. */
  async openPlatformAccounts(): Promise<void> {
    const { ledger } = this.deps;
    await ledger.openAccount({ id: ISSUANCE, asset: 'credits', kind: 'issuance' });
    await ledger.openAccount({ id: SPENT, asset: 'credits', kind: 'spent' });
    for (const provider of Object.keys(this.config.pools)) {
      await ledger.openAccount({ id: poolAccount(provider, 'external'), asset: provider, kind: 'pool-external' });
      await ledger.openAccount({ id: poolAccount(provider, 'available'), asset: provider, kind: 'pool-available', neverNegative: true });
      await ledger.openAccount({ id: poolAccount(provider, 'reserved'), asset: provider, kind: 'pool-reserved', neverNegative: true });
      await ledger.openAccount({ id: poolAccount(provider, 'consumed'), asset: provider, kind: 'pool-consumed' });
      await ledger.openAccount({ id: poolAccount(provider, 'emergency'), asset: provider, kind: 'pool-emergency', neverNegative: true });
    }
  }

  /** A user is created on first sight, on the lowest tier, with empty buckets. */
  async ensureUser(userId: string): Promise<void> {
    if (this.knownUsers.has(userId)) return;
    await this.deps.pool.query(`insert into credit_users (id, tier) values ($1, $2) on conflict (id) do nothing`, [userId, this.lowestTier()]);
    for (const bucket of BUCKETS) {
      await this.deps.ledger.openAccount({ id: userAccount(userId, bucket), asset: 'credits', kind: `user-${bucket}`, ownerId: userId, neverNegative: true });
    }
    this.knownUsers.add(userId);
  }

  async balance(userId: string): Promise<UserBalance> {
    await this.ensureUser(userId);
    const [users, balances] = await Promise.all([
      this.deps.pool.query<{ tier: string; next_tier: string | null }>('select tier, next_tier from credit_users where id = $1', [userId]),
      this.deps.ledger.balances(
        BUCKETS.map((bucket) => userAccount(userId, bucket)),
        { ownerId: userId },
      ),
    ]);
    const { tier, next_tier: nextTier } = users.rows[0]!;
    const [allowance, purchased, overflow] = BUCKETS.map((bucket) => balances.get(userAccount(userId, bucket)) ?? 0) as [number, number, number];
    return {
      userId,
      balance: allowance + purchased,
      allowance,
      purchased,
      overflow,
      overflowUsed: Math.max(0, (this.config.tiers[tier]?.overflowCap ?? 0) - overflow),
      tier,
      nextTier,
      resetsAt: nextMonthlyReset(new Date()).toISOString(),
    };
  }

  async poolState(provider: string, db: Queryable = this.deps.pool): Promise<PoolState> {
    const name = this.requirePool(provider);
    const settings = this.config.pools[name]!;
    const parts = await this.deps.ledger.balances(
      (['available', 'reserved', 'consumed', 'emergency'] as const).map((part) => poolAccount(name, part)),
      { db },
    );
    const part = (p: 'available' | 'reserved' | 'consumed' | 'emergency') => parts.get(poolAccount(name, p)) ?? 0;
    const available = part('available');
    return {
      provider: name,
      unit: settings.unit,
      ratio: settings.ratio,
      available,
      reserved: part('reserved'),
      emergency: part('emergency'),
      emergencyReserve: settings.emergencyReserve,
      consumed: part('consumed'),
      balance: available + part('reserved') + part('emergency'),
      sellableUserCredits: Math.floor(available / settings.ratio),
      unitCostMicroUsd: settings.unitCostMicroUsd,
      lowThreshold: settings.lowThreshold,
      criticalThreshold: settings.criticalThreshold,
    };
  }

  async capacity(): Promise<Capacity> {
    const pools = await Promise.all(Object.keys(this.config.pools).map((provider) => this.poolState(provider)));
    const primary = pools.find((p) => p.provider === this.config.primaryProvider)!;
    const packages = this.config.packages.map((pkg) => {
      const disabled = pkg.credits > primary.sellableUserCredits;
      return { ...pkg, disabled, message: disabled ? PACKAGE_UNAVAILABLE_LABEL : null };
    });
    return { primaryProvider: primary.provider, pools, packages, bufferLevels: this.config.bufferLevels };
  }

  /** A sale granted at once, without payment (development purchases only; see sale.ts). */
  async purchase(input: DevelopmentSaleInput): Promise<{ granted: number; balance: UserBalance; packageId: string }> {
    await this.ensureUser(input.userId);
    const pkg = await sellPackage({ pool: this.deps.pool, ledger: this.deps.ledger, config: this.config, poolState: (p) => this.poolState(p) }, input);
    return { granted: pkg.credits, balance: await this.balance(input.userId), packageId: pkg.id };
  }

  /**
   * The host application sets a user's tier. An upgrade applies at once and tops the allowance up by
   * the difference (backed like any grant); a downgrade waits for the next monthly reset.
   */
  async setTier(userId: string, tier: string): Promise<UserBalance> {
    const target = this.config.tiers[tier];
    if (!target) throw new CreditsError('unknown_tier', `no tier "${tier}"; tiers: ${this.tiers().join(', ')}`, 'tier');
    await this.ensureUser(userId);
    const deps = this.domainDeps();
    await withNamedLock(this.deps.pool, `allowance-reset:${userId}`, async (tx) => {
      const { rows } = await tx.query<{ tier: string }>('select tier from credit_users where id = $1', [userId]);
      const current = this.config.tiers[rows[0]!.tier]?.allowance ?? 0;
      if (target.allowance < current) {
        await tx.query('update credit_users set next_tier = $2, updated_at = now() where id = $1', [userId, tier]);
        return;
      }
      await tx.query('update credit_users set tier = $2, next_tier = null, updated_at = now() where id = $1', [userId, tier]);
      const period = periodOf(new Date());
      const scoped = { ...deps, tx };
      await grantAllowance(scoped, {
        userId,
        credits: target.allowance - current,
        key: topUpKey(userId, period, tier),
        reason: `upgrade to ${tier} in ${period}`,
      });
      const currentCap = this.config.tiers[rows[0]!.tier]?.overflowCap ?? 0;
      await fundOverflow(scoped, { userId, credits: target.overflowCap - currentCap, key: `overflow:${userId}:${period}:${tier}` });
    });
    return this.balance(userId);
  }

  /** The monthly reset of every user for `period` (default: this month). Idempotent. */
  async resetMonth(period = periodOf(new Date()), onProgress?: (done: number) => void): Promise<{ users: number; expired: number; granted: number }> {
    const deps = this.domainDeps();
    const totals = { users: 0, expired: 0, granted: 0 };
    for (let after = ''; ;) {
      const { rows } = await this.deps.pool.query<{ id: string }>('select id from credit_users where id > $1 order by id limit 200', [after]);
      if (rows.length === 0) return totals;
      const results = await Promise.all(rows.map((row) => resetUserMonth(deps, { userId: row.id, period })));
      for (const r of results) {
        totals.expired += r.expired;
        totals.granted += r.granted;
      }
      totals.users += rows.length;
      onProgress?.(totals.users);
      after = rows[rows.length - 1]!.id;
    }
  }

  /** The credits domain's ledger invariants (see invariants.ts). */
  invariantChecks(): InvariantCheck[] {
    return [backingMatchesCredits(this.config)];
  }

  /**
   * A cheap early refusal for a user who plainly cannot pay (before slow work such as fetching an
   * image). Only advisory: the hold is the real check, made under the lock on the user's buckets.
   */
  async assertCanPay(userId: string, credits: number): Promise<void> {
    await this.ensureUser(userId);
    const balance = await this.balance(userId);
    const available = balance.allowance + balance.purchased + balance.overflow;
    if (available >= credits) return;
    throw insufficientCredits({ needed: credits, available, tier: balance.tier, config: this.config });
  }

  /** Holds `credits` over the user's buckets in spending order; 402-worthy error when they cannot pay. */
  async chargeHold(input: ChargeHoldInput): Promise<ChargeHoldResult> {
    await this.ensureUser(input.userId);
    return chargeHold(this.domainDeps(), input);
  }

  /**
   * A transaction for work that books credits (`settle`, `refund` with its client) together with other
   * rows; its ledger steps are planned optimistically (see Ledger.transaction), so `work` may run twice.
   */
  transaction<T>(work: (client: Client) => Promise<T>): Promise<T> {
    return this.deps.ledger.transaction(work);
  }

  /** The work is done: `provider` names the pool that paid for it (docs/rules.md §3). */
  settle(input: { hold: string; provider: string; units?: number; client?: Client; split?: ChargeSplit }): Promise<void> {
    return settleCharge(this.domainDeps(), { ...input, provider: this.requirePool(input.provider) });
  }

  /** Work done by a provider with no pool of its own (local, or a pay-as-you-go provider): the user pays; the primary's backing returns to available. */
  settleWithoutPool(input: { hold: string; client?: Client; split?: ChargeSplit }): Promise<void> {
    return settleCharge(this.domainDeps(), { ...input, provider: '(no pool)', units: 0 });
  }

  refund(input: { hold: string; client?: Client }): Promise<void> {
    return refundCharge(this.domainDeps(), input);
  }

  private domainDeps() {
    return { pool: this.deps.pool, ledger: this.deps.ledger, config: this.config };
  }

  /** Compares the pool with the provider's count and records the drift (alerted when not zero). */
  async sync(provider: string, now?: Date): Promise<SyncResult> {
    const name = this.requirePool(provider);
    if (!this.deps.balances) throw new CreditsError('no_balance_source', `no balance source is configured for ${name}; provider adapters supply one`);
    const state = await this.poolState(name);
    return syncPool(
      { pool: this.deps.pool, port: this.deps.balances },
      { provider: name, database: state.balance, tolerance: this.config.pools[name]!.syncTolerance, now },
    );
  }

  /** Pools whose provider can report a balance (a scheduled sync skips the others). */
  syncablePools(): string[] {
    const port = this.deps.balances;
    if (!port) return [];
    return Object.keys(this.config.pools).filter((pool) => port.hasSource?.(pool) ?? true);
  }

  /** Books a recorded drift as an adjustment, with the operator's reason. */
  async applyDrift(input: { syncId: string; reason: string }): Promise<{ applied: boolean; drift: number; pool?: PoolState }> {
    try {
      const result = await applyDrift({ pool: this.deps.pool, ledger: this.deps.ledger }, input);
      const { rows } = await this.deps.pool.query<{ provider: string }>('select provider from pool_syncs where id = $1', [input.syncId]);
      return { ...result, pool: await this.poolState(rows[0]!.provider) };
    } catch (error) {
      if (error instanceof SyncNotFoundError) throw new CreditsError('not_found', error.message);
      if (isLedgerError(error, 'insufficient_funds')) {
        throw new CreditsError(
          'drift_exceeds_available',
          'the provider holds fewer units than are available here: the shortfall is backing already sold, refill before booking it',
        );
      }
      throw error;
    }
  }

  /**
   * An admin's grant (credits > 0, backed like a sale: 409 when the pool cannot back it) or correction
   * (credits < 0, backing released) of a user's purchased credits, always with a reason.
   */
  async adjust(input: { userId: string; credits: number; reason: string; key?: string }): Promise<UserBalance> {
    if (Math.abs(input.credits) > this.config.maxAdminAmount)
      throw new CreditsError('amount_too_large', `credits is over the limit of ${this.config.maxAdminAmount}`, 'credits');
    await this.ensureUser(input.userId);
    await adjustPurchased({ ledger: this.deps.ledger, config: this.config }, input);
    return this.balance(input.userId);
  }

  /** Burn rate of every pool, with an alert for each projected to run dry inside the horizon. */
  burnRates(now = new Date(), options: { alert?: boolean } = {}): Promise<BurnRate[]> {
    return checkBurnRates(
      {
        pool: this.deps.pool,
        ledger: this.deps.ledger,
        ...options,
        providers: Object.keys(this.config.pools),
        horizonDays: this.config.burnAlertHorizonDays,
        poolState: (p) => this.poolState(p),
      },
      now,
    );
  }

  /** Pools under their refill threshold (20% of their last refill) get a refill request and an alert. */
  checkRefillThresholds(): Promise<RefillRequest[]> {
    return checkRefillThresholds({ pool: this.deps.pool, providers: Object.keys(this.config.pools), poolState: (p) => this.poolState(p) });
  }

  /** Refill requests, newest first, optionally of one status. */
  refillRequests(status?: RefillRequest['status']): Promise<RefillRequest[]> {
    return listRefillRequests(this.deps.pool, status);
  }

  /** An operator asks for a refill by hand (the threshold check opens them by itself). */
  requestRefill(input: { provider: string; amount: number; reason: string }): Promise<RefillRequest> {
    if (input.amount > this.config.maxAdminAmount)
      throw new CreditsError('amount_too_large', `amount is over the limit of ${this.config.maxAdminAmount}`, 'amount');
    return openRefillRequest(this.deps.pool, { ...input, provider: this.requirePool(input.provider) });
  }

  /** Approves (booking the refill, keyed by the request so it happens once) or rejects an open request. */
  decideRefill(input: { id: string; approve: boolean; note?: string }): Promise<RefillRequest> {
    return decideRefill({ pool: this.deps.pool, refill: (r) => this.refill(r) }, input);
  }

  /** The operator bought provider credits: external -> available. */
  async refill(input: { provider: string; amount: number; reason?: string; key?: string }): Promise<PoolState> {
    const provider = this.requirePool(input.provider);
    if (input.amount > this.config.maxAdminAmount)
      throw new CreditsError('amount_too_large', `amount is over the limit of ${this.config.maxAdminAmount}`, 'amount');
    // A refill first tops the emergency reserve up to its level; the rest becomes sellable.
    const { emergency, emergencyReserve } = await this.poolState(provider);
    const toEmergency = Math.min(input.amount, Math.max(0, emergencyReserve - emergency));
    const reason = input.reason ?? 'manual refill';
    await this.deps.ledger.execute({
      key: `refill:${provider}:${input.key ?? newId('ref')}`,
      actions: [
        ...(input.amount > toEmergency
          ? [
              {
                type: 'transfer' as const,
                debit: poolAccount(provider, 'external'),
                credit: poolAccount(provider, 'available'),
                amount: input.amount - toEmergency,
                metadata: { reason },
              },
            ]
          : []),
        ...(toEmergency > 0
          ? [
              {
                type: 'transfer' as const,
                debit: poolAccount(provider, 'external'),
                credit: poolAccount(provider, 'emergency'),
                amount: toEmergency,
                metadata: { reason: `${reason} (emergency reserve)` },
              },
            ]
          : []),
      ],
    });
    return this.poolState(provider);
  }

  /** Known tiers, lowest allowance first. */
  tiers(): string[] {
    return Object.entries(this.config.tiers)
      .sort(([, a], [, b]) => a.allowance - b.allowance)
      .map(([name]) => name);
  }

  private lowestTier(): string {
    return this.tiers()[0]!;
  }

  /** The configured pool of a provider (aliases accepted), or a clear error. */
  requirePool(provider: string): string {
    const name = canonicalProvider(provider);
    if (!this.config.pools[name])
      throw new CreditsError('unknown_provider', `no provider "${provider}"; providers: ${Object.keys(this.config.pools).join(', ')}`, 'provider');
    return name;
  }
}

/** The monthly reset: 00:00 UTC on the first of the next month. */
export function nextMonthlyReset(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}
