// Demo data for `tally start --demo`: a funded primary pool and a demo user with credits, so a newcomer
// can try the product at once. Every step is keyed, so seeding twice changes nothing. Nothing else seeds.
import type { Ledger } from './ledger/index.ts';

export const DEMO_USER_ID = 'demo-user';

export async function seedDemo(ledger: Ledger): Promise<{ userId: string; credits: number; poolAvailable: number }> {
  const provider = 'nanobanana';
  await ledger.openAccount({ id: 'credits:issuance', asset: 'credits', kind: 'issuance' });
  await ledger.openAccount({ id: 'credits:spent', asset: 'credits', kind: 'spent' });
  await ledger.openAccount({ id: `pool:${provider}:external`, asset: provider, kind: 'pool-external' });
  for (const part of ['available', 'reserved'] as const) {
    await ledger.openAccount({ id: `pool:${provider}:${part}`, asset: provider, kind: `pool-${part}`, neverNegative: true });
  }
  await ledger.openAccount({ id: `pool:${provider}:consumed`, asset: provider, kind: 'pool-consumed' });
  const wallet = await ledger.openAccount({ id: `user:${DEMO_USER_ID}:purchased`, asset: 'credits', kind: 'user-purchased', ownerId: DEMO_USER_ID, neverNegative: true });

  await ledger.transfer({
    key: `demo:refill:${provider}`,
    transfers: [{ debit: `pool:${provider}:external`, credit: `pool:${provider}:available`, amount: 1000, metadata: { reason: 'demo refill' } }],
  });
  // A sale of 10 credits backed by 40 provider credits (ratio 4), as one linked step.
  await ledger.transfer({
    key: `demo:purchase:${DEMO_USER_ID}`,
    transfers: [
      { debit: 'credits:issuance', credit: wallet.id, amount: 10, metadata: { reason: 'demo purchase' } },
      { debit: `pool:${provider}:available`, credit: `pool:${provider}:reserved`, amount: 40, metadata: { reason: 'backing for demo purchase' } },
    ],
  });
  return { userId: DEMO_USER_ID, credits: (await ledger.balanceOf(wallet.id)).balance, poolAvailable: (await ledger.balanceOf(`pool:${provider}:available`)).balance };
}
