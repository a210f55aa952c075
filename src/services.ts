// The composition root: every domain service built once from config and one database pool, for the
// CLI's roles (serve, worker, start) and for the tests, so they run the same wiring.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiKeys } from './auth/api-keys.ts';
import type { Config } from './config/index.ts';
import { migrationStatus } from './db/migrate.ts';
import { Credits, type ProviderBalancePort } from './credits/index.ts';
import { toPoolUnits } from './credits/sync.ts';
import type { Pool } from './db/pool.ts';
import { Generations } from './generations/index.ts';
import { createUserTokenVerifier } from './auth/jwt.ts';
import type { AppDependencies } from './http/context.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { Ledger } from './ledger/index.ts';
import { Payments } from './payments/index.ts';
import type { Logger } from './log.ts';
import { checkPublicUrl, parseAllowlist, safeFetch, type HostLookup } from './net/safe-fetch.ts';
import type { ProviderAdapter, ProviderName } from './providers/types.ts';
import { Queue } from './queue/index.ts';
import { Alerts } from './alerts/index.ts';
import { Jobs } from './jobs/index.ts';
import { Analytics } from './analytics/index.ts';
import { Notifications } from './notifications/index.ts';
import { Controls } from './controls/index.ts';
import { ProviderCredentials } from './credentials/index.ts';
import { createResultStore, type ResultStore } from './storage/index.ts';

export interface Services {
  ledger: Ledger;
  credits: Credits;
  payments: Payments;
  queue: Queue;
  store: ResultStore;
  generations: Generations;
  adapters: ReadonlyMap<ProviderName, ProviderAdapter>;
  alerts: Alerts;
  jobs: Jobs;
  analytics: Analytics;
  notifications: Notifications;
  controls: Controls;
  providerCredentials: ProviderCredentials;
  signingSecret: string;
  checkPublicUrl(url: string): Promise<void>;
  /** Starts what a role needs: the queue always, the worker loop for the worker role. */
  start(roles: { worker: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  config: Config;
  pool: Pool;
  log: Logger;
  /** Tests point host names at 127.0.0.1 with this. */
  lookup?: HostLookup;
  balances?: ProviderBalancePort;
  /** The jobs' and alerts' clock (tests move it). */
  clock?: () => Date;
}

export function createServices(options: ServiceOptions): Services {
  const { config, pool, log } = options;
  const ledger = new Ledger(pool, { ...config.ledger, log });
  // The adapters' Map is live: refilled in place when an admin stores provider credentials (src/credentials).
  const providerCredentials = new ProviderCredentials({ pool, config, log: log.child({ component: 'credentials' }) });
  const adapters = providerCredentials.adapters;
  const credits = new Credits({ pool, ledger, config: config.credits, balances: options.balances ?? balancesFrom(config, adapters) });
  const controls = new Controls({ pool, credits, config: config.credits, log: log.child({ component: 'controls' }) });
  const payments = new Payments({ pool, ledger, credits, config, log, gate: controls });
  const queue = new Queue(pool, { supervise: true, onError: (error) => log.warn({ err: error }, 'queue maintenance error') });
  const signingSecret = config.storage.signingSecret ?? rememberedSecret(config.dataDir, log);
  const store = createResultStore({
    driver: config.storage.driver,
    disk: { root: config.storage.diskRoot ?? path.join(config.dataDir, 'files'), publicUrl: config.publicUrl, secret: signingSecret },
    s3: config.storage.driver === 's3' ? s3Options(config) : undefined,
  });
  const allowlist = parseAllowlist(config.urlAllowlist);
  const guarded = { allowlist, timeoutMs: config.generations.fetchTimeoutMs, lookup: options.lookup };
  const generations = new Generations({
    config,
    pool,
    credits,
    log,
    queue,
    store,
    adapters,
    signingSecret,
    controls,
    refreshAdapters: () => providerCredentials.refresh(),
    fetchUrl: (url, limits) => safeFetch(url, { ...guarded, maxBytes: limits.maxBytes, accept: 'image/*' }),
    postJson: async (url, body, headers) =>
      (
        await safeFetch(url, {
          ...guarded,
          timeoutMs: config.generations.webhookTimeoutMs,
          maxBytes: 64 * 1024,
          method: 'POST',
          body,
          headers,
          maxRedirects: 0,
          acceptAnyStatus: true,
        })
      ).status,
  });
  const alerts = new Alerts({ pool, queue, config: config.alerts, log: log.child({ component: 'alerts' }), clock: options.clock });
  const jobs = new Jobs(
    { config, pool, ledger, credits, generations },
    { log: log.child({ component: 'jobs' }), clock: options.clock, tickSeconds: config.jobs.tickSeconds },
  );
  return {
    ledger,
    credits,
    payments,
    queue,
    store,
    generations,
    adapters,
    alerts,
    jobs,
    analytics: new Analytics({ pool, ledger, credits, generations, config }),
    notifications: new Notifications(pool),
    controls,
    providerCredentials,
    signingSecret,
    checkPublicUrl: (url) => checkPublicUrl(url, { allowlist, lookup: options.lookup }),
    async start(roles) {
      await queue.start();
      await providerCredentials.refresh();
      await generations.init();
      if (roles.worker) await generations.startWorker();
    },
    async stop() {
      await jobs.stop();
      await alerts.stop();
      await generations.stop();
      await queue.stop();
      await ledger.drain();
    },
  };
}

/** What the HTTP app needs, from the services and the config (its auth may differ: the demo's). */
export function httpDependencies(services: Services, input: { config: Config; pool: Pool; log: Logger; metrics?: Metrics }): AppDependencies {
  return {
    config: input.config,
    pool: input.pool,
    apiKeys: new ApiKeys(input.pool),
    schemaStatus: () => migrationStatus(input.pool),
    log: input.log,
    ledger: services.ledger,
    credits: services.credits,
    payments: services.payments,
    generations: services.generations,
    store: services.store,
    alerts: services.alerts,
    jobs: services.jobs,
    analytics: services.analytics,
    notifications: services.notifications,
    controls: services.controls,
    providerCredentials: services.providerCredentials,
    signingSecret: services.signingSecret,
    checkPublicUrl: services.checkPublicUrl,
    verifyUserToken: createUserTokenVerifier(input.config.auth),
    metrics: input.metrics ?? createMetrics(),
  };
}

/** Provider balance endpoints as the credits sync port: a pool is read from the provider configured to pay from it. */
function balancesFrom(config: Config, adapters: ReadonlyMap<ProviderName, ProviderAdapter>): ProviderBalancePort {
  const sourceOf = (pool: string) => {
    const provider = [...adapters.keys()].find((name) => name !== 'local' && config.providers[name].pool === pool);
    return provider && adapters.get(provider);
  };
  return {
    hasSource: (pool) => Boolean(sourceOf(pool)?.balance),
    async remainingUnits(pool: string) {
      const adapter = sourceOf(pool);
      if (!adapter?.balance) throw new Error(`no balance source for the ${pool} pool: its provider is not configured or has no balance endpoint`);
      // WaveSpeed answers in USD while the seedream pool counts credits: convert before comparing.
      return toPoolUnits(await adapter.balance(), config.credits.pools[pool]!);
    },
  };
}

function s3Options(config: Config) {
  const { s3 } = config.storage;
  if (!s3.bucket || !s3.accessKeyId || !s3.secretAccessKey)
    throw new Error('TALLY_STORAGE_DRIVER=s3 needs S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY');
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: s3.forcePathStyle,
  };
}

/**
 * Without TALLY_FILE_SIGNING_SECRET a secret is made once and kept in the data folder, so every process
 * sharing that folder signs alike. Processes on different machines must share one configured secret.
 */
function rememberedSecret(dataDir: string, log: Logger): string {
  const file = path.resolve(dataDir, 'file-signing-secret');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
      log.info({ file }, 'made a file-link signing secret; set TALLY_FILE_SIGNING_SECRET when processes run on several machines');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another process made it first
    }
  }
  return readFileSync(file, 'utf8').trim();
}
