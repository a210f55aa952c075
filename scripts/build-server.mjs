#!/usr/bin/env node
// The production build of the server: TypeScript compiled by tsc into dist/ (tsconfig.build.json), the
// SQL migrations beside it, and a stamp bin/tally.mjs compares with src/ to know the build is current.
// Plain JavaScript, so it runs wherever Node does; a production install without dev tools skips it
// when a build is already there (a container image builds first, then prunes dev dependencies).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  if (existsSync(path.join(dist, '.built'))) {
    console.log('build: typescript is not installed (production install); keeping the existing dist/');
    process.exit(0);
  }
  console.error('build: typescript is not installed and there is no dist/: install with dev dependencies (npm ci), then npm run build');
  process.exit(1);
}

const started = Date.now();
process.stdout.write('build: compiling src/ to dist/ … ');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
const migrations = path.join(root, 'src', 'db', 'migrations');
mkdirSync(path.join(dist, 'db', 'migrations'), { recursive: true });
for (const file of readdirSync(migrations).filter((f) => f.endsWith('.sql'))) cpSync(path.join(migrations, file), path.join(dist, 'db', 'migrations', file));
writeFileSync(path.join(dist, '.built'), `${new Date().toISOString()}\n`);
console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
