// tally <command>: the one binary for every role (see `tally help`).
import { serve as listen } from '@hono/node-server';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, withDemoPurchases, type Config } from './config/index.ts';
import { connectDatabase, redactUrl, type Database } from './db/connect.ts';
import { EmbeddedPostgresError } from './db/embedded.ts';
import { migrate, MigrationError, migrationStatus } from './db/migrate.ts';
import { migrateQueue } from './queue/index.ts';
import { createServices, httpDependencies, type Services } from './services.ts';
import { Credits } from './credits/index.ts';
import { seedDemo } from './demo.ts';
import { purchaseChecks } from './payments/invariants.ts';
import { ProviderCredentials } from './credentials/index.ts';
import { createApiKey, listApiKeys, registerConfiguredAdminKey, retireApiKey, revokeApiKey } from './auth/api-keys.ts';
import { DEMO_ADMIN_KEY_ID, demoCredentials, printDemoCredentials } from './demo.ts';
import { createApp } from './http/app.ts';
import { createMetrics } from './http/metrics.ts';
import { formatReport } from './ledger/invariants.ts';
import { Ledger } from './ledger/index.ts';
import { createLogger, type Logger } from './log.ts';
import { startWorker, type Worker } from './worker.ts';
import { healthCommand, jobsCommand } from './jobs/cli.ts';
import { formatSmokeCheck, runSmoke } from './smoke.ts';

const HELP = `Usage: tally <command> [options]

Commands:
  start [--demo]   Run everything in one process: database (embedded unless DATABASE_URL), migrations,
                   HTTP API and worker. --demo also seeds demo data (idempotent).
  serve            Run the HTTP API only.
  worker           Run the worker only (hold sweeper; queues and schedules as they arrive).
  migrate          Apply pending database migrations.
  ledger check     Verify every ledger invariant; exits 1 on any violation.
  keys create --role admin|service [--name NAME]
                   Create an API key (printed once).
  keys list        List API keys (never the keys themselves).
  keys revoke ID   Revoke an API key.
  keys rotate-encryption [--old-key BASE64]
                   Re-encrypt stored provider keys under TALLY_ENCRYPTION_KEY; the old key from
                   TALLY_ENCRYPTION_KEY_OLD (or the flag). Safe to run again if cut short.
  credits reset-month [--period YYYY-MM]
                   Monthly reset: expire last month's allowance, apply pending downgrades, grant this
                   month's allowance (idempotent; the scheduler runs it on the 1st).
  providers health Probe every configured provider now (workers do it every 5 minutes); exits 1 if
                   one fails (its circuit opens for a cooldown, as after failed work).
  jobs list        Scheduled jobs: schedule, last run, last outcome, next run.
  jobs run NAME    Run one job now (one run at a time across every process); exits 1 if it fails.
  jobs run-all     Run every enabled job now, one after another.
  health           One line per check (database, migrations, queues, providers, pools, stale holds,
                   jobs, alert channels); exits 1 with the reason when anything is unhealthy.
  smoke [--json] [--notify]
                   Check a deployment end to end, a line per check with its time: configuration,
                   database, migrations, ledger, storage, each provider's balance and health, a local
                   generation charged to nobody, the job schedule, alert channels (--notify sends each
                   a test message); exits 1 if any check fails.
  help             Show this help.

Configuration comes from tally.config.json (or TALLY_CONFIG) and the environment; see README.md.`;

type Command = (args: string[], ctx: { config: Config; log: Logger }) => Promise<number>;

const commands: Record<string, Command> = {
  start: (args, ctx) =>
    run(ctx, { http: true, worker: true, migrate: true, demo: parseArgs({ args, options: { demo: { type: 'boolean' } } }).values.demo ?? false }),
  serve: (_args, ctx) => run(ctx, { http: true, worker: false, migrate: false, demo: false }),
  worker: (_args, ctx) => run(ctx, { http: false, worker: true, migrate: false, demo: false }),
  migrate: async (_args, { config, log }) =>
    withDatabase(config, log, async (db) => {
      const applied = await migrate(db.pool, migrationLog(log));
      await migrateQueue(db.pool);
      log.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'database already up to date');
      return 0;
    }),
  ledger: async (args, { config, log }) => {
    if (args[0] !== 'check') {
      process.stderr.write(`Unknown ledger command "${args[0] ?? ''}". Try: tally ledger check\n`);
      return 2;
    }
    return withDatabase(config, log, async (db) => {
      const status = await migrationStatus(db.pool);
      if (!status.compatible) {
        process.stderr.write('The database schema is not current; run `tally migrate` first.\n');
        return 1;
      }
      const ledger = new Ledger(db.pool, config.ledger);
      const report = await ledger.checkInvariants([...new Credits({ pool: db.pool, ledger, config: config.credits }).invariantChecks(), ...purchaseChecks]);
      process.stdout.write(`${formatReport(report)}\n`);
      return report.ok ? 0 : 1;
    });
  },
};

const keys: Command = async (args, { config, log }) => {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { role: { type: 'string' }, name: { type: 'string' }, 'old-key': { type: 'string' } },
  });
  return withDatabase(config, log, async (db) => {
    if (action === 'rotate-encryption') return rotateEncryption(db, config, log, values['old-key']);
    if (action === 'create') {
      if (values.role !== 'admin' && values.role !== 'service') {
        process.stderr.write('Give the key a role: tally keys create --role admin|service [--name NAME]\n');
        return 2;
      }
      const { key, apiKey } = await createApiKey(db.pool, { role: values.role, name: values.name ?? `${values.role} key` });
      process.stdout.write(`Created ${apiKey.role} key ${apiKey.id} (${apiKey.name}). Store it now; it is not shown again:\n${key}\n`);
      return 0;
    }
    if (action === 'list') {
      for (const k of await listApiKeys(db.pool)) {
        process.stdout.write(`${k.id}  ${k.role.padEnd(7)}  ${k.keyPrefix}…  ${k.revokedAt ? `revoked ${k.revokedAt}` : 'active'}  ${k.name}\n`);
      }
      return 0;
    }
    if (action === 'revoke' && positionals[0]) {
      const revoked = await revokeApiKey(db.pool, positionals[0]);
      if (!revoked) {
        process.stderr.write(`No API key ${positionals[0]}; see tally keys list\n`);
        return 1;
      }
      process.stdout.write(`Revoked ${revoked.id} at ${revoked.revokedAt}\n`);
      return 0;
    }
    process.stderr.write('Usage: tally keys create --role admin|service [--name NAME] | tally keys list | tally keys revoke ID\n');
    return 2;
  });
};
commands.keys = keys;

/** tally keys rotate-encryption: every stored provider key moves to the current key, row by row (resumable). */
async function rotateEncryption(db: Database, config: Config, log: Logger, oldKeyFlag: string | undefined): Promise<number> {
  const oldKey = oldKeyFlag ?? config.encryption.oldKey;
  if (!config.encryption.key || !oldKey) {
    process.stderr.write('Set TALLY_ENCRYPTION_KEY to the new key and TALLY_ENCRYPTION_KEY_OLD (or --old-key) to the one the keys are stored under.\n');
    return 2;
  }
  const credentials = new ProviderCredentials({ pool: db.pool, config, log });
  try {
    const { reencrypted, current } = await credentials.rotate(oldKey, (provider) => process.stdout.write(`${provider}: under the new key\n`));
    process.stdout.write(
      `Re-encrypted ${reencrypted} stored key(s); ${current} now under the new key. Remove TALLY_ENCRYPTION_KEY_OLD once every process runs with the new key.\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`Rotation stopped: ${(error as Error).message}. Keys done so far stay done; run it again to finish.\n`);
    return 1;
  }
}

commands.credits = async (args, { config, log }) => {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { period: { type: 'string' } } });
  if (positionals[0] !== 'reset-month' || (values.period !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(values.period))) {
    process.stderr.write('Usage: tally credits reset-month [--period YYYY-MM]\n');
    return 2;
  }
  return withDatabase(config, log, async (db) => {
    const ledger = new Ledger(db.pool, { ...config.ledger, log });
    const credits = new Credits({ pool: db.pool, ledger, config: config.credits });
    await credits.openPlatformAccounts();
    const totals = await credits.resetMonth(values.period, (users) => process.stderr.write(`\r  ${users} users reset…`));
    process.stderr.write('\n');
    process.stdout.write(
      `Reset ${totals.users} users for ${values.period ?? 'this month'}: ${totals.expired} allowance credits expired, ${totals.granted} granted.\n`,
    );
    return 0;
  });
};

commands.providers = async (args, { config, log }) => {
  if (args[0] !== 'health') {
    process.stderr.write('Usage: tally providers health\n');
    return 2;
  }
  return withDatabase(config, log, async (db) => {
    const services = createServices({ config, pool: db.pool, log });
    await services.generations.init();
    const checks = await services.generations.checkProviderHealth({ force: true });
    if (checks.length === 0) process.stdout.write('No AI provider is configured (set a provider API key); the local provider needs no check.\n');
    for (const c of checks)
      process.stdout.write(`${c.provider.padEnd(11)} ${c.ok ? 'ok    ' : 'FAILED'} ${String(c.latencyMs).padStart(6)} ms${c.error ? `  ${c.error}` : ''}\n`);
    return checks.every((c) => c.ok) ? 0 : 1;
  });
};

const withServices = (config: Config, log: Logger, work: (services: Services, db: Database) => Promise<number>) =>
  withDatabase(config, log, async (db) => {
    const status = await migrationStatus(db.pool);
    if (!status.compatible) {
      process.stderr.write(`The database schema is not current (pending: ${status.pending.join(', ')}); run \`tally migrate\` first.\n`);
      return 1;
    }
    const services = createServices({ config, pool: db.pool, log });
    await services.credits.openPlatformAccounts();
    await services.queue.start();
    await services.generations.init();
    try {
      return await work(services, db);
    } finally {
      await services.stop();
    }
  });
commands.jobs = (args, { config, log }) => withServices(config, log, (services) => jobsCommand(services, args, process));
commands.health = (_args, { config, log }) => withServices(config, log, (services, db) => healthCommand(services, db.pool, process));
commands.smoke = (args, { config, log }) => {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, notify: { type: 'boolean' } } });
  return withServices(config, log, async (services, db) => {
    const checks = await runSmoke({
      config,
      pool: db.pool,
      services,
      notify: values.notify ?? false,
      onCheck: values.json ? undefined : (check) => process.stdout.write(`${formatSmokeCheck(check)}\n`),
    });
    const failed = checks.filter((c) => !c.ok);
    if (values.json) process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, checks }, null, 2)}\n`);
    else process.stdout.write(failed.length ? `smoke: FAILED (${failed.map((c) => c.name).join(', ')})\n` : `smoke: all ${checks.length} checks passed\n`);
    return failed.length ? 1 : 0;
  });
};

async function withDatabase(config: Config, log: Logger, work: (db: Database) => Promise<number>): Promise<number> {
  const db = await connectDatabase(config, log);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

interface Roles {
  http: boolean;
  worker: boolean;
  migrate: boolean;
  demo: boolean;
}

async function run({ config, log }: { config: Config; log: Logger }, roles: Roles): Promise<number> {
  // Listen for Ctrl-C before anything starts: a signal during start-up lets start-up finish, then
  // stops everything it started, the embedded PostgreSQL included.
  const stopRequested = waitForStopSignal(log);
  const db = await connectDatabase(config, log);
  let started: Started;
  try {
    started = await startRoles(db, { config, log }, roles);
  } catch (error) {
    await db.close(); // never leave an embedded PostgreSQL behind a failed start
    throw error;
  }
  await stopRequested;
  if (started.server) {
    const closed = new Promise((resolve) => started.server!.close(resolve));
    started.server.closeIdleConnections();
    // A request still open after a moment (a client waiting on /v1/infer) is cut: it can poll again.
    const cut = setTimeout(() => started.server!.closeAllConnections(), 1000);
    await closed;
    clearTimeout(cut);
  }
  await started.worker?.stop();
  await started.services.stop();
  await db.close();
  log.info('stopped');
  return 0;
}

function waitForStopSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        log.warn('second signal: exiting without a clean stop');
        process.exit(1);
      }
      received = true;
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** What `migrate` reports as it goes, for the log. */
function migrationLog(log: Logger) {
  return {
    onApply: (name: string) => log.info({ migration: name }, 'applying migration'),
    onNewer: (unknown: string[]) =>
      log.warn({ newerMigrations: unknown }, 'the database was migrated by a newer release; this one runs on it (migrations only add)'),
  };
}

interface Started {
  server?: Server;
  worker?: Worker;
  services: Services;
}

async function startRoles(db: Database, { config: configured, log }: { config: Config; log: Logger }, roles: Roles): Promise<Started> {
  // The demo sells packages without payment (never in production: withDemoPurchases refuses).
  const config = roles.demo ? withDemoPurchases(configured) : configured;
  log.info({ database: redactUrl(db.url), embedded: db.embedded?.mode ?? false }, 'database connected');
  if (roles.migrate) {
    const applied = await migrate(db.pool, migrationLog(log));
    await migrateQueue(db.pool);
    if (applied.length) log.info({ applied: applied.length }, 'migrations applied');
  } else {
    const status = await migrationStatus(db.pool);
    if (!status.compatible)
      throw new MigrationError(`database migrations are not current (pending: ${status.pending.join(', ')}): run \`tally migrate\` first`);
  }
  const services = createServices({ config, pool: db.pool, log });
  const { ledger, credits } = services;
  await credits.openPlatformAccounts();
  log.info(
    { mode: services.payments.mode },
    {
      stripe: 'purchases: Stripe Checkout',
      development: 'purchases: DEVELOPMENT mode, granted without payment',
      off: 'purchases: off (no Stripe configured; see README "Connecting Stripe")',
    }[services.payments.mode],
  );
  if (roles.demo) {
    const demo = await seedDemo(credits);
    log.info(demo, 'demo data ready');
  }

  if (config.auth.adminApiKey) await registerConfiguredAdminKey(db.pool, config.auth.adminApiKey);
  if (!roles.demo && (await retireApiKey(db.pool, DEMO_ADMIN_KEY_ID))) log.warn('the demo admin key was revoked: it is valid only under --demo');
  await services.start({ worker: roles.worker });
  log.info(
    { providers: services.generations.providers },
    services.generations.providers.includes('local') ? 'no AI provider configured: the local provider does the work (not AI)' : 'AI providers configured',
  );

  let server: Server | undefined;
  if (roles.http) {
    const demoAuth = roles.demo ? await demoCredentials(db, config) : undefined;
    const auth = demoAuth?.auth ?? config.auth;
    const metrics = createMetrics({
      ledgerBatches: () => ledger.batchStats,
      ledgerTransactions: () => ledger.transactionStats,
      ops: { pool: db.pool, queue: services.queue },
    });
    const app = createApp(httpDependencies(services, { config: { ...config, auth }, pool: db.pool, log, metrics }));
    server = await new Promise<Server>((resolve, reject) => {
      const s = listen({ fetch: app.fetch, hostname: config.http.host, port: config.http.port }, () => resolve(s as Server)) as Server;
      s.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`Port ${config.http.port} is in use: stop the other process or set PORT to a free port.`) : error),
      );
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const url = `http://${config.http.host}:${port}`;
    log.info({ url, docs: `${url}/docs` }, 'HTTP API listening');
    if (demoAuth) printDemoCredentials(url, demoAuth);
  }
  const worker = roles.worker ? startWorker({ jobs: services.jobs, alerts: services.alerts, log }) : undefined;
  return { server, worker, services };
}

async function main(argv: string[]): Promise<void> {
  const [name = 'help', ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`Unknown command "${name}".\n\n${HELP}\n`);
    process.exitCode = 2;
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 78; // EX_CONFIG
      return;
    }
    throw error;
  }
  const log = createLogger(config);
  try {
    process.exitCode = await command(args, { config, log });
  } catch (error) {
    if (error instanceof EmbeddedPostgresError || error instanceof MigrationError || error instanceof ConfigError) {
      log.fatal(error.message);
    } else {
      log.fatal({ err: error }, 'tally failed');
    }
    process.exitCode = 1;
    // Give pino-pretty's worker a moment to flush, then leave even if handles remain open.
    setTimeout(() => process.exit(1), 200).unref();
  }
}

await main(process.argv.slice(2));
