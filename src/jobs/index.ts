// The jobs domain's surface (see README.md): list, run one, run all, and the worker's scheduler loop.
import type { Logger } from '../log.ts';
import { createJobDefinitions, type JobDeps } from './definitions.ts';
import { jobStatuses, runDue, runJob, type JobDefinition, type JobRun, type JobStatus, type RunResult, type Trigger } from './runner.ts';

export type { JobDefinition, JobRun, JobStatus, RunResult, Trigger, JobContext, Summary } from './runner.ts';
export type { JobName } from './definitions.ts';

export interface JobsOptions {
  log: Logger;
  /** The scheduler's clock; tests move it instead of waiting. */
  clock?: () => Date;
  /** Replaces the registry (tests of the runner with their own jobs). */
  definitions?: JobDefinition[];
  tickSeconds?: number;
  /** A run's lease, renewed while it runs (default 60 s; tests shorten it). */
  heartbeatSeconds?: number;
  onFinished?(run: JobRun): void;
}

export class Jobs {
  readonly definitions: JobDefinition[];
  private readonly clock: () => Date;
  private readonly rounds = new Set<Promise<unknown>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly deps: Pick<JobDeps, 'pool'> & Partial<JobDeps>,
    private readonly options: JobsOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.definitions = options.definitions ?? createJobDefinitions(deps as JobDeps);
  }

  find(name: string): JobDefinition | undefined {
    return this.definitions.find((job) => job.name === name);
  }

  list(now = this.clock()): Promise<JobStatus[]> {
    return jobStatuses(this.deps.pool, this.definitions, now);
  }

  /** Runs one job now (the CLI, the HTTP routes). Unknown names return undefined. */
  async run(name: string, input: { trigger: Trigger; progress?: (message: string) => void; now?: Date }): Promise<RunResult | undefined> {
    const job = this.find(name);
    if (!job) return undefined;
    return runJob(this.runnerDeps(), job, input);
  }

  /** One scheduler round at `now`: starts every due job (one still running anywhere is skipped as busy). */
  async tick(now = this.clock()): Promise<RunResult[]> {
    const due = runDue(this.runnerDeps(), this.definitions, now);
    this.rounds.add(due);
    try {
      return await due;
    } finally {
      this.rounds.delete(due);
    }
  }

  /** The worker's loop: a round every tickSeconds, each job run by at most one worker per slot. */
  start(): void {
    if (this.timer) return;
    const every = (this.options.tickSeconds ?? 15) * 1000;
    const loop = () => {
      this.tick().catch((error: unknown) => this.options.log.error({ err: error }, 'job scheduler round failed; retrying at the next'));
      this.timer = setTimeout(loop, every);
    };
    this.timer = setTimeout(loop, 0);
    this.options.log.info({ jobs: this.definitions.filter((j) => j.enabled).map((j) => `${j.name} (${j.schedule})`) }, 'job scheduler started');
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.rounds]);
  }

  private runnerDeps() {
    const log = this.options.log;
    return {
      pool: this.deps.pool,
      clock: this.clock,
      heartbeatSeconds: this.options.heartbeatSeconds,
      onProgress: (job: string, message: string) => log.debug({ job }, message),
      onFinished: (run: JobRun) => {
        if (run.outcome === 'failed') log.error({ job: run.name, runId: run.id, error: run.error }, 'job failed');
        else log.info({ job: run.name, runId: run.id, summary: run.summary }, 'job finished');
        this.options.onFinished?.(run);
      },
    };
  }
}
