// An in-process app on a fresh database, with every kind of caller ready: no server, `app.request()`.
import { SignJWT } from 'jose';
import pino from 'pino';
import type { Logger } from '../../src/log.ts';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.ts';
import { loadConfig, type Config, type ConfigInput } from '../../src/config/index.ts';
import { serve } from '@hono/node-server';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, inject } from 'vitest';
import type { Credits, ProviderBalancePort } from '../../src/credits/index.ts';
import type { HostLookup } from '../../src/net/safe-fetch.ts';
import { createServices, httpDependencies, type Services } from '../../src/services.ts';
import { createApp } from '../../src/http/app.ts';
import type { Ledger } from '../../src/ledger/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const JWT_SECRET = 'test-secret-that-is-long-enough-0123456789';
export const AUDIENCE = 'authenticated';
export const JOB_TOKEN = 'job-token-0123456789abcdef';
export const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  db: TestDatabase;
  ledger: Ledger;
  credits: Credits;
  services: Services;
  config: Config;
  adminKey: string;
  serviceKey: string;
  revokedKey: string;
  userToken: (sub: string, options?: { secret?: string; audience?: string; expiresIn?: string | number }) => Promise<string>;
  request: (method: string, path: string, options?: { auth?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> }) => Promise<Response>;
}

export interface TestAppOptions {
  /** Run the worker role in this process too (generations get processed). */
  worker?: boolean;
  lookup?: HostLookup;
  /** Serve over real HTTP on 127.0.0.1 (TALLY_PUBLIC_URL points there), for providers' callbacks. */
  listen?: boolean;
  /** The app's logger (default: silent, or TEST_LOG's level); tests that read the logs pass their own. */
  log?: Logger;
}

export async function createTestApp(
  env: Record<string, string> = {},
  overrides: ConfigInput = {},
  balances?: ProviderBalancePort,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  // Listening comes first, on a port the system picks, so the public URL names a port already ours
  // (a port found free and bound later could be taken in between); requests wait for the app.
  // The Node bindings travel with each request (the body rules read the socket's HTTP/1 framing).
  let handle: ((request: Request, env: unknown) => Response | Promise<Response>) | undefined;
  const server = options.listen ? serve({ fetch: (request, env) => handle!(request, env), hostname: '127.0.0.1', port: 0 }) : undefined;
  if (server) {
    await once(server, 'listening');
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  }
  const port = server ? (server.address() as AddressInfo).port : undefined;
  const config = loadConfig({
    env: {
      JWT_SECRET,
      JWT_AUDIENCE: AUDIENCE,
      BACKGROUND_JOB_TOKEN: JOB_TOKEN,
      TALLY_METRICS_TOKEN: METRICS_TOKEN,
      TALLY_RATE_LIMIT_ENABLED: 'false',
      TALLY_DATA_DIR: mkdtempSync(path.join(inject('dataDir'), 'app-')),
      ...(port ? { TALLY_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
      ...env,
    },
    overrides,
  });
  // TEST_LOG=debug shows the app's log while debugging a test.
  const log = options.log ?? pino({ level: process.env.TEST_LOG ?? 'silent' });
  const services = createServices({ config, pool: db.pool, log, balances, lookup: options.lookup });
  const { ledger, credits } = services;
  await credits.openPlatformAccounts();
  await services.start({ worker: options.worker ?? false });
  afterAll(() => services.stop());
  const app = createApp(httpDependencies(services, { config, pool: db.pool, log }));
  handle = (request, env) => app.fetch(request, env as never);
  const adminKey = (await createApiKey(db.pool, { role: 'admin', name: 'test admin' })).key;
  const serviceKey = (await createApiKey(db.pool, { role: 'service', name: 'test service' })).key;
  const revoked = await createApiKey(db.pool, { role: 'admin', name: 'revoked' });
  await revokeApiKey(db.pool, revoked.apiKey.id);

  const userToken: TestApp['userToken'] = async (sub, options = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setAudience(options.audience ?? AUDIENCE)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(options.expiresIn ?? '1h')
      .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));

  const request: TestApp['request'] = (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth) headers.authorization = `Bearer ${options.auth}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    return Promise.resolve(app.request(path, { method, headers, body }));
  };

  return { app, db, ledger, credits, services, config, adminKey, serviceKey, revokedKey: revoked.key, userToken, request };
}

/** The app's routes as "METHOD /path" (Hono's :param form), middleware excluded. */
export function listRoutes(app: TestApp['app']): string[] {
  return [...new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))].sort();
}

/**
 * The environment a `tally` OS process needs to share a test app's database, auth and data folder,
 * plus the test's own settings.
 */
export function processEnv(t: TestApp, settings: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: t.db.url,
    JWT_SECRET,
    JWT_AUDIENCE: AUDIENCE,
    TALLY_DATA_DIR: t.config.dataDir,
    LOG_LEVEL: 'info',
    ...settings,
  };
}
