// `tally smoke`: a deployment checked end to end, one line per check with its time (docs/rules.md §7):
// configuration, database and migrations, ledger invariants, storage write/read/delete, each configured
// provider's balance and health, one generation on the local provider charged to nobody, the job
// schedule, and the alert channels (a test message only with --notify). It changes nothing a user or
// the ledger would see: the test objects it stores are deleted, no credit moves, no circuit opens.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { Config } from './config/index.ts';
import { migrationStatus } from './db/migrate.ts';
import type { Pool } from './db/pool.ts';
import { adjustImage } from './providers/local/adjust.ts';
import type { Services } from './services.ts';
import { storageKey } from './storage/types.ts';

export interface SmokeCheck {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

type Step = { name: string; run: () => Promise<string> };

/** Runs every check (one failing does not stop the others) and reports each. */
export async function runSmoke(input: {
  config: Config;
  pool: Pool;
  services: Services;
  notify: boolean;
  onCheck?: (check: SmokeCheck) => void;
}): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = [];
  for (const step of smokeSteps(input)) {
    const started = performance.now();
    let check: SmokeCheck;
    try {
      check = { name: step.name, ok: true, detail: await step.run(), ms: 0 };
    } catch (error) {
      check = { name: step.name, ok: false, detail: (error as Error).message, ms: 0 };
    }
    check.ms = Math.round(performance.now() - started);
    checks.push(check);
    input.onCheck?.(check);
  }
  return checks;
}

function smokeSteps({ config, pool, services, notify }: { config: Config; pool: Pool; services: Services; notify: boolean }): Step[] {
  const providers = [...services.adapters.entries()].filter(([name]) => name !== 'local');
  return [
    {
      name: 'configuration',
      run: async () =>
        [
          `env ${config.env}`,
          `providers: ${providers.map(([name]) => name).join(', ') || 'none (the local provider does the work)'}`,
          `storage ${config.storage.driver}`,
          `purchases: ${config.payments.stripe.secretKey ? 'Stripe' : config.payments.devPurchases ? 'development grants' : 'off'}`,
          `public URL ${config.publicUrl}`,
        ].join('; '),
    },
    {
      name: 'database',
      run: async () =>
        (await pool.query<{ version: string }>("select split_part(version(), ' ', 2) as version")).rows.map((r) => `PostgreSQL ${r.version}`)[0]!,
    },
    {
      name: 'migrations',
      run: async () => {
        const status = await migrationStatus(pool);
        if (!status.compatible)
          throw new Error(`not current (pending: ${status.pending.join(', ') || 'none'}; edited: ${status.changed.join(', ') || 'none'}): run tally migrate`);
        return `${status.applied.length} applied${status.unknown.length ? `; the database is newer (${status.unknown.join(', ')})` : ''}`;
      },
    },
    {
      name: 'ledger invariants',
      run: async () => {
        const report = await services.ledger.checkInvariants([...services.credits.invariantChecks(), ...services.payments.invariantChecks()]);
        const broken = report.results.filter((r) => !r.ok);
        if (broken.length)
          throw new Error(`violated: ${broken.map((r) => `${r.name} (${r.violations.length})`).join(', ')}; run tally ledger check for the report`);
        return `${report.results.length} hold over ${report.counts.accounts} accounts and ${report.counts.transfers} transfers`;
      },
    },
    {
      name: 'storage',
      run: async () => {
        // The store keeps images only: the test object is a one-pixel PNG, unique to this run.
        const key = `smoke-check/${Date.now()}-${randomBytes(4).toString('hex')}.png`;
        const data = await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 1, g: 2, b: 3 } } })
          .png()
          .toBuffer();
        await services.store.put({ key, data, mime: 'image/png' });
        const read = await services.store.get(key);
        await services.store.delete(key);
        if (!read?.data.equals(data)) throw new Error(`wrote ${key} but read back ${read ? 'other bytes' : 'nothing'}`);
        if (await services.store.get(key)) throw new Error(`deleted ${key} but it is still there`);
        return `${services.store.kind}: wrote, read back and deleted a test object`;
      },
    },
    ...providers.flatMap(([name, adapter]): Step[] => [
      {
        name: `provider ${name} balance`,
        run: async () => {
          if (!adapter.balance) return 'no balance endpoint';
          const balance = await adapter.balance({ signal: AbortSignal.timeout(config.generations.healthCheckTimeoutMs) });
          return balance.unit === 'micro_usd' ? `${(balance.amount / 1_000_000).toFixed(2)} USD` : `${balance.amount} credits`;
        },
      },
      {
        name: `provider ${name} health`,
        run: async () => {
          await adapter.health({ signal: AbortSignal.timeout(config.generations.healthCheckTimeoutMs) });
          return 'answers its health probe';
        },
      },
    ]),
    {
      name: 'local generation',
      run: async () => {
        const input = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 120, g: 90, b: 60 } } })
          .png()
          .toBuffer();
        const adjusted = await adjustImage(input, 'lighting');
        const meta = await sharp(adjusted.image).metadata();
        if (meta.width !== 64 || meta.height !== 48) throw new Error(`the adjusted image is ${meta.width}x${meta.height}, not 64x48`);
        const key = storageKey({
          userId: config.smoke.userId,
          type: 'lighting',
          generationId: `smoke-${Date.now()}`,
          ext: adjusted.mime.slice('image/'.length),
        });
        await services.store.put({ key, data: adjusted.image, mime: adjusted.mime });
        await services.store.delete(key);
        return `lighting adjustment of a 64x48 image (${adjusted.cssFilter}), stored for ${config.smoke.userId} and deleted; charged to nobody`;
      },
    },
    {
      name: 'job schedule',
      run: async () => {
        const jobs = await services.jobs.list();
        const enabled = jobs.filter((j) => j.enabled);
        const unscheduled = enabled.filter((j) => !j.nextRunAt);
        if (enabled.length === 0) throw new Error('every scheduled job is turned off');
        if (unscheduled.length) throw new Error(`no next run for ${unscheduled.map((j) => j.name).join(', ')}`);
        const last = jobs
          .map((j) => j.lastRun?.startedAt)
          .filter(Boolean)
          .sort()
          .at(-1);
        return `${enabled.length} of ${jobs.length} jobs scheduled; ${last ? `last run started ${last}` : 'none has run yet (is a worker running?)'}`;
      },
    },
    {
      name: 'alert channels',
      run: async () => {
        if (services.alerts.channels.length === 0) return 'none configured (alerts are stored and listed only)';
        if (!notify) return `${services.alerts.channels.join(', ')} configured; --notify sends each a test message`;
        const sent = await services.alerts.sendTest();
        const failed = sent.filter((s) => !s.ok);
        if (failed.length) throw new Error(failed.map((s) => `${s.channel}: ${s.error}`).join('; '));
        return `test message delivered to ${sent.map((s) => `${s.channel} (${s.ms} ms)`).join(', ')}`;
      },
    },
  ];
}

/** One line a check, as people read it. */
export function formatSmokeCheck(check: SmokeCheck): string {
  return `${check.ok ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(28)} ${`${check.ms} ms`.padStart(8)}  ${check.detail}`;
}
