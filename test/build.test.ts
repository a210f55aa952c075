// The production build runs on plain Node, with no TypeScript tooling: the compiled CLI migrates a
// fresh database, checks the ledger and serves a ready API with NODE_ENV=production. (npm install
// builds dist/; CI's other CLI tests run it too, through bin/tally.mjs, whenever it is current.)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/database.ts';

const compiled = 'dist/cli.js';

function runCompiled(args: string[], env: Record<string, string>) {
  // Plain node on the compiled file: no tsx loader is registered, so a .ts import would fail here.
  const child = spawn(process.execPath, [compiled, ...args], { env: { PATH: process.env.PATH, NODE_ENV: 'production', LOG_FORMAT: 'json', ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return { child, output: () => output, exited: once(child, 'exit').then(([code]) => code as number | null) };
}

describe('the compiled build', () => {
  it('exists: npm install (or npm run build) made it', () => {
    expect(existsSync(compiled), 'dist/ is missing: run `npm run build`').toBe(true);
  });

  it('migrates, checks the ledger and serves a ready API on plain Node with NODE_ENV=production', async () => {
    const db = await createTestDatabase({ empty: true, poolSize: 1 });
    const env = { DATABASE_URL: db.url, TALLY_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tally-build-')) };
    const migrate = runCompiled(['migrate'], env);
    expect(await migrate.exited, migrate.output()).toBe(0);
    const check = runCompiled(['ledger', 'check'], env);
    expect(await check.exited, check.output()).toBe(0);

    const serve = runCompiled(['serve'], { ...env, PORT: '0', JWT_SECRET: 'compiled-build-test-secret-0123456789' });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        serve.child.stdout.on('data', () => {
          const listening = serve.output().match(/"url":"(http:[^"]+)".*HTTP API listening/);
          if (listening) resolve(listening[1]!);
        });
        void serve.exited.then((code) => reject(new Error(`serve exited (${code}):\n${serve.output()}`)));
      });
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });
});
