// The one place that reads configuration: a JSON file (optional) overlaid by environment variables,
// validated once at start. Nothing else in the code reads process.env.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

import { bool, integer, list, secret } from './fields.ts';
import { generationsSchema, providersSchema, storageSchema } from './generations.ts';
import { paymentsSchema, refinePayments, withPaymentUrls } from './payments.ts';
import { envVariables } from './env.ts';
import { alertsSchema, jobsSchema } from './ops.ts';

/** 32 random bytes in base64 (`openssl rand -base64 32`), for AES-256-GCM. */
const encryptionKey = z
  .string()
  .trim()
  .refine(
    (v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32,
    'must be 32 bytes in base64 (make one with: openssl rand -base64 32)',
  );

const baseSchema = z.object({
  env: z.enum(['development', 'production', 'test']).default('development'),
  http: z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: integer(0, 65535).default(3000),
      /** Origins allowed by CORS; empty turns CORS off. */
      corsOrigins: list.default([]),
      maxJsonBytes: integer(1024, 100 * 1024 * 1024).default(1024 * 1024),
      maxUploadBytes: integer(1024, 1024 * 1024 * 1024).default(50 * 1024 * 1024),
      /** Unauthenticated webhook bodies (provider callbacks, payment events): small on purpose. */
      maxWebhookBytes: integer(1024, 10 * 1024 * 1024).default(256 * 1024),
      rateLimit: z
        .object({
          enabled: bool.default(true),
          /** Requests per minute per user and per API key, in each process (state is in memory). */
          perMinute: integer(1, 1_000_000).default(600),
        })
        .prefault({}),
    })
    .prefault({}),
  auth: z
    .object({
      /** HS256 secret for end-user JWTs (Supabase: the project's JWT secret). */
      jwtSecret: secret(16).optional(),
      /** JWKS URL for RS256/ES256 end-user JWTs (Supabase: https://<project>.supabase.co/auth/v1/.well-known/jwks.json). */
      jwksUrl: z.string().url().optional(),
      issuer: z.string().optional(),
      audience: z.string().optional(),
      sessionCookie: z.string().min(1).default('lr_session'),
      /** Refuse user tokens without `exp` (a token that never expires cannot be taken back). */
      requireExp: bool.default(true),
      /** Registered as an admin API key at start. */
      adminApiKey: z
        .string()
        .regex(/^tly_[A-Za-z0-9_-]{20,}$/, 'must look like tly_ followed by at least 20 characters')
        .optional(),
      /** Bearer token for scheduled-job triggers on /api/background/*. */
      backgroundJobToken: secret(16).optional(),
      /** Bearer token for GET /metrics (an admin API key works too). */
      metricsToken: secret(16).optional(),
      /**
       * A user token whose claim at this dotted path equals the value is an admin (`path=value`; Supabase
       * keeps roles in app_metadata, which only the service role can write). Empty turns it off.
       */
      adminClaim: z
        .string()
        .regex(/^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*=.+)?$/, 'must be claim.path=value, e.g. app_metadata.role=admin')
        .default('app_metadata.role=admin'),
      /** User ids (token subjects) that are admins whatever their claims. */
      adminUserIds: list.default([]),
    })
    .prefault({}),
  database: z
    .object({
      /** Any PostgreSQL; when unset, Tally runs its own embedded PostgreSQL under dataDir. */
      url: z.string().url().optional(),
      poolSize: integer(1, 500).default(10),
      embeddedPort: integer(1024, 65535).default(54329),
    })
    .prefault({}),
  dataDir: z.string().min(1).default('.tally'),
  /** `tally smoke` stores its test generation under this user (TEST_USER_ID), charged to nobody. */
  smoke: z
    .object({
      userId: z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,200}$/)
        .default('smoke-test'),
    })
    .prefault({}),
  /** Provider keys stored at run time are encrypted under this (src/credentials/README.md). */
  encryption: z.object({ key: encryptionKey.optional(), oldKey: encryptionKey.optional() }).prefault({}),
  /** A Supabase project (https://<ref>.supabase.co): the JWKS, issuer, audience and Storage endpoint follow from it unless set. */
  supabase: z.object({ url: z.string().url().optional() }).prefault({}),
  log: z
    .object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** auto: pretty in a terminal, JSON otherwise. */
      format: z.enum(['auto', 'pretty', 'json']).default('auto'),
    })
    .prefault({}),
  credits: z
    .object({
      /** Monthly allowance and overflow cap per tier, in user credits. */
      tiers: z
        .record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), z.object({ allowance: z.number().int().min(0), overflowCap: z.number().int().min(0).default(0) }))
        .default({ free: { allowance: 0, overflowCap: 0 }, plus: { allowance: 10, overflowCap: 0 }, pro: { allowance: 25, overflowCap: 0 } }),
      packages: z
        .array(
          z.object({
            id: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
            credits: z.number().int().positive(),
            /** Integer minor units (cents). */
            price: z.number().int().nonnegative(),
            currency: z.string().regex(/^[A-Z]{3}$/),
          }),
        )
        .default([
          { id: 'starter', credits: 10, price: 999, currency: 'EUR' },
          { id: 'creative', credits: 50, price: 3999, currency: 'EUR' },
          { id: 'pro', credits: 100, price: 6999, currency: 'EUR' },
          { id: 'studio', credits: 500, price: 29999, currency: 'EUR' },
        ]),
      /** The provider whose pool backs every sale and allowance. */
      primaryProvider: z.string().default('nanobanana'),
      pools: z
        .record(
          z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
          z.object({
            /** What one unit of this pool is: the provider's own credit, or a micro-USD for pay-as-you-go providers. */
            unit: z.string().min(1).default('credit'),
            /** Provider units consumed per user credit of work. */
            ratio: z.number().int().positive(),
            /** What one provider unit costs the platform, in micro-USD. */
            unitCostMicroUsd: z.number().int().nonnegative(),
            lowThreshold: z.number().int().nonnegative().default(100),
            /** Units kept out of sellable capacity; only allowance grants (and overflow) may draw on them. */
            emergencyReserve: z.number().int().nonnegative().default(0),
            criticalThreshold: z.number().int().nonnegative().default(40),
            /** Sync drift (in this pool's units) at or under which no alert is raised. */
            syncTolerance: z.number().int().nonnegative().default(1),
          }),
        )
        .default({
          nanobanana: { unit: 'credit', ratio: 4, unitCostMicroUsd: 25_000, lowThreshold: 100, criticalThreshold: 40, emergencyReserve: 0, syncTolerance: 1 },
          seedream: { unit: 'credit', ratio: 2, unitCostMicroUsd: 25_000, lowThreshold: 100, criticalThreshold: 40, emergencyReserve: 0, syncTolerance: 1 },
        }),
      /** The original design's buffer levels for the primary pool, shown beside it. */
      bufferLevels: z
        .object({ minimum: z.number().int(), comfortable: z.number().int(), ideal: z.number().int() })
        .default({ minimum: 400, comfortable: 2000, ideal: 10000 }),
      /** A pool projected to run dry sooner than this (at its 7-day pace) raises an alert. */
      burnAlertHorizonDays: z.number().int().positive().default(7),
      /** Largest single refill or grant an admin may book, as a guard against typos. */
      maxAdminAmount: z.number().int().positive().default(100_000_000),
    })
    .prefault({}),
  /** The public base URL of this service: signed file links and provider callbacks are built on it. */
  /** Unset: http://<host>:<port> of this process (127.0.0.1 when listening on every interface). */
  publicUrl: z.string().url().optional(),
  /** Hosts and CIDR ranges exempt from the SSRF guard on server-side fetches (tests, private deployments). */
  urlAllowlist: list.default([]),
  providers: providersSchema,
  generations: generationsSchema,
  storage: storageSchema,
  payments: paymentsSchema,
  alerts: alertsSchema,
  jobs: jobsSchema,
  /** Margin reports convert revenue to micro-USD at these rates: micro-USD per minor unit (cent) of each currency. */
  analytics: z
    .object({ microUsdPerMinorUnit: z.record(z.string().regex(/^[A-Z]{3}$/), z.number().int().positive()).default({ USD: 10_000, EUR: 10_800 }) })
    .prefault({}),
  ledger: z
    .object({
      /** Most ledger operations one shared commit carries. */
      batchSize: integer(1, 5000).default(512),
      /** Batches in flight at once per process (each holds one connection). */
      batchConcurrency: integer(1, 64).default(2),
      /** How often the worker voids expired holds. */
      expireIntervalSeconds: integer(1, 86400).default(30),
    })
    .prefault({}),
});

export const configSchema = baseSchema
  .superRefine((config, ctx) => {
    for (const [type, model] of Object.entries(config.generations.enhancementModels)) {
      if (!config.generations.models[model])
        ctx.addIssue({
          code: 'custom',
          path: ['generations', 'enhancementModels', type],
          message: `names model "${model}", which is not in generations.models`,
        });
    }
    for (const [name, provider] of Object.entries(config.providers)) {
      if (typeof provider === 'object' && provider.pool && !config.credits.pools[provider.pool]) {
        ctx.addIssue({ code: 'custom', path: ['providers', name, 'pool'], message: `names pool "${provider.pool}", which is not in credits.pools` });
      }
    }
    refinePayments(config, ctx);
  })
  .transform((config) => ({
    ...config,
    publicUrl: (config.publicUrl ?? `http://${['0.0.0.0', '::'].includes(config.http.host) ? '127.0.0.1' : config.http.host}:${config.http.port}`).replace(
      /\/+$/,
      '',
    ),
    generations: { ...config.generations, models: withRouteCosts(config) },
    ...withSupabaseDefaults(config),
  }))
  .transform((config) => ({ ...config, payments: withPaymentUrls(config.payments, config.publicUrl) }));

/**
 * What a Supabase project's URL implies, where nothing more explicit is set: user tokens verified
 * against its JWKS (new projects sign asymmetrically; SUPABASE_JWT_SECRET still covers legacy HS256),
 * issued by its Auth server for the `authenticated` audience, and Storage through its S3 endpoint.
 */
function withSupabaseDefaults(config: Pick<z.infer<typeof baseSchema>, 'supabase' | 'auth' | 'storage'>) {
  const base = config.supabase.url?.replace(/\/+$/, '');
  if (!base) return {};
  return {
    auth: {
      ...config.auth,
      jwksUrl: config.auth.jwksUrl ?? `${base}/auth/v1/.well-known/jwks.json`,
      issuer: config.auth.issuer ?? `${base}/auth/v1`,
      audience: config.auth.audience ?? 'authenticated',
    },
    storage: { ...config.storage, s3: { ...config.storage.s3, endpoint: config.storage.s3.endpoint ?? `${base}/storage/v1/s3` } },
  };
}

/** Each route's cost: as configured, or its pool's unit cost × the units it consumes (docs/rules.md §1). */
function withRouteCosts(config: Pick<z.infer<typeof baseSchema>, 'generations' | 'providers' | 'credits'>) {
  return Object.fromEntries(
    Object.entries(config.generations.models).map(([id, model]) => [
      id,
      {
        ...model,
        routes: model.routes.map((route) => {
          const pool = config.providers[route.provider].pool;
          const unitCost = pool ? (config.credits.pools[pool]?.unitCostMicroUsd ?? 0) : 0;
          return { ...route, costMicroUsd: route.costMicroUsd ?? route.units * unitCost };
        }),
      },
    ]),
  );
}

export type Config = z.infer<typeof configSchema>;
export type CreditsConfig = Config['credits'];
export type ProvidersConfig = Config['providers'];
export type GenerationsConfig = Config['generations'];
export type StorageConfig = Config['storage'];
export type PaymentsConfig = Config['payments'];
export type AlertsConfig = Config['alerts'];
export type JobsConfig = Config['jobs'];
export type ConfigInput = z.input<typeof configSchema>;

export { envVariables } from './env.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `tally start --demo` turns development purchases on, under the same rule: never in production. */
export function withDemoPurchases(config: Config): Config {
  if (config.env === 'production') throw new ConfigError('`tally start --demo` grants purchases without payment and is refused when NODE_ENV=production.');
  return { ...config, payments: { ...config.payments, devPurchases: true } };
}

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  /** Path of a JSON config file; defaults to TALLY_CONFIG, else ./tally.config.json when it exists. */
  file?: string;
  /** Values that win over file and environment (used by tests and the CLI). */
  overrides?: ConfigInput;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const fileValues = readConfigFile(options.file ?? env.TALLY_CONFIG);
  const merged: Record<string, unknown> = structuredClone(fileValues);
  for (const [name, target] of Object.entries(envVariables)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(merged, target, value);
  }
  deepMerge(merged, (options.overrides ?? {}) as Record<string, unknown>);

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const names = Object.entries(envVariables)
        .filter(([, p]) => p === key)
        .map(([n]) => n);
      const where = names.length ? `${names.join(' / ')} (config key "${key}")` : `config key "${key}"`;
      return `  ${where}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

function readConfigFile(file: string | undefined): Record<string, unknown> {
  const candidate = file ?? 'tally.config.json';
  if (!existsSync(candidate)) {
    if (file) throw new ConfigError(`Config file not found: ${path.resolve(file)} (set by TALLY_CONFIG)`);
    return {};
  }
  try {
    const value: unknown = JSON.parse(readFileSync(candidate, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('the top level must be an object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`Config file ${path.resolve(candidate)} is not valid JSON: ${(error as Error).message}`);
  }
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
      deepMerge(target[key] as Record<string, unknown>, value as Record<string, unknown>);
    } else if (value !== undefined) {
      target[key] = value;
    }
  }
}
