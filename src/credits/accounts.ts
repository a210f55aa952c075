// The ledger accounts of the credits domain, named as src/ledger/README.md lists them.
export const ISSUANCE = 'credits:issuance';
export const SPENT = 'credits:spent';

/** A user's buckets, in spending order. */
export const BUCKETS = ['allowance', 'purchased', 'overflow'] as const;
export type Bucket = (typeof BUCKETS)[number];
export type PoolPart = 'external' | 'available' | 'reserved' | 'consumed' | 'emergency';

export const userAccount = (userId: string, bucket: Bucket) => `user:${userId}:${bucket}`;
export const poolAccount = (provider: string, part: PoolPart) => `pool:${provider}:${part}`;

/** The original design spelled the primary provider `nanobanan`; both names mean the same pool. */
const ALIASES: Record<string, string> = { nanobanan: 'nanobanana' };

export function canonicalProvider(name: string): string {
  const lower = name.trim().toLowerCase();
  return ALIASES[lower] ?? lower;
}
