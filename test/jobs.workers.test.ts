// Several worker processes on one database (each its own OS process, as in production): a scheduled
// job never runs twice at once, each slot runs once, and the monthly reset on the 1st runs once.
import { spawn } from 'node:child_process';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Jobs } from '../src/jobs/index.ts';
import { createTestApp } from './support/http.ts';
import { waitFor } from './support/wait.ts';

function worker(
  url: string,
  args: string[],
): Promise<{ code: number | null; results: { ran: boolean; name?: string; outcome?: string; reason?: string; error?: string }[]; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/job-worker.ts', ...args], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent' },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      const line = output.trim().split('\n').pop() ?? '[]';
      let results = [];
      try {
        results = JSON.parse(line);
      } catch {
        results = [];
      }
      resolve({ code, results, output });
    }),
  );
}

describe('a job run’s lease', () => {
  it('is renewed while its process lives (no one else runs the job), and freed within seconds when the process is killed', async () => {
    const t = await createTestApp();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/job-worker.ts', 'long'], {
      env: { ...process.env, DATABASE_URL: t.db.url, LOG_LEVEL: 'silent' },
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('started') && resolve());
      child.on('exit', (code) => reject(new Error(`the worker exited (${code}) before its job started`)));
    });
    const quick = {
      name: 'long',
      schedule: '0 0 1 1 *',
      description: 'the same job, quick',
      enabled: true,
      maxRunSeconds: 900,
      run: async () => ({ quick: true }),
    };
    const jobs = new Jobs({ pool: t.db.pool }, { log: pino({ level: 'silent' }), definitions: [quick], heartbeatSeconds: 1 });
    const lease = async () =>
      (
        await t.db.pool.query<{ alive_for: number }>(
          "select extract(epoch from lease_until - started_at)::float8 as alive_for from job_runs where name = 'long'",
        )
      ).rows[0]!.alive_for;
    // Three heartbeats' worth past its start: the lease was renewed, and the job is still refused to others.
    await waitFor(lease, (seconds) => seconds > 3, { what: 'the lease renewed past three heartbeats' });
    expect(await jobs.run('long', { trigger: 'cli' })).toEqual({ ran: false, reason: 'busy' });
    child.kill('SIGKILL');
    await exited;
    // Nobody renews it now: within about a heartbeat the run is taken for dead and the job runs again.
    const rerun = await waitFor(
      () => jobs.run('long', { trigger: 'cli' }),
      (result) => result?.ran === true,
      { what: 'the job claimed again after its process died' },
    );
    expect(rerun).toMatchObject({ ran: true, run: { outcome: 'succeeded', summary: { quick: true } } });
    const { rows } = await t.db.pool.query("select outcome from job_runs where name = 'long' order by started_at");
    expect(rows.map((r) => r.outcome)).toEqual(['abandoned', 'succeeded']);
  });
});

describe('two worker processes', () => {
  it('never run the same scheduled job at once, and run each slot once', async () => {
    const t = await createTestApp();
    await t.db.pool.query('create table probe_runs (pid int not null, slot timestamptz not null, started_at timestamptz not null, ended_at timestamptz)');
    await t.db.pool.query(`insert into job_schedules (name, since) values ('probe', '2026-12-01T00:00:00Z')`);
    const [a, b] = await Promise.all([worker(t.db.url, ['probe', '2026-12-01T00:00:10Z', '12']), worker(t.db.url, ['probe', '2026-12-01T00:00:10Z', '12'])]);
    expect([a.code, b.code], a.output + b.output).toEqual([0, 0]);
    const { rows } = await t.db.pool.query<{ pid: number; slot: Date; started_at: Date; ended_at: Date }>('select * from probe_runs order by started_at');
    // Each process walks the minutes at its own pace, so one may reach slot k+2 while the other still
    // runs k: then k+1 is a missed slot collapsed into k+2 (as for a worker that was down). What must
    // hold: no two runs overlap, no slot runs twice, the latest slot runs.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.started_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1]!.ended_at.getTime());
    const slots = rows.map((r) => r.slot.toISOString());
    expect(new Set(slots).size).toBe(slots.length);
    expect(slots).toContain('2026-12-01T00:11:10.000Z');
    expect(rows.length).toBeGreaterThan(1);
    const { rows: runs } = await t.db.pool.query(
      `select count(*)::int as n, count(distinct scheduled_for)::int as slots, count(*) filter (where outcome = 'succeeded')::int as ok from job_runs where name = 'probe'`,
    );
    expect(runs[0]).toEqual({ n: rows.length, slots: rows.length, ok: rows.length });
  });

  it('run the monthly reset from the schedule on the 1st exactly once', async () => {
    const t = await createTestApp();
    await t.credits.refill({ provider: 'nanobanana', amount: 10_000, key: 'start' });
    for (let i = 0; i < 6; i++) await t.credits.setTier(`u${i}`, i % 2 ? 'plus' : 'pro');
    const period = new Date().toISOString().slice(0, 7);
    const [y, m] = period.split('-').map(Number) as [number, number];
    const first = new Date(Date.UTC(y, m, 1)); // 00:00 on the 1st of next month
    await t.db.pool.query(`insert into job_schedules (name, since) values ('monthly-credit-reset', $1::timestamptz - interval '1 day')`, [first]);
    const before = await t.credits.poolState('nanobanana');
    const at = new Date(first.getTime() + 30_000).toISOString();
    const [a, b] = await Promise.all([worker(t.db.url, ['reset', at]), worker(t.db.url, ['reset', at])]);
    expect([a.code, b.code], a.output + b.output).toEqual([0, 0]);
    const outcomes = [...a.results, ...b.results];
    expect(outcomes.filter((r) => r.ran)).toEqual([{ ran: true, name: 'monthly-credit-reset', outcome: 'succeeded', error: null }]);
    expect(outcomes.filter((r) => !r.ran).length).toBeLessThanOrEqual(1);
    const { rows } = await t.db.pool.query(`select scheduled_for, outcome, summary from job_runs where name = 'monthly-credit-reset'`);
    expect(rows).toEqual([
      {
        scheduled_for: first,
        outcome: 'succeeded',
        summary: { period: first.toISOString().slice(0, 7), users: 6, expired: 3 * 25 + 3 * 10, granted: 3 * 25 + 3 * 10 },
      },
    ]);
    for (let i = 0; i < 6; i++) expect((await t.credits.balance(`u${i}`)).allowance).toBe(i % 2 ? 10 : 25);
    expect(await t.credits.poolState('nanobanana')).toMatchObject({ available: before.available, reserved: before.reserved });
    expect((await t.ledger.checkInvariants(t.credits.invariantChecks())).ok).toBe(true);
  });
});
