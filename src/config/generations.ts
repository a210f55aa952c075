// Config of the generation side: upstream providers, the models catalogue, processing, storage.
import { z } from 'zod';
import { AI_PROVIDER_NAMES } from '../providers/types.ts';
import { bool, integer, secret } from './fields.ts';

const providerConnection = (baseUrl: string) =>
  z.object({
    baseUrl: z.string().url().default(baseUrl),
    /** Unset: the provider is not configured and never routed to. */
    apiKey: z.string().min(1).optional(),
    timeoutMs: integer(100, 600_000).default(30_000),
    /** Calls per minute across every process. */
    rateLimitPerMinute: integer(1, 1_000_000).default(120),
    /** The credits pool this provider's work is paid from; unset: the provider has no pool of its own. */
    pool: z.string().optional(),
  });

export const providersSchema = z
  .object({
    nanobanana: providerConnection('https://api.nanobananaapi.ai')
      .extend({ pool: z.string().optional().default('nanobanana') })
      .prefault({}),
    kie: providerConnection('https://api.kie.ai')
      .extend({ webhookHmacKey: z.string().min(1).optional() })
      .prefault({}),
    fal: providerConnection('https://queue.fal.run')
      .extend({
        apiBaseUrl: z.string().url().default('https://api.fal.ai'),
        jwksUrl: z.string().url().default('https://rest.alpha.fal.ai/.well-known/jwks.json'),
        /** ADMIN-scoped key for the balance (and the locked-account health check); inference uses apiKey. */
        adminKey: z.string().min(1).optional(),
      })
      .prefault({}),
    gemini: providerConnection('https://generativelanguage.googleapis.com').prefault({}),
    wavespeed: providerConnection('https://api.wavespeed.ai')
      .extend({ pool: z.string().optional().default('seedream'), webhookSecret: z.string().min(1).optional() })
      .prefault({}),
    /** Seed name USE_MOCK_INFERENCE: route everything to the local provider, charged, whatever keys are set. */
    mockInference: bool.default(false),
  })
  .prefault({});

const route = z.object({
  provider: z.enum(AI_PROVIDER_NAMES),
  /** The provider's own model id. */
  model: z.string().min(1),
  /** Units of the provider's pool one generation consumes. */
  units: z.number().int().nonnegative(),
  /**
   * What one generation costs the platform at this provider, in micro-USD (for analytics). Unset: its
   * pool's unit cost × `units` where the provider has a pool (docs/rules.md §1), else 0. Admins may override
   * it per provider at run time.
   */
  costMicroUsd: z.number().int().nonnegative().optional(),
});

export const generationsSchema = z
  .object({
    models: z
      .record(
        z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/),
        z.object({
          kind: z.enum(['image-edit', 'image']).default('image-edit'),
          credits: z.number().int().positive(),
          routes: z.array(route).min(1),
        }),
      )
      .default({
        enhance: {
          kind: 'image-edit',
          credits: 1,
          routes: [
            { provider: 'nanobanana', model: 'nano-banana-edit', units: 4 },
            { provider: 'wavespeed', model: 'bytedance/seedream-v4/edit', units: 2 },
            { provider: 'kie', model: 'google/nano-banana-edit', units: 4, costMicroUsd: 20_000 },
            { provider: 'fal', model: 'fal-ai/nano-banana/edit', units: 0, costMicroUsd: 39_000 },
            { provider: 'gemini', model: 'gemini-2.5-flash-image', units: 0, costMicroUsd: 39_000 },
          ],
        },
        seedream_image: { kind: 'image', credits: 1, routes: [{ provider: 'wavespeed', model: 'bytedance/seedream-v4/edit', units: 2 }] },
        nano_banana_image: {
          kind: 'image',
          credits: 1,
          routes: [
            { provider: 'nanobanana', model: 'nano-banana', units: 4 },
            { provider: 'gemini', model: 'gemini-2.5-flash-image', units: 0, costMicroUsd: 39_000 },
          ],
        },
      }),
    /** The model each enhancement type uses by default. */
    enhancementModels: z
      .object({
        lighting: z.string().default('enhance'),
        style: z.string().default('enhance'),
        background: z.string().default('enhance'),
        mood: z.string().default('enhance'),
        custom: z.string().default('enhance'),
      })
      .prefault({}),
    /** Processors run at once in each worker process (they mostly wait on providers). */
    concurrency: integer(1, 1000).default(50),
    /** Users' result webhooks a worker process delivers at once, apart from the generation slots. */
    webhookConcurrency: integer(1, 100).default(4),
    /** How long one webhook delivery may take before it counts as a failure. */
    webhookTimeoutMs: integer(100, 60_000).default(5_000),
    /** First delay after an endpoint fails; it doubles with each further failure, up to the maximum. */
    webhookBackoffMs: integer(10, 3_600_000).default(5_000),
    webhookMaxBackoffMs: integer(10, 86_400_000).default(3_600_000),
    /** Passes (tries and deferrals) one delivery gets before it is recorded as undelivered. */
    webhookMaxPasses: integer(1, 1000).default(12),
    /** A generation not finished by then is failed and its hold voided. */
    timeoutSeconds: integer(5, 86_400).default(600),
    /** How long one processor owns a generation before another may take over (renewed while it works). */
    leaseSeconds: integer(2, 3600).default(60),
    /** How often a waiting processor asks a provider where a task stands. */
    pollIntervalMs: integer(50, 60_000).default(2_000),
    /** How often a worker sweeps overdue generations and takes up orphaned ones (a dead worker's). */
    maintenanceSeconds: integer(1, 3600).default(30),
    /** How often a worker probes each configured provider's health (docs/rules.md §7: every 5 minutes). */
    healthCheckSeconds: integer(10, 86_400).default(300),
    /** How long one health probe may take. */
    healthCheckTimeoutMs: integer(100, 120_000).default(10_000),
    /** How long POST /api/infer waits before answering 504 with the id to poll. */
    syncWaitSeconds: integer(1, 600).default(60),
    /** Failure-rate circuit: at least `minAttempts` in the window and this share failing opens it. */
    circuit: z
      .object({
        windowSeconds: integer(10, 86_400).default(300),
        minAttempts: integer(1, 10_000).default(5),
        failureRatePercent: integer(1, 100).default(50),
        cooldownSeconds: integer(1, 86_400).default(60),
      })
      .prefault({}),
    /** Largest input image fetched or uploaded. */
    maxInputBytes: integer(1024, 1024 * 1024 * 1024).default(50 * 1024 * 1024),
    /** How long after submit a provider's "no such task" is read as "not visible yet" (pending). */
    taskVisibilityGraceSeconds: integer(0, 3600).default(120),
    /** Most pixels an input or a result may declare; sharp never decodes more (pixel bombs). */
    maxImagePixels: integer(1, 1_000_000_000).default(50_000_000),
    /** Largest result downloaded from a provider. */
    maxResultBytes: integer(1024, 1024 * 1024 * 1024).default(50 * 1024 * 1024),
    fetchTimeoutMs: integer(100, 600_000).default(30_000),
  })
  .prefault({});

export const storageSchema = z
  .object({
    driver: z.enum(['disk', 's3']).default('disk'),
    /** Disk store root; defaults to <dataDir>/files. */
    diskRoot: z.string().min(1).optional(),
    /** Signs file links served by Tally; defaults to a secret kept in the data folder. */
    signingSecret: secret(16).optional(),
    /** How long a result or input link stays valid. */
    linkTtlSeconds: integer(60, 7 * 86_400).default(3600),
    s3: z
      .object({
        endpoint: z.string().url().optional(),
        region: z.string().min(1).default('us-east-1'),
        bucket: z.string().min(1).optional(),
        accessKeyId: z.string().min(1).optional(),
        secretAccessKey: z.string().min(1).optional(),
        forcePathStyle: bool.default(true),
      })
      .prefault({}),
  })
  .prefault({});
