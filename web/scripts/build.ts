// `npm run build:web`: the API types from the app's OpenAPI document, then Vite's production build into
// web/dist, then the size of each page's JavaScript (what a visitor downloads; gzip as served over a
// compressing proxy). The user page must stay small: the admin's chart library is its own chunk.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { writeApiTypes } from './openapi.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = performance.now();
try {
  await writeApiTypes();
} catch (error) {
  // The pages still build (types are erased); `npm run typecheck` then points at the missing types.
  // An install must not fail because the document could not be made here.
  process.stderr.write(`warning: could not write the API types from the OpenAPI document: ${(error as Error).message}\n`);
}
await build({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' });

const dist = path.join(root, 'dist');
const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
const lines: string[] = [];
for (const page of ['index.html', 'admin.html']) {
  const html = readFileSync(path.join(dist, page), 'utf8');
  // What the page loads at once: its entry script and the chunks it preloads.
  const scripts = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!);
  let raw = 0;
  let gz = 0;
  for (const file of scripts) {
    const body = readFileSync(path.join(dist, 'assets', file));
    raw += body.length;
    gz += gzipSync(body).length;
  }
  lines.push(`  ${page.padEnd(11)} ${String(scripts.length)} script(s), ${kb(raw)} (${kb(gz)} gzip) at first load`);
}
const lazy = readdirSync(path.join(dist, 'assets')).filter((f) => f.endsWith('.js'));
const total = lazy.reduce((sum, f) => sum + statSync(path.join(dist, 'assets', f)).size, 0);
lines.push(`  all chunks  ${lazy.length} file(s), ${kb(total)}`);
const report = `web built in ${Math.round(performance.now() - started)} ms into web/dist\n${lines.join('\n')}\n`;
writeFileSync(path.join(dist, 'bundle-report.txt'), report);
process.stdout.write(report);
