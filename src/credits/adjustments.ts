// Admin grants and corrections of a user's purchased credits, with the backing moving alongside.
import type { CreditsConfig } from '../config/index.ts';
import { newId } from '../lib/id.ts';
import { isLedgerError, type Ledger } from '../ledger/index.ts';
import { ISSUANCE, poolAccount, userAccount } from './accounts.ts';
import { CreditsError, SALE_BLOCKED_MESSAGE } from './errors.ts';

export async function adjustPurchased(
  deps: { ledger: Ledger; config: CreditsConfig },
  input: { userId: string; credits: number; reason: string; key?: string },
): Promise<void> {
  const provider = deps.config.primaryProvider;
  const units = Math.abs(input.credits) * deps.config.pools[provider]!.ratio;
  const [user, pool] =
    input.credits > 0
      ? [
          [ISSUANCE, userAccount(input.userId, 'purchased')],
          [poolAccount(provider, 'available'), poolAccount(provider, 'reserved')],
        ]
      : [
          [userAccount(input.userId, 'purchased'), ISSUANCE],
          [poolAccount(provider, 'reserved'), poolAccount(provider, 'available')],
        ];
  try {
    await deps.ledger.execute({
      key: `adjust:${input.userId}:${input.key ?? newId('adj')}`,
      actions: [
        { type: 'transfer', debit: user[0]!, credit: user[1]!, amount: Math.abs(input.credits), metadata: { reason: input.reason, by: 'admin' } },
        { type: 'transfer', debit: pool[0]!, credit: pool[1]!, amount: units, metadata: { reason: `backing: ${input.reason}`, userId: input.userId } },
      ],
    });
  } catch (error) {
    if (isLedgerError(error, 'insufficient_funds')) {
      if (error.detail.account === poolAccount(provider, 'available')) throw new CreditsError('sale_blocked', SALE_BLOCKED_MESSAGE);
      throw new CreditsError('amount_too_large', `the user has only ${String(error.detail.available)} purchased credits to take back`, 'credits');
    }
    throw error;
  }
}
