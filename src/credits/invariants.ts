// The credits domain's own ledger invariant, run by `tally ledger check` beside the ledger's.
import type { CreditsConfig } from '../config/index.ts';
import type { InvariantCheck } from '../ledger/index.ts';
import { poolAccount } from './accounts.ts';

/**
 * docs/rules.md §4: the primary pool's reserved units equal ratio × the user credits they back (allowance
 * and purchased, held ones included). Allowance granted unbacked in a shortfall shows here as drift.
 */
export function backingMatchesCredits(config: CreditsConfig): InvariantCheck {
  const provider = config.primaryProvider;
  const ratio = config.pools[provider]!.ratio;
  return {
    name: 'backing-matches-credits',
    description: `${provider} reserved = ${ratio} × outstanding allowance and purchased credits (drift from unbacked grants is reported here)`,
    sql: `with buckets as (select id, balance from ledger_accounts where kind in ('user-allowance', 'user-purchased')),
               outstanding as (
                 select coalesce((select sum(balance) from buckets), 0)
                      + coalesce((select sum(t.amount) from ledger_transfers t join buckets b on b.id = t.debit_account_id where t.state = 'pending'), 0) as credits)
          select r.balance as reserved, (o.credits * ${ratio})::bigint as expected, (r.balance - o.credits * ${ratio})::bigint as drift
            from ledger_accounts r, outstanding o
           where r.id = '${poolAccount(provider, 'reserved')}' and r.balance <> o.credits * ${ratio}`,
  };
}
