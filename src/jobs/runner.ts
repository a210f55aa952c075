// Running jobs (see README.md): a run is claimed by inserting its row. The database refuses a second
// unfinished run of a job (job_runs_running) and a second run of one scheduled slot (job_runs_slot),
// so any number of workers, CLIs and HTTP calls together run a job one at a time and a slot once.
import type { Pool } from '../db/pool.ts';
import { newId } from '../lib/id.ts';
import { recordAlert, resolveAlert } from '../alerts/store.ts';
import { dueSlot, nextRun } from './schedule.ts';

export type Trigger = 'schedule' | 'cli' | 'http';
export type Summary = Record<string, unknown>;

export interface JobContext {
  /** The run's clock: jobs decide "today", "this month", "the last 30 days" from it. */
  now: Date;
  /** Reports progress of a long job (the CLI shows it in a terminal; workers log it). */
  progress(message: string): void;
}

export interface JobDefinition {
  name: string;
  /** Five-field cron, UTC. */
  schedule: string;
  description: string;
  enabled: boolean;
  /**
   * The longest a run may take: its process renews the run's lease until then, after which the run is
   * taken for hung and may be run again (a dead process stops renewing, so its run is freed sooner).
   */
  maxRunSeconds: number;
  run(context: JobContext): Promise<Summary>;
}

export interface JobRun {
  id: string;
  name: string;
  trigger: Trigger;
  scheduledFor: string | null;
  startedAt: string;
  finishedAt: string | null;
  outcome: 'succeeded' | 'failed' | 'abandoned' | null;
  summary: Summary | null;
  error: string | null;
}

export type RunResult = { ran: true; run: JobRun } | { ran: false; reason: 'busy' | 'slot_taken' };

export interface RunnerDeps {
  pool: Pool;
  /** A run's lease, renewed every third of it while the run lives (default 60 s). */
  heartbeatSeconds?: number;
  clock: () => Date;
  onProgress?(job: string, message: string): void;
  onFinished?(run: JobRun): void;
}

/** Claims and runs one job; `{ ran: false }` when another run of it is unfinished (or the slot ran). */
export async function runJob(
  deps: RunnerDeps,
  job: JobDefinition,
  input: { trigger: Trigger; now?: Date; scheduledFor?: Date; progress?: (message: string) => void },
): Promise<RunResult> {
  const now = input.now ?? deps.clock();
  const heartbeat = Math.min(deps.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS, job.maxRunSeconds);
  // Leases are about real processes, so they run on the database's clock, not the run's (which tests move).
  await deps.pool.query(
    `update job_runs set finished_at = greatest(now(), started_at), outcome = 'abandoned', error = 'its lease ran out: the process running it stopped or hung'
      where name = $1 and finished_at is null and lease_until < now()`,
    [job.name],
  );
  const { rows } = await deps.pool.query(
    `insert into job_runs (id, name, trigger, scheduled_for, started_at, lease_until)
     values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) on conflict do nothing returning id`,
    [newId('run'), job.name, input.trigger, input.scheduledFor ?? null, now, heartbeat],
  );
  if (!rows[0]) {
    const busy = await deps.pool.query('select 1 from job_runs where name = $1 and finished_at is null', [job.name]);
    return { ran: false, reason: busy.rows.length ? 'busy' : 'slot_taken' };
  }
  const id: string = rows[0].id;
  let summary: Summary | null = null;
  let error: Error | undefined;
  const renewal = keepLease(deps.pool, id, heartbeat, job.maxRunSeconds);
  try {
    summary = await job.run({ now, progress: (message) => (input.progress ?? ((m) => deps.onProgress?.(job.name, m)))(message) });
  } catch (caught) {
    error = caught instanceof Error ? caught : new Error(String(caught));
  } finally {
    clearInterval(renewal);
  }
  const finished = await deps.pool.query(
    `update job_runs set finished_at = greatest($2::timestamptz, started_at), outcome = $3, summary = $4, error = $5 where id = $1 returning *`,
    [id, deps.clock(), error ? 'failed' : 'succeeded', summary && JSON.stringify(summary), error?.message.slice(0, 2000) ?? null],
  );
  // A failing job is an operator's problem until it succeeds again.
  if (error)
    await recordAlert(deps.pool, {
      type: 'job_failed',
      level: 'warning',
      subject: job.name,
      message: `job ${job.name} failed: ${error.message}`,
      data: { runId: id },
      now,
    });
  else await resolveAlert(deps.pool, { type: 'job_failed', subject: job.name, message: `job ${job.name} succeeded again`, now });
  const run = fromRow(finished.rows[0]);
  deps.onFinished?.(run);
  return { ran: true, run };
}

const DEFAULT_HEARTBEAT_SECONDS = 60;

/**
 * Renews the run's lease every third of `heartbeat` while its process lives, up to `maxRunSeconds`
 * from the start; a failed renewal (the database briefly away) is retried at the next beat.
 */
function keepLease(pool: Pool, runId: string, heartbeat: number, maxRunSeconds: number): NodeJS.Timeout {
  const until = Date.now() + maxRunSeconds * 1000;
  const timer = setInterval(
    () => {
      if (Date.now() + heartbeat * 1000 > until) return clearInterval(timer);
      pool
        .query('update job_runs set lease_until = now() + make_interval(secs => $2) where id = $1 and finished_at is null', [runId, heartbeat])
        .catch(() => undefined);
    },
    (heartbeat * 1000) / 3,
  );
  timer.unref();
  return timer;
}

/** When the scheduler first knew each job (slots before that are not "missed"). */
async function knownSince(pool: Pool, names: string[], now: Date): Promise<Map<string, Date>> {
  await pool.query('insert into job_schedules (name, since) select unnest($1::text[]), $2 on conflict (name) do nothing', [names, now]);
  const { rows } = await pool.query<{ name: string; since: Date }>('select name, since from job_schedules where name = any($1)', [names]);
  return new Map(rows.map((r) => [r.name, r.since]));
}

/**
 * One scheduler round at `now`: every enabled job whose latest slot has no run is started (not
 * awaited one by one: a long job does not hold back the others). Resolves when the started runs end.
 */
export async function runDue(deps: RunnerDeps, jobs: JobDefinition[], now: Date): Promise<RunResult[]> {
  const enabled = jobs.filter((job) => job.enabled);
  if (enabled.length === 0) return [];
  const since = await knownSince(
    deps.pool,
    enabled.map((j) => j.name),
    now,
  );
  const { rows } = await deps.pool.query<{ name: string; scheduled_for: Date }>(
    `select name, max(scheduled_for) as scheduled_for from job_runs where name = any($1) and scheduled_for is not null and outcome is distinct from 'abandoned' group by name`,
    [enabled.map((j) => j.name)],
  );
  const lastSlot = new Map(rows.map((r) => [r.name, r.scheduled_for.getTime()]));
  const starts = enabled.flatMap((job) => {
    const slot = dueSlot(job.schedule, now, since.get(job.name)!);
    if (!slot || (lastSlot.get(job.name) ?? -Infinity) >= slot.getTime()) return [];
    return [runJob(deps, job, { trigger: 'schedule', now, scheduledFor: slot })];
  });
  return Promise.all(starts);
}

export interface JobStatus {
  name: string;
  schedule: string;
  description: string;
  enabled: boolean;
  lastRun: JobRun | null;
  nextRunAt: string | null;
}

export async function jobStatuses(pool: Pool, jobs: JobDefinition[], now: Date): Promise<JobStatus[]> {
  const { rows } = await pool.query(`select distinct on (name) * from job_runs where name = any($1) order by name, started_at desc, id desc`, [
    jobs.map((j) => j.name),
  ]);
  const last = new Map(rows.map((r) => [r.name as string, fromRow(r)]));
  return jobs.map((job) => ({
    name: job.name,
    schedule: job.schedule,
    description: job.description,
    enabled: job.enabled,
    lastRun: last.get(job.name) ?? null,
    nextRunAt: job.enabled ? nextRun(job.schedule, now).toISOString() : null,
  }));
}

function fromRow(row: Record<string, any>): JobRun {
  return {
    id: row.id,
    name: row.name,
    trigger: row.trigger,
    scheduledFor: row.scheduled_for?.toISOString() ?? null,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    outcome: row.outcome,
    summary: row.summary,
    error: row.error,
  };
}
