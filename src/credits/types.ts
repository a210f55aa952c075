// The shapes the credits domain answers with: a user's balance, a pool's state, the packages on offer.
import type { CreditsConfig } from '../config/index.ts';

export interface UserBalance {
  userId: string;
  /** allowance + purchased: what the user owns (overflow is the platform's, lent up to a cap). */
  balance: number;
  allowance: number;
  purchased: number;
  /** Overflow left this month (paid tiers with overflow enabled). */
  overflow: number;
  /** Overflow drawn this month, out of the tier's cap. */
  overflowUsed: number;
  tier: string;
  nextTier: string | null;
  resetsAt: string;
}

export interface PoolState {
  provider: string;
  unit: string;
  ratio: number;
  available: number;
  reserved: number;
  consumed: number;
  /** Kept out of sales; only allowance grants may draw on it. */
  emergency: number;
  /** The level refills top `emergency` up to. */
  emergencyReserve: number;
  /** available + reserved + emergency: what the platform holds at the provider by the database's count. */
  balance: number;
  /** User credits that can be sold now: floor(available / ratio). */
  sellableUserCredits: number;
  unitCostMicroUsd: number;
  lowThreshold: number;
  criticalThreshold: number;
}

export interface PackageOffer {
  id: string;
  credits: number;
  price: number;
  currency: string;
  disabled: boolean;
  message: string | null;
}

export interface Capacity {
  primaryProvider: string;
  pools: PoolState[];
  packages: PackageOffer[];
  bufferLevels: CreditsConfig['bufferLevels'];
}
