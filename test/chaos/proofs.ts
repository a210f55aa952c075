// What every chaos trial proves once its load has stopped and the processes left have drained the work:
// every generation terminal; each generation's hold posted for exactly what it charged (a failed,
// refunded or degraded one charged nothing, a completed one once, never twice); nothing left held;
// each user's balance is what they bought minus what they were charged; the ledger's invariants hold.
import type { Credits } from '../../src/credits/index.ts';
import type { Pool } from '../../src/db/pool.ts';
import type { Ledger } from '../../src/ledger/index.ts';

export interface Outcomes {
  generations: number;
  completed: number;
  degraded: number;
  failed: number;
  expired: number;
  /** Why generations were degraded or failed, most frequent first ("providers_failed×3, …"). */
  reasons: string;
}

/** Waits until no generation is queued or processing; fails (with what is stuck) after `timeoutMs`. */
export async function drain(pool: Pool, timeoutMs: number, deaths: () => string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (deaths().length) throw new Error(deaths().join('\n'));
    const open = await pool.query<{ id: string; status: string }>("select id, status from generations where status not in ('completed', 'failed') limit 5");
    if (open.rows.length === 0) return;
    if (Date.now() > deadline) throw new Error(`generations still open after ${timeoutMs} ms: ${JSON.stringify(open.rows)}`);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the worker processes move on their own clock
  }
}

/** Every broken promise about money, as readable lines (empty: all kept). */
export async function brokenPromises(input: { pool: Pool; credits: Credits; ledger: Ledger; bought: Map<string, number> }): Promise<string[]> {
  const { pool, credits, ledger, bought } = input;
  const problems: string[] = [];
  // The hold's transfers (one per bucket it drew from) carry the hold's key; posting writes posted_amount.
  const holds = await pool.query<{ id: string; status: string; degraded: boolean; charged: number | null; posted: number; pending: number; legs: number }>(
    `select g.id, g.status, g.degraded, g.credits_charged as charged,
            coalesce(sum(t.posted_amount) filter (where t.state = 'posted'), 0)::int as posted,
            (count(*) filter (where t.state = 'pending'))::int as pending, count(t.id)::int as legs
       from generations g left join ledger_transfers t on t.request_key = g.hold_key
      group by g.id`,
  );
  for (const g of holds.rows) {
    const what = `generation ${g.id} (${g.status}${g.degraded ? ', degraded' : ''})`;
    if (g.status !== 'completed' && g.status !== 'failed') problems.push(`${what} is not terminal`);
    if (g.legs === 0) problems.push(`${what} has no hold in the ledger`);
    if (g.pending > 0) problems.push(`${what} still holds credits`);
    if ((g.status === 'failed' || g.degraded) && (g.charged ?? 0) !== 0) problems.push(`${what} charged ${g.charged}, but it must be free`);
    if (g.posted !== (g.charged ?? 0)) problems.push(`${what} says it charged ${g.charged ?? 0} but the ledger posted ${g.posted}`);
  }
  const pending = await pool.query<{ n: number }>("select count(*)::int as n from ledger_transfers where state = 'pending'");
  if (pending.rows[0]!.n > 0) problems.push(`${pending.rows[0]!.n} ledger transfers still pending`);
  const charged = await pool.query<{ user_id: string; charged: number }>(
    'select user_id, coalesce(sum(credits_charged), 0)::int as charged from generations group by user_id',
  );
  for (const [user, credited] of bought) {
    const paid = charged.rows.find((r) => r.user_id === user)?.charged ?? 0;
    const balance = (await credits.balance(user)).balance;
    if (balance !== credited - paid) problems.push(`${user}: balance ${balance}, but bought ${credited} and was charged ${paid}`);
  }
  const report = await ledger.checkInvariants(credits.invariantChecks());
  if (!report.ok) problems.push(`ledger check: ${JSON.stringify(report)}`);
  return problems;
}

/** How the generations ended so far (for the trial's summary line). */
export async function outcomes(pool: Pool): Promise<Outcomes> {
  const { rows } = await pool.query<Omit<Outcomes, 'reasons'>>(
    `select count(*)::int as generations,
            (count(*) filter (where status = 'completed' and not degraded))::int as completed,
            (count(*) filter (where status = 'completed' and degraded))::int as degraded,
            (count(*) filter (where status = 'failed'))::int as failed,
            (count(*) filter (where status = 'failed' and error_code = 'timeout'))::int as expired
       from generations`,
  );
  const reasons = await pool.query<{ reason: string; n: number }>(
    `select coalesce(degraded_reason, error_code) as reason, count(*)::int as n from generations
      where degraded or status = 'failed' group by 1 order by 2 desc limit 4`,
  );
  return { ...rows[0]!, reasons: reasons.rows.map((r) => `${r.reason.slice(0, 60)}×${r.n}`).join(', ') };
}
