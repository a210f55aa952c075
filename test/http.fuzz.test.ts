// Every operation of the served OpenAPI document fuzzed with requests generated from it (test/fuzz/):
// mostly valid ones that reach the domain and the ledger, some with one field broken, some junk, from
// every kind of caller. Each answer: never a 5xx, a documented status, problem+json naming the field
// for errors, and 2xx bodies matching the documented schema. Afterwards the ledger's invariants hold
// and no balance is negative. The normal suite sends FUZZ_RUNS_PER_ROUTE (default 10) requests per
// operation; `npm run chaos` sets 160 (over 10,000 in all) and prints the tally by status.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describe as describeRequest, toHttp } from './fuzz/client.ts';
import { readOperations, requestsFor, type OpenApiDocument, type Operation } from './fuzz/operations.ts';
import { SchemaReader } from './fuzz/schema.ts';
import { Verdicts } from './fuzz/verdict.ts';
import { createWorld, type World } from './fuzz/world.ts';
import { waitFor } from './support/wait.ts';

const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS_PER_ROUTE ?? 10);
// The operations must be known when the tests are collected, before beforeAll: the document is read from
// an app built without a database (serving /openapi.json touches none); beforeAll checks the real one matches.
const listedDocument = (await (await (await appForListing()).request('/openapi.json')).json()) as OpenApiDocument;
const operations = readOperations(listedDocument);

let world: World;
let reader: SchemaReader;
let verdicts: Verdicts;
const started = Date.now();
const modes = new Map<string, number>();
const successes = new Map<string, number>();
/** Each operation's statuses, to show why one never answered 2xx. */
const statuses = new Map<string, Map<number, number>>();

beforeAll(async () => {
  world = await createWorld();
  const served = (await (await world.t.request('GET', '/openapi.json')).json()) as OpenApiDocument;
  expect(served).toEqual(listedDocument);
  reader = new SchemaReader(served, world.hints);
  verdicts = new Verdicts(served as { components?: unknown });
});

afterAll(() => {
  if (!verdicts) return;
  const total = [...verdicts.byClass.values()].reduce((a, b) => a + b, 0);
  const line = (map: Map<string, number>) =>
    [...map.entries()]
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
  console.log(
    `fuzz: ${total} requests to ${operations.length} operations in ${((Date.now() - started) / 1000).toFixed(0)} s\n` +
      `  by class  ${line(verdicts.byClass)}\n  by status ${line(verdicts.byStatus)}\n  by mode   ${line(modes)}\n` +
      `  operations never answered 2xx: ${
        operations
          .filter((op) => !successes.has(key(op)))
          .map((op) => `${key(op)} (${line(statuses.get(key(op)) ?? new Map())})`)
          .join(', ') || 'none'
      }`,
  );
});

describe('fuzzing every operation from the OpenAPI document', () => {
  it(`reads ${operations.length} operations and sends ${RUNS_PER_OPERATION} requests to each`, () => {
    expect(operations.length).toBeGreaterThan(60);
  });

  for (const op of operations) {
    it(key(op), async () => {
      await fc.assert(
        fc.asyncProperty(requestsFor(op, reader, world.upload), async (request) => {
          const sent = toHttp(op, request, world.credentials);
          const response = await world.t.app.request(sent.url, sent.init);
          const text = await response.text();
          modes.set(request.mode, (modes.get(request.mode) ?? 0) + 1);
          if (response.status < 300) successes.set(key(op), (successes.get(key(op)) ?? 0) + 1);
          const seen = statuses.get(key(op)) ?? new Map<number, number>();
          statuses.set(key(op), seen.set(response.status, (seen.get(response.status) ?? 0) + 1));
          const faults = verdicts.judge(op, request, { status: response.status, headers: response.headers, text });
          await world.afterRequest(op, request, response.status, text);
          expect(faults.join('\n'), describeRequest(sent, request)).toBe('');
        }),
        { numRuns: RUNS_PER_OPERATION },
      );
    });
  }

  it('leaves the ledger sound: every generation ended, invariants clean, no balance negative', async () => {
    const pool = world.t.db.pool;
    await waitFor(
      async () => (await pool.query<{ n: number }>(`select count(*)::int as n from generations where status in ('queued', 'processing')`)).rows[0]!.n,
      (n) => n === 0,
      { timeoutMs: 60_000, what: 'every generation ended' },
    );
    const report = await world.t.ledger.checkInvariants(world.t.credits.invariantChecks());
    expect(report.ok, JSON.stringify(report)).toBe(true);
    const negative = await pool.query(`select id, balance from ledger_accounts where balance < 0 and (never_negative or id like 'user:%')`);
    expect(negative.rows).toEqual([]);
    // The valid requests reached the domain: most operations answered 2xx at least once.
    expect(successes.size).toBeGreaterThan(operations.length / 2);
  });
});

function key(op: Operation): string {
  return `${op.method} ${op.path}`;
}

async function appForListing() {
  const { createApp } = await import('../src/http/app.ts');
  const { loadConfig } = await import('../src/config/index.ts');
  const { createMetrics } = await import('../src/http/metrics.ts');
  const pino = (await import('pino')).default;
  type AppDependencies = import('../src/http/app.ts').AppDependencies;
  const deps = { config: loadConfig({ env: {} }), metrics: createMetrics(), signingSecret: 'fuzz', log: pino({ level: 'silent' }) };
  return createApp(deps as Partial<AppDependencies> as AppDependencies);
}
