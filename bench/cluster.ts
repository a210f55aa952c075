// A Tally deployment for the submit and scale benchmarks, as a user runs one: `tally serve` and
// `tally worker` OS processes (bin/tally.mjs) on one PostgreSQL, the Gemini fake on 127.0.0.1
// (synchronous, answers at once with a real PNG) as the only provider. The benchmark's own process
// seeds the users, drives the clients, and proves afterwards that nothing was lost or charged twice.
import { writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { loadConfig } from '../src/config/index.ts';
import { freePort } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { migrateQueue } from '../src/queue/index.ts';
import { createServices, type Services } from '../src/services.ts';
import { startGeminiFake } from '../test/fakes/gemini.ts';
import { log, onCleanup, percentile, spawnNode, withDatabase, type Spawned } from './lib.ts';

const JWT_SECRET = 'bench-secret-0123456789abcdef0123456789';
export const CREDITS_PER_USER = 100_000;
const SUBMIT_BODY = JSON.stringify({ modelId: 'nano_banana_image', prompt: 'a lighthouse at dusk' });

export interface Cluster {
  pool: Pool;
  services: Services;
  env: Record<string, string>;
  apis: string[];
  fakeUrl: string;
  fakeKey: string;
  /** One user (and token) per client: a user's own charges are serialised by design. */
  users: { id: string; token: string }[];
  stop(): Promise<void>;
}

/** A new database on `serverUrl`, then `processes` API and `processes` worker processes on it. */
export async function startCluster(serverUrl: string, input: { database: string; processes: number; users: number; poolSize?: number }): Promise<Cluster> {
  const stops: (() => Promise<void>)[] = [];
  const admin = createPool(serverUrl, 1);
  await admin.query(`create database ${input.database}`);
  await admin.end();
  const url = withDatabase(serverUrl, input.database);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-data-'));
  stops.push(onCleanup(() => rmSync(dataDir, { recursive: true, force: true })));
  const fake = await startGeminiFake();
  stops.push(onCleanup(() => fake.close()));
  // The provider's rate limit is per minute across every process (default 120): far above the benchmark's rate.
  const configFile = path.join(dataDir, 'tally.config.json');
  writeFileSync(configFile, JSON.stringify({ providers: { gemini: { rateLimitPerMinute: 1_000_000 } } }));
  const env: Record<string, string> = {
    DATABASE_URL: url,
    TALLY_CONFIG: configFile,
    JWT_SECRET,
    GEMINI_BASE_URL: fake.url,
    GEMINI_API_KEY: fake.apiKey,
    TALLY_URL_ALLOWLIST: '127.0.0.1/32',
    TALLY_DATA_DIR: dataDir,
    TALLY_RATE_LIMIT_ENABLED: 'false',
    TALLY_DB_POOL_SIZE: String(input.poolSize ?? 10),
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
  };

  const config = loadConfig({ env, file: configFile });
  const pool = createPool(url, 6);
  stops.push(onCleanup(() => pool.end()));
  await migrate(pool);
  await migrateQueue(pool);
  const services = createServices({ config, pool, log });
  await services.credits.openPlatformAccounts();
  await services.credits.refill({ provider: 'nanobanana', amount: 100_000_000, reason: 'bench' });
  const secret = new TextEncoder().encode(JWT_SECRET);
  const users = await Promise.all(
    Array.from({ length: input.users }, async (_, i) => {
      const id = `bench-${i}`;
      await services.credits.adjust({ userId: id, credits: CREDITS_PER_USER, reason: 'bench' });
      return { id, token: await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(id).setExpirationTime('2h').sign(secret) };
    }),
  );

  const ports = await Promise.all(Array.from({ length: input.processes }, () => freePort()));
  const spawned: Spawned[] = await Promise.all([
    ...ports.map((port) => spawnNode(['bin/tally.mjs', 'serve'], 'HTTP API listening', { ...env, PORT: String(port) })),
    ...ports.map(() => spawnNode(['bin/tally.mjs', 'worker'], 'worker started', env)),
  ]);
  for (const child of spawned) stops.push(child.stop);
  return {
    pool,
    services,
    env,
    apis: ports.map((port) => `http://127.0.0.1:${port}`),
    fakeUrl: fake.url,
    fakeKey: fake.apiKey,
    users,
    stop: async () => {
      for (const stop of stops.reverse()) await stop();
    },
  };
}

export interface SubmitResult {
  clients: number;
  seconds: number;
  /** 202 answers received inside the measured window (after the warm-up second); p50/p99 are theirs. */
  accepted: number;
  acceptedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Submissions answered with something other than 202 (each is a failure of the run). */
  refused: number;
  drainSeconds: number;
  /** Accepted per second over submit and drain together: the rate the worker sustained end to end. */
  completedPerSecond: number;
}

/**
 * `users.length` clients in closed loops POST /v1/generations, client i to API i mod n, for a warm-up
 * second (its submissions are proven but not counted) and then `seconds`; the workers run throughout.
 * Then waits for every generation to end. Returns the numbers and every accepted generation id.
 */
export async function submitLoad(cluster: Cluster, seconds: number, warmupMs = 1000): Promise<{ result: SubmitResult; ids: string[] }> {
  const ids: string[] = [];
  const latencies: number[] = [];
  let refused = 0;
  let firstRefusal = '';
  const started = performance.now();
  const measureFrom = started + warmupMs;
  const until = measureFrom + seconds * 1000;
  await Promise.all(
    cluster.users.map(async (user, i) => {
      const api = cluster.apis[i % cluster.apis.length]!;
      while (performance.now() < until && refused === 0) {
        const t0 = performance.now();
        const response = await fetch(`${api}/v1/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
          body: SUBMIT_BODY,
        });
        const body = await response.text();
        const t1 = performance.now();
        if (response.status !== 202) {
          refused++;
          firstRefusal ||= `${response.status} ${body}`;
          break;
        }
        ids.push((JSON.parse(body) as { task: { id: string } }).task.id);
        if (t1 >= measureFrom && t1 <= until) latencies.push(t1 - t0); // ended inside the measured window
      }
    }),
  );
  if (refused > 0) throw new Error(`a submission was refused: ${firstRefusal}`);
  const submitEnded = performance.now();
  await drain(cluster.pool, 600_000);
  const drainSeconds = (performance.now() - submitEnded) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ids,
    result: {
      clients: cluster.users.length,
      seconds,
      accepted: latencies.length,
      acceptedPerSecond: latencies.length / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      refused,
      drainSeconds,
      completedPerSecond: ids.length / ((performance.now() - started) / 1000),
    },
  };
}

/**
 * Warm-up before any measured round (a fresh process's first requests run cold: JIT, connections,
 * caches): every client submits `perClient` generations, then the queue drains. Returns their ids, so
 * the proof covers them too.
 */
export async function warmUp(cluster: Cluster, perClient = 10): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(
    cluster.users.map(async (user, i) => {
      for (let k = 0; k < perClient; k++) ids.push(await submitOne(cluster.apis[(i + k) % cluster.apis.length]!, user.token));
    }),
  );
  await drain(cluster.pool, 600_000);
  return ids;
}

async function submitOne(api: string, token: string): Promise<string> {
  const response = await fetch(`${api}/v1/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: SUBMIT_BODY,
  });
  const body = await response.text();
  if (response.status !== 202) throw new Error(`a submission was refused: ${response.status} ${body}`);
  return (JSON.parse(body) as { task: { id: string } }).task.id;
}

export interface OverheadResult {
  calls: number;
  directP50Ms: number;
  directP99Ms: number;
  throughP50Ms: number;
  throughP99Ms: number;
  overheadP50Ms: number;
  overheadP99Ms: number;
}

/**
 * Tally's sync overhead: `calls` sequential POST /api/infer (call k through API k mod n) against the
 * same generation asked of the provider directly, in `rounds` alternating rounds after a warm-up.
 * Returns the percentiles and the ids of the generations made (for the proof).
 */
export async function syncOverhead(cluster: Cluster, calls: number, rounds = 4): Promise<{ result: OverheadResult; ids: string[] }> {
  const ids: string[] = [];
  const token = cluster.users[0]!.token;
  let k = 0;
  const through = async () => {
    const response = await fetch(`${cluster.apis[k++ % cluster.apis.length]}/api/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ modelId: 'nano_banana_image', inputs: { prompt: 'a lighthouse at dusk' } }),
    });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`/api/infer answered ${response.status}: ${body}`);
    ids.push((JSON.parse(body) as { generationId: string }).generationId);
  };
  const direct = async () => {
    const response = await fetch(`${cluster.fakeUrl}/v1beta/models/gemini-2.5-flash-image:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': cluster.fakeKey, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'a lighthouse at dusk' }] }], generationConfig: { responseModalities: ['TEXT', 'IMAGE'] } }),
    });
    if (response.status !== 200) throw new Error(`the provider fake answered ${response.status}`);
    await response.arrayBuffer();
  };
  const timed = async (n: number, call: () => Promise<void>, into: number[]) => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await call();
      into.push(performance.now() - t0);
    }
  };
  await timed(Math.max(20, cluster.apis.length * 10), through, []); // warm-up, every process
  await timed(20, direct, []);
  const directMs: number[] = [];
  const throughMs: number[] = [];
  const perRound = Math.max(1, Math.ceil(calls / rounds));
  for (let r = 0; r < rounds; r++) {
    await timed(perRound, direct, directMs);
    await timed(perRound, through, throughMs);
  }
  directMs.sort((a, b) => a - b);
  throughMs.sort((a, b) => a - b);
  const result = {
    calls: throughMs.length,
    directP50Ms: percentile(directMs, 50),
    directP99Ms: percentile(directMs, 99),
    throughP50Ms: percentile(throughMs, 50),
    throughP99Ms: percentile(throughMs, 99),
    overheadP50Ms: percentile(throughMs, 50) - percentile(directMs, 50),
    overheadP99Ms: percentile(throughMs, 99) - percentile(directMs, 99),
  };
  return { result, ids };
}

/** Waits until no generation is open (queued or processing). A benchmark polls: there is no event to await across processes. */
export async function drain(pool: Pool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = (await pool.query<{ n: number }>("select count(*)::int as n from generations where status in ('queued', 'processing')")).rows[0]!.n;
    if (open === 0) return;
    if (Date.now() > deadline) throw new Error(`${open} generations still open after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
