// What the OpenAPI-driven fuzzer (test/http.fuzz.test.ts) found, each pinned by a plain request: every
// one of these answered a 500 or an undocumented shape before its fix.
import { beforeAll, describe, expect, it } from 'vitest';
import { storableStrength } from '../src/generations/submit.ts';
import { readOperations, type OpenApiDocument } from './fuzz/operations.ts';
import { Verdicts } from './fuzz/verdict.ts';
import { createTestApp, type TestApp } from './support/http.ts';
import { testPng } from './support/images.ts';

let t: TestApp;
let user: string;
let doc: OpenApiDocument;
beforeAll(async () => {
  t = await createTestApp();
  await t.credits.refill({ provider: 'nanobanana', amount: 1000, reason: 'test' });
  await t.credits.purchase({ userId: 'finder', packageId: 'starter' });
  user = await t.userToken('finder');
  doc = (await (await t.request('GET', '/openapi.json')).json()) as OpenApiDocument;
});

const problem = async (response: Response) => ({ status: response.status, body: (await response.json()) as { code: string; errors?: { path: string }[] } });

describe('the NUL character (U+0000), which PostgreSQL text cannot hold, is a 400 naming the field', () => {
  it('in a path parameter', async () => {
    const { status, body } = await problem(await t.request('DELETE', '/v1/admin/api-keys/%00', { auth: t.adminKey }));
    expect(status).toBe(400);
    expect(body.code).toBe('validation_failed');
    expect(body.errors).toEqual([{ path: 'path.keyId', message: 'must not contain the NUL character (U+0000)' }]);
    expect((await t.request('GET', '/v1/generations/a%00b', { auth: user })).status).toBe(400);
  });

  it('in a query parameter', async () => {
    const { status, body } = await problem(await t.request('GET', '/v1/admin/users?q=a%00', { auth: t.adminKey }));
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.path)).toEqual(['query.q']);
  });

  it('in a JSON body, nested or as a key, and nothing is written', async () => {
    const { status, body } = await problem(
      await t.request('POST', '/v1/admin/refill-requests', { auth: t.adminKey, body: { provider: 'nanobanana', amount: 5, reason: 'refill\u0000 now' } }),
    );
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.path)).toEqual(['body.reason']);
    expect(await t.credits.refillRequests()).toEqual([]);
    const infer = await problem(await t.request('POST', '/v1/infer', { auth: user, body: { modelId: 'enhance', inputs: { prompt: 'x\u0000' } } }));
    expect(infer.body.errors?.map((e) => e.path)).toEqual(['body.inputs.prompt']);
  });

  it('in a multipart form field', async () => {
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(await testPng())], { type: 'image/png' }), 'in.png');
    form.set('enhancementType', 'mood');
    form.set('prompt', 'calm\u0000');
    const response = await t.app.request('/v1/generations', { method: 'POST', body: form, headers: { authorization: `Bearer ${user}` } });
    const { status, body } = await problem(response);
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.path)).toEqual(['body.prompt']);
    expect((await t.credits.balance('finder')).balance).toBe(10);
  });
});

describe('generations', () => {
  it('a strength too small for its column (5e-324) is taken as 0, not a 500', async () => {
    expect(storableStrength(5e-324)).toBe(0);
    expect(storableStrength(0.1234567)).toBe(0.123457);
    expect(storableStrength(undefined)).toBeNull();
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(await testPng())], { type: 'image/png' }), 'in.png');
    form.set('enhancementType', 'lighting');
    form.set('strength', '5e-324');
    const response = await t.app.request('/v1/generations', { method: 'POST', body: form, headers: { authorization: `Bearer ${user}` } });
    expect(response.status).toBe(202);
  });

  it('a multipart validation error names the field under body, as a JSON one does', async () => {
    const form = new FormData();
    form.set('enhancementType', 'lighting');
    form.set('strength', '7');
    const response = await t.app.request('/v1/generations', { method: 'POST', body: form, headers: { authorization: `Bearer ${user}` } });
    const { status, body } = await problem(response);
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.path)).toEqual(['body.strength']);
  });
});

describe('answers match the document', () => {
  it('GET /v1/admin/jobs: a job that never ran has lastRun null, which the documented schema allows', async () => {
    const op = readOperations(doc).find((o) => o.method === 'GET' && o.path === '/v1/admin/jobs')!;
    const response = await t.request('GET', '/v1/admin/jobs', { auth: t.adminKey });
    const text = await response.text();
    expect(JSON.parse(text).jobs.some((job: { lastRun: unknown }) => job.lastRun === null)).toBe(true);
    const verdicts = new Verdicts(doc as { components?: unknown });
    expect(
      verdicts.judge(op, { mode: 'valid', caller: 'admin', path: {}, query: {}, headers: {} }, { status: response.status, headers: response.headers, text }),
    ).toEqual([]);
  });
});
