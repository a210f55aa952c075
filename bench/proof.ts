// After a load run has drained: proves that no accepted generation was lost and none was charged twice,
// from the database and the ledger, and runs `tally ledger check` (the real CLI) on it.
// The queries read the ledger's tables directly: a proof must not trust the code it checks.
import type { Pool } from '../src/db/pool.ts';
import { runNode } from './lib.ts';

export interface Proof {
  accepted: number;
  /** Accepted ids with no generation row, or one not terminal (queued/processing) after the drain. */
  lost: number;
  /** Generation rows nobody was told were accepted. */
  unexpected: number;
  /** Completed: the hold's transfers posted for exactly what was held, one settle request. */
  chargedOnce: number;
  /** Failed: the hold voided, nothing posted, no settle. */
  refunded: number;
  /** Anything else: posted twice, settled twice, posted and voided, charged ≠ held, a hold still pending. */
  wrong: number;
  /** Users whose balance did not fall by exactly what their generations were charged. */
  balanceMismatches: number;
  ledgerCheckOk: boolean;
  ok: boolean;
}

export async function proveGenerations(input: {
  pool: Pool;
  env: Record<string, string>;
  ids: string[];
  users: string[];
  creditsPerUser: number;
  balanceOf: (user: string) => Promise<number>;
}): Promise<Proof> {
  const { pool, ids } = input;
  const lost = await count(
    pool,
    `select count(*)::int as n from unnest($1::text[]) as a(id) left join generations g on g.id = a.id
      where g.id is null or g.status not in ('completed', 'failed')`,
    [ids],
  );
  const unexpected = await count(pool, `select count(*)::int as n from generations where not (id = any($1::text[]))`, [ids]);
  const { rows } = await pool.query<{ charged_once: number; refunded: number; total: number }>(
    `with t as (
       select g.id, g.status, g.credits_held, g.credits_charged,
              count(t.id) filter (where t.state = 'posted') as posted,
              count(t.id) filter (where t.state in ('voided', 'expired')) as voided,
              count(t.id) filter (where t.state = 'pending') as pending,
              coalesce(sum(t.posted_amount), 0) as paid,
              (select count(*) from ledger_requests r where r.key in ('settle:' || g.hold_key, 'settle:' || g.hold_key || ':pool-short')) as settles
         from generations g left join ledger_transfers t on t.request_key = g.hold_key
        group by g.id)
     select count(*) filter (where status = 'completed' and posted > 0 and voided = 0 and pending = 0 and settles = 1 and paid = credits_held and credits_charged = credits_held)::int as charged_once,
            count(*) filter (where status = 'failed' and posted = 0 and pending = 0 and settles = 0 and coalesce(credits_charged, 0) = 0)::int as refunded,
            count(*)::int as total
       from t`,
  );
  const summary = rows[0]!;
  const wrong = summary.total - summary.charged_once - summary.refunded;

  let balanceMismatches = 0;
  const charged = await pool.query<{ user_id: string; charged: number }>(
    'select user_id, coalesce(sum(credits_charged), 0)::bigint as charged from generations where user_id = any($1) group by user_id',
    [input.users],
  );
  const chargedBy = new Map(charged.rows.map((r) => [r.user_id, r.charged]));
  for (const user of input.users) if (input.creditsPerUser - (await input.balanceOf(user)) !== (chargedBy.get(user) ?? 0)) balanceMismatches++;

  const check = await runLedgerCheck(input.env);
  const proof = {
    accepted: ids.length,
    lost,
    unexpected,
    chargedOnce: summary.charged_once,
    refunded: summary.refunded,
    wrong,
    balanceMismatches,
    ledgerCheckOk: check.ok,
    ok: false,
  };
  proof.ok = lost === 0 && unexpected === 0 && wrong === 0 && balanceMismatches === 0 && check.ok;
  if (!check.ok) console.error(check.output);
  return proof;
}

export function formatProof(p: Proof): string {
  return (
    `${p.accepted} accepted: ${p.lost} lost, ${p.unexpected} unexpected, ${p.chargedOnce} charged once, ${p.refunded} refunded, ${p.wrong} wrong; ` +
    `${p.balanceMismatches} balance mismatches; tally ledger check ${p.ledgerCheckOk ? 'clean' : 'FAILED'}${p.ok ? '' : '  ← PROOF FAILED'}`
  );
}

/** `tally ledger check` as its own process, as an operator runs it; ok when it exits 0. */
async function runLedgerCheck(env: Record<string, string>): Promise<{ ok: boolean; output: string }> {
  const { code, output } = await runNode(['bin/tally.mjs', 'ledger', 'check'], env);
  return { ok: code === 0, output };
}

async function count(pool: Pool, sql: string, values: unknown[]): Promise<number> {
  return (await pool.query<{ n: number }>(sql, values)).rows[0]!.n;
}
