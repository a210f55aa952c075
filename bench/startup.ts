// Start time and memory of `tally serve`: the compiled build (dist/, plain Node) against the same
// server run from its TypeScript sources through tsx, started alternately on one embedded PostgreSQL
// so a swing in the machine's speed falls on both. Measured: from spawn to "HTTP API listening", and
// the process's resident memory once it has answered 200 requests.
//   Run: npm run build && npx tsx bench/startup.ts [--rounds 5]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { freePort, openEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { migrateQueue } from '../src/queue/index.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(parseArgs({ options: { rounds: { type: 'string', default: '5' } } }).values.rounds);

async function measure(url: string, fromSource: boolean): Promise<{ startMs: number; rssMb: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/tally.mjs', 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(port),
      JWT_SECRET: 'startup-bench-secret-0123456789',
      LOG_FORMAT: 'json',
      NODE_ENV: 'production',
      TALLY_FROM_SOURCE: fromSource ? 'true' : '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('HTTP API listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${out}`)));
  });
  const startMs = performance.now() - started;
  for (let i = 0; i < 200; i++) await (await fetch(`http://127.0.0.1:${port}/readyz`)).arrayBuffer();
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
  await new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')));
  return { startMs, rssMb: rssKb / 1024 };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const pgDir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-startup-'));
const server = await openEmbeddedPostgres({ dataDir: pgDir, port: await freePort(), log: pino({ level: 'warn' }), database: 'postgres' });
try {
  const pool = createPool(server.url, 2);
  await migrate(pool);
  await migrateQueue(pool);
  await pool.end();
  const compiled: { startMs: number; rssMb: number }[] = [];
  const source: { startMs: number; rssMb: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    compiled.push(await measure(server.url, false));
    source.push(await measure(server.url, true));
  }
  const summary = (runs: typeof compiled) => ({ startMs: Math.round(median(runs.map((r) => r.startMs))), rssMb: Math.round(median(runs.map((r) => r.rssMb))) });
  const result = { compiled: summary(compiled), source: summary(source), runs: { compiled, source } };
  console.log(`tally serve, median of ${rounds} alternating starts (load average ${os.loadavg()[0]!.toFixed(1)}):`);
  console.log(`  compiled (dist/, plain node): start ${result.compiled.startMs} ms, ${result.compiled.rssMb} MB resident after 200 requests`);
  console.log(`  sources through tsx:          start ${result.source.startMs} ms, ${result.source.rssMb} MB resident`);
  console.log(
    `  compiled / source: start ${(result.compiled.startMs / result.source.startMs).toFixed(2)}x, memory ${(result.compiled.rssMb / result.source.rssMb).toFixed(2)}x`,
  );
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `startup-${new Date().toISOString().replace(/:/g, '-')}.json`),
    `${JSON.stringify({ at: new Date().toISOString(), machine: { cpus: os.cpus().length, node: process.version, loadAverage: os.loadavg()[0] }, ...result }, null, 2)}\n`,
  );
} finally {
  await server.stop();
  rmSync(pgDir, { recursive: true, force: true });
}
