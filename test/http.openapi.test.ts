import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, listRoutes, type TestApp } from './support/http.ts';

let t: TestApp;
let doc: { paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown>; 'x-tally-access'?: string }>> };

beforeAll(async () => {
  t = await createTestApp();
  doc = await (await t.request('GET', '/openapi.json')).json();
});

// Served by the documentation machinery itself rather than described in the document.
// Files are served by signed link, not called as an API; the web pages are static files.
const UNDOCUMENTED = new Set([
  'GET /openapi.json',
  'GET /docs',
  'GET /docs/assets/:file',
  'GET /files/*',
  'GET /',
  'GET /admin',
  'GET /admin/*',
  'GET /assets/:file',
]);

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes exactly the routes the app serves', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const served = listRoutes(t.app).filter((route) => !UNDOCUMENTED.has(route));
    expect(documented.sort()).toEqual(served);
  });

  it('gives every operation its access level, its security, and problem+json errors', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(operation['x-tally-access'], where).toMatch(/^(public|user|service|admin|job|metrics)$/);
        if (operation['x-tally-access'] !== 'public') {
          expect(operation.security?.length, where).toBeGreaterThan(0);
          expect(Object.keys(operation.responses), where).toEqual(expect.arrayContaining(['401', '403']));
          expect(JSON.stringify(operation.responses['401']), where).toContain('application/problem+json');
        }
        // A key acting for a user with a malformed X-Tally-User gets a 400 (found by the fuzzer, undocumented on three routes).
        if (operation['x-tally-access'] === 'user') expect(Object.keys(operation.responses), where).toContain('400');
      }
    }
  });

  it('the API reference page loads its assets from this server', async () => {
    const page = await (await t.request('GET', '/docs')).text();
    expect(page).toContain('/openapi.json');
    for (const asset of page.match(/\/docs\/assets\/[\w.-]+/g)!) expect((await t.request('GET', asset)).status).toBe(200);
    expect((await t.request('GET', '/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });
});
