// The generations domain's surface: submit, read, wait, callbacks, and the worker role. The HTTP routes,
// the CLI and the worker call only this; it wires the processor's parts together once.
import type { Config } from '../config/index.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import { AI_PROVIDER_NAMES, isProviderError, ProviderError, type CallbackRequest, type ProviderAdapter, type ProviderName } from '../providers/types.ts';
import type { Queue } from '../queue/index.ts';
import type { ResultStore } from '../storage/index.ts';
import { callbackUrl, receiveCallback, type CallbackOutcome } from './callbacks.ts';
import type { FetchedFile, ProcessorDeps } from './deps.ts';
import { Dispatcher } from './dispatcher.ts';
import { GenerationError } from './errors.ts';
import { Notifier } from './notifier.ts';
import { presentTask, type Task } from './present.ts';
import { processGeneration, type ProcessResult } from './process.ts';
import { findGeneration, listGenerations, orphanedGenerations, overdueGenerations, type GenerationRow } from './repository.ts';
import { ProviderRouter } from './router.ts';
import { generationStats, type GenerationStats } from './stats.ts';
import { submitGeneration, type SubmitInput } from './submit.ts';
import { deliverWebhook } from './webhooks.ts';

export { GenerationError } from './errors.ts';
export type { Task } from './present.ts';
export type { GenerationStats, ProviderHealth } from './stats.ts';
export type { SubmitInput } from './submit.ts';

/** What one provider health probe found. */
export interface HealthCheckResult {
  provider: ProviderName;
  ok: boolean;
  /** `kind: message` of the failure. */
  error: string | null;
  latencyMs: number;
}

export interface GenerationsOptions {
  config: Config;
  pool: Pool;
  credits: Credits;
  log: Logger;
  queue: Queue;
  store: ResultStore;
  adapters: ReadonlyMap<ProviderName, ProviderAdapter>;
  /** SSRF-guarded fetch for inputs and results. */
  fetchUrl(url: string, limits: { maxBytes: number }): Promise<FetchedFile>;
  /** SSRF-guarded POST for users' webhooks, within `generations.webhookTimeoutMs`; resolves with the HTTP status. */
  postJson(url: string, body: string, headers: Record<string, string>): Promise<number>;
  /** Secret for callback tokens. */
  signingSecret: string;
  /** The emergency controls (src/controls): paused generations are refused; paused providers are skipped. */
  controls?: { assertGenerationsOpen(): Promise<void>; pausedProviders(): Promise<ReadonlySet<string>> };
  /** Brings `adapters` up to date with credentials stored at run time (src/credentials); cheap when unchanged. */
  refreshAdapters?: () => Promise<void>;
}

export class Generations {
  readonly router: ProviderRouter;
  private readonly deps: ProcessorDeps;
  private dispatcher?: Dispatcher;
  private readonly background = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();

  constructor(private readonly options: GenerationsOptions) {
    const { config } = options;
    const notifier = new Notifier(options.pool, options.log);
    this.router = new ProviderRouter({
      pool: options.pool,
      config,
      credits: options.credits,
      configured: options.adapters,
      paused: options.controls && (() => options.controls!.pausedProviders()),
    });
    this.deps = {
      pool: options.pool,
      config,
      credits: options.credits,
      log: options.log,
      queue: options.queue,
      router: this.router,
      notifier,
      adapters: options.adapters,
      store: options.store,
      fetchUrl: options.fetchUrl,
      callbackUrl: (scope) => callbackUrl({ publicUrl: config.publicUrl, secret: options.signingSecret, ...scope }),
      // A getter: a provider key stored at run time turns local-only off without a restart.
      get localOnly() {
        return options.adapters.size === 0 || config.providers.mockInference;
      },
      stopping: this.stopping.signal,
      gate: options.controls,
    };
  }

  /** Which providers do the work: the configured AI providers, or local alone. */
  get providers(): ProviderName[] {
    return this.deps.localOnly ? ['local'] : [...this.options.adapters.keys()];
  }

  async init(): Promise<void> {
    await this.router.ensureSettings();
  }

  async submit(input: SubmitInput): Promise<{ task: Task; remainingBalance: number }> {
    const { generation, remainingBalance } = await submitGeneration(this.deps, input);
    return { task: await presentTask(this.deps, generation), remainingBalance };
  }

  /** One of the user's generations; another user's is exactly as missing as one that never existed. */
  async get(userId: string, id: string): Promise<Task> {
    const row = await findGeneration(this.options.pool, id, userId);
    if (!row) throw new GenerationError('not_found', `No generation ${id}.`, 'taskId');
    return presentTask(this.deps, row);
  }

  async list(userId: string, limit: number): Promise<Task[]> {
    const rows = await listGenerations(this.options.pool, userId, limit);
    return Promise.all(rows.map((row) => presentTask(this.deps, row)));
  }

  async stats(): Promise<GenerationStats> {
    await this.options.refreshAdapters?.();
    return generationStats(this.options.pool, new Set(this.deps.localOnly ? [] : this.options.adapters.keys()));
  }

  /** The provider that pays from `pool` (a pool is named after its provider unless config maps it). */
  providerOfPool(pool: string): ProviderName | undefined {
    const { providers } = this.options.config;
    return AI_PROVIDER_NAMES.find((name) => providers[name].pool === pool);
  }

  async process(id: string): Promise<ProcessResult> {
    await this.options.refreshAdapters?.();
    return processGeneration(this.deps, id);
  }

  /**
   * The sync API: submits the generation claimed by this process, runs it here and waits up to
   * `waitMs`. Past that the work goes on in this process; if the process dies, its lease runs out and
   * a worker's sweep resumes it. `finished` is false when the caller should poll instead.
   */
  async submitAndWait(input: Omit<SubmitInput, 'inline'>, waitMs: number): Promise<{ row: GenerationRow; finished: boolean; remainingBalance: number }> {
    const { generation, remainingBalance } = await submitGeneration(this.deps, { ...input, inline: true });
    await this.options.refreshAdapters?.();
    // A failure is logged by track; the generation is resumed once its lease runs out.
    const work = this.track(processGeneration(this.deps, generation.id, generation)).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
    const result = await Promise.race([work, outOfTime]);
    clearTimeout(timer);
    if (result && 'row' in result && result.row) return { row: result.row, finished: true, remainingBalance };
    // Out of time, or someone else (the sweeper) ended it: as it stands now.
    const row = (await findGeneration(this.options.pool, generation.id))!;
    return { row, finished: row.status === 'completed' || row.status === 'failed', remainingBalance };
  }

  present(row: GenerationRow): Promise<Task> {
    return presentTask(this.deps, row);
  }

  callback(provider: ProviderName, request: CallbackRequest): Promise<CallbackOutcome> {
    return receiveCallback({ ...this.deps, signingSecret: this.options.signingSecret }, { provider, request });
  }

  /**
   * The safety net and the sweeper: generations past their deadline are failed and refunded;
   * open ones nobody holds (a lost job, a dead processor) are taken up again.
   */
  async maintenance(): Promise<{ swept: number; resumed: number }> {
    const overdue = await overdueGenerations(this.options.pool, 200);
    for (const id of overdue) await this.process(id);
    const orphans = await orphanedGenerations(this.options.pool, this.options.config.generations.leaseSeconds, 200);
    for (const id of orphans) void this.track(this.process(id));
    await this.router.pruneRateWindows();
    return { swept: overdue.length, resumed: orphans.length };
  }

  /**
   * Probes each configured AI provider whose check is due (docs/rules.md §5, Routing), or every one with `force`;
   * a failed probe opens the provider's circuit for a cooldown. Several workers probe each provider once.
   */
  async checkProviderHealth(options: { force?: boolean } = {}): Promise<HealthCheckResult[]> {
    await this.options.refreshAdapters?.();
    if (this.deps.localOnly) return [];
    const { healthCheckSeconds, healthCheckTimeoutMs } = this.options.config.generations;
    const probes = [...this.options.adapters].map(async ([provider, adapter]): Promise<HealthCheckResult | undefined> => {
      if (provider === 'local' || !(await this.router.claimHealthCheck(provider, healthCheckSeconds, options.force))) return undefined;
      const started = Date.now();
      const signal = AbortSignal.timeout(healthCheckTimeoutMs);
      let failure: ProviderError | undefined;
      try {
        await adapter.health({ signal });
      } catch (error) {
        if (isProviderError(error)) failure = error;
        else if (signal.aborted) failure = new ProviderError(provider, 'timeout', `no answer to the health probe within ${healthCheckTimeoutMs} ms`);
        else failure = new ProviderError(provider, 'unavailable', `the health probe failed: ${(error as Error).message}`);
      }
      await this.router.recordHealth(provider, failure);
      if (failure) this.options.log.warn({ provider, kind: failure.kind, err: failure }, 'provider health check failed; its circuit is open for a cooldown');
      return { provider, ok: !failure, error: failure ? `${failure.kind}: ${failure.message}` : null, latencyMs: Date.now() - started };
    });
    return (await Promise.all(probes)).filter((result) => result !== undefined);
  }

  /** The worker role: consume the queue until stopped. */
  async startWorker(options: { maintenanceMs?: number; pollMs?: number } = {}): Promise<void> {
    this.dispatcher ??= new Dispatcher({
      queue: this.options.queue,
      notifier: this.deps.notifier,
      log: this.options.log,
      concurrency: this.options.config.generations.concurrency,
      webhookConcurrency: this.options.config.generations.webhookConcurrency,
      processGeneration: (id) => this.process(id),
      deliverWebhook: (job) => deliverWebhook({ ...this.deps, postJson: this.options.postJson }, job),
      maintenance: () => this.maintenance().then(() => undefined),
      maintenanceMs: this.options.config.generations.maintenanceSeconds * 1000,
      // The periodic health probe is the provider-health-check job (src/jobs), not a timer here.
      ...options,
    });
    await this.dispatcher.start();
  }

  /**
   * Stops taking work; generations waiting on a provider stop waiting at once (their attempts are
   * recorded with the provider's task id, and the next processor resumes them), so a stop takes
   * moments, not the length of the slowest provider.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.dispatcher?.stop();
    await Promise.race([Promise.allSettled([...this.background]), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    await this.deps.notifier.close();
  }

  private track<T>(work: Promise<T>): Promise<T> {
    const tracked = work.finally(() => this.background.delete(tracked));
    tracked.catch((error: unknown) => this.options.log.error({ err: error }, 'generation processing failed; it will be resumed'));
    this.background.add(tracked);
    return tracked;
  }
}
