// What `tally ledger check` proves about purchases, as SQL returning the rows that break it.
import type { InvariantCheck } from '../ledger/index.ts';

/** Posted transfers of `reason` tagged with a purchase, summed per purchase. */
const byPurchase = (reason: string) => `select metadata->>'purchaseId' as purchase_id, count(*) as n, sum(posted_amount) as credits
  from ledger_transfers
 where state = 'posted' and debit_account_id ${reason === 'purchase clawback' ? `like 'user:%'` : `= 'credits:issuance'`}
   and metadata->>'reason' = '${reason}' and metadata ? 'purchaseId'
 group by 1`;

export const purchaseChecks: InvariantCheck[] = [
  {
    name: 'purchase-granted-once',
    description: 'Every paid purchase was granted its credits exactly once, and no unpaid purchase was granted any.',
    sql: `with grants as (${byPurchase('purchase')})
          select coalesce(p.id, g.purchase_id) as purchase_id, p.status, p.credits, coalesce(g.n, 0) as grants, g.credits as granted
            from purchases p full join grants g on g.purchase_id = p.id
           where p.id is null
              or (p.granted_at is null and g.n is not null)
              or (p.granted_at is not null and (g.n is distinct from 1 or g.credits <> p.credits))`,
  },
  {
    name: 'purchase-clawed-back-at-most-once',
    description: 'Credits taken back from a purchase (refunds, disputes) match its record and never exceed what it granted, net of restores.',
    sql: `with taken as (${byPurchase('purchase clawback')}), restored as (${byPurchase('purchase restore')})
          select p.id as purchase_id, p.credits, p.credits_clawed_back, coalesce(t.credits, 0) as taken, p.credits_restored, coalesce(r.credits, 0) as restored
            from purchases p left join taken t on t.purchase_id = p.id left join restored r on r.purchase_id = p.id
           where coalesce(t.credits, 0) <> p.credits_clawed_back
              or coalesce(r.credits, 0) <> p.credits_restored
              or coalesce(t.credits, 0) - coalesce(r.credits, 0) > p.credits`,
  },
];
