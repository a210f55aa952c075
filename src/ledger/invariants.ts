// The ledger's invariants, each one SQL query that returns the rows that break it. Run by
// `tally ledger check`, after every benchmark scenario, and by the tests.
import type { Queryable } from '../db/pool.ts';

export interface InvariantCheck {
  name: string;
  description: string;
  /** Returns one row per violation (empty when the invariant holds). */
  sql: string;
}

export interface InvariantResult {
  name: string;
  description: string;
  ok: boolean;
  violations: Record<string, unknown>[];
}

export interface InvariantReport {
  ok: boolean;
  checkedAt: string;
  counts: { accounts: number; transfers: number; pending: number };
  results: InvariantResult[];
}

const MOVED_BY = `case state when 'posted' then posted_amount when 'pending' then amount else 0 end`;

export const ledgerChecks: InvariantCheck[] = [
  {
    name: 'asset-sums-to-zero',
    description: 'For every asset, balances plus pending holds sum to zero (every debit has its credit).',
    sql: `with held as (select asset, sum(amount) as pending from ledger_transfers where state = 'pending' group by asset),
               totals as (select asset, sum(balance) as balances from ledger_accounts group by asset)
          select coalesce(t.asset, h.asset) as asset, (coalesce(t.balances, 0) + coalesce(h.pending, 0))::bigint as sum
            from totals t full join held h using (asset)
           where coalesce(t.balances, 0) + coalesce(h.pending, 0) <> 0`,
  },
  {
    name: 'never-negative',
    description: 'No account flagged never-negative is below zero.',
    sql: `select id, asset, balance from ledger_accounts where never_negative and balance < 0`,
  },
  {
    name: 'balance-derivable',
    description: 'Every cached balance equals the sum of its transfers (posted credits - posted debits - pending debits).',
    sql: `with flows as (
            select debit_account_id as id, -(${MOVED_BY}) as delta from ledger_transfers
            union all
            select credit_account_id, case when state = 'posted' then posted_amount else 0 end from ledger_transfers)
          select a.id, a.balance as cached, coalesce(f.derived, 0)::bigint as derived
            from ledger_accounts a
            left join (select id, sum(delta) as derived from flows group by id) f on f.id = a.id
           where a.balance <> coalesce(f.derived, 0)`,
  },
  {
    name: 'transfer-assets-match',
    description: 'Every transfer moves one asset between two existing accounts of that asset.',
    sql: `select t.id, t.asset, d.asset as debit_asset, c.asset as credit_asset
            from ledger_transfers t
            left join ledger_accounts d on d.id = t.debit_account_id
            left join ledger_accounts c on c.id = t.credit_account_id
           where d.asset is distinct from t.asset or c.asset is distinct from t.asset`,
  },
  {
    name: 'transfers-have-requests',
    description: 'Every transfer belongs to an applied request, and every resolved hold names the request that resolved it.',
    sql: `select t.id, t.request_key, t.resolved_by from ledger_transfers t
           where not exists (select 1 from ledger_requests r where r.key = t.request_key and r.status = 'applied')
              or (t.resolved_by is not null and not exists (select 1 from ledger_requests r where r.key = t.resolved_by and r.status = 'applied'))`,
  },
  {
    name: 'hold-deadlines',
    description: 'Every pending hold that expires has one deadline row, and every deadline row belongs to a pending hold.',
    sql: `select coalesce(h.request_key, d.request_key) as request_key, h.expires_at as hold_expires_at, d.expires_at as deadline
            from (select distinct request_key, expires_at from ledger_transfers where state = 'pending' and expires_at is not null) h
            full join ledger_hold_deadlines d using (request_key)
           where h.request_key is null or d.request_key is null or h.expires_at <> d.expires_at`,
  },
];

/** The ledger's own checks, then any a domain built on it adds (credits adds its backing check). */
export async function checkInvariants(db: Queryable, extra: InvariantCheck[] = []): Promise<InvariantReport> {
  const checks = [...ledgerChecks, ...extra];
  const results: InvariantResult[] = [];
  for (const check of checks) {
    const { rows } = await db.query(`${check.sql} limit 100`);
    results.push({ name: check.name, description: check.description, ok: rows.length === 0, violations: rows });
  }
  const counts = (
    await db.query<{ accounts: number; transfers: number; pending: number }>(
      `select (select count(*) from ledger_accounts)::bigint as accounts, (select count(*) from ledger_transfers)::bigint as transfers,
              (select count(*) from ledger_transfers where state = 'pending')::bigint as pending`,
    )
  ).rows[0]!;
  return { ok: results.every((r) => r.ok), checkedAt: new Date().toISOString(), counts, results };
}

export function formatReport(report: InvariantReport): string {
  const lines = [
    `Ledger check at ${report.checkedAt}: ${report.counts.accounts} accounts, ${report.counts.transfers} transfers (${report.counts.pending} pending)`,
  ];
  for (const result of report.results) {
    lines.push(`  ${result.ok ? 'ok  ' : 'FAIL'} ${result.name}: ${result.description}`);
    for (const violation of result.violations.slice(0, 10)) lines.push(`         ${JSON.stringify(violation)}`);
    if (result.violations.length > 10) lines.push(`         … and ${result.violations.length - 10} more`);
  }
  lines.push(report.ok ? 'All invariants hold.' : 'INVARIANTS VIOLATED: see the rows above.');
  return lines.join('\n');
}
