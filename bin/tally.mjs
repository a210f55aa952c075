#!/usr/bin/env node
// Runs the compiled build (dist/, made by `npm run build`, which `npm install` runs) when it is at
// least as new as every source file; otherwise, in a checkout with its dev tools, the TypeScript
// sources through tsx, so an edit takes effect without a rebuild. TALLY_FROM_SOURCE=true forces the
// sources.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const stamp = new URL('dist/.built', root);
const sources = new URL('src/', root);

/** The newest modification time under a folder (a few hundred files: a millisecond or two). */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const child = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    latest = Math.max(latest, entry.isDirectory() ? newest(child) : statSync(child).mtimeMs);
  }
  return latest;
}

const built = existsSync(stamp) && (!existsSync(sources) || newest(sources) <= statSync(stamp).mtimeMs);
if (built && process.env.TALLY_FROM_SOURCE !== 'true') {
  await import(new URL('dist/cli.js', root).href);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    process.stderr.write('Tally is not built (dist/ is missing or older than src/) and tsx, a dev dependency, is not installed: run `npm run build`.\n');
    process.exit(1);
  }
  tsx.register();
  await import(new URL('src/cli.ts', root).href);
}
