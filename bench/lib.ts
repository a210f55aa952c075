// What every benchmark here shares: a throwaway embedded PostgreSQL, cleanup on exit or Ctrl-C,
// percentiles, the machine and its load, spawned `tally` processes, and where results are written.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { freePort, openEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded.ts';

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const log = pino({ level: 'warn' }, pino.destination(2)); // stderr: keep stdout for the report

// Cleanup runs once, in reverse order of registration, whether the run ends, fails or is interrupted.
const cleanups: (() => unknown)[] = [];
let cleaning: Promise<void> | undefined;
export function onCleanup(step: () => unknown): () => Promise<void> {
  cleanups.push(step);
  // Runs this step now (and not again at the end).
  return async () => {
    const at = cleanups.indexOf(step);
    if (at >= 0) cleanups.splice(at, 1);
    await step();
  };
}
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse())
      await Promise.resolve()
        .then(step)
        .catch((error) => console.error('cleanup step failed:', error));
  })();
  return cleaning;
}

/** Runs a benchmark's main: cleans up and exits with its code; Ctrl-C cleans up too. */
export function runMain(main: () => Promise<number>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.level = 'silent'; // work still queued fails once the pools close: expected
      console.error(`\n${signal}: stopping the benchmark and removing its database…`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  void main()
    .catch((error: unknown) => {
      if (error instanceof UsageError) console.error(error.message);
      else console.error('benchmark failed:', error);
      return 1;
    })
    .then(async (code) => {
      await cleanup();
      process.exit(code);
    });
}

export class UsageError extends Error {}

/** A bench's flags from `parse` (node:util parseArgs): an unknown or malformed flag is a usage error with the help; --help prints it and exits. */
export function readFlags<T extends { help?: boolean }>(parse: () => { values: T }, help: string): T {
  let values: T;
  try {
    values = parse().values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${help}`);
  }
  if (values.help) {
    process.stdout.write(help);
    process.exit(0);
  }
  return values;
}

/** An integer flag from 1 to `max`, or a usage error naming it. */
export function positive(flag: string, text: string, max: number): number {
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got "${text}"`);
  return value;
}

/** A fresh embedded PostgreSQL (default durability) in a temp directory, removed at cleanup. */
export async function startPostgres(): Promise<EmbeddedServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const server = await openEmbeddedPostgres({ dataDir: dir, port: await freePort(), log, database: 'postgres' });
  onCleanup(() => server.stop());
  return server;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function loadAverage(): number[] {
  return os.loadavg().map((n) => Number(n.toFixed(2)));
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    platform: `${process.platform} ${os.arch()} ${os.release()}`,
  };
}

/**
 * Writes `body` as JSON: to `--out` when given (the `npm run bench` summary collects it from there), else
 * to bench/results/<name>-<timestamp>.json. Returns the path.
 */
export function writeResult(name: string, body: object, out?: string): string {
  const file = out ?? path.join(ROOT, 'bench', 'results', `${name}-${new Date().toISOString().replace(/:/g, '-')}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), machine: machine(), ...body }, null, 2)}\n`);
  return file;
}

/** Rounded for the JSON; NaN (no samples) stays NaN, written as null. */
export const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : Number.NaN);

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** Stops the process (SIGINT, as Ctrl-C would) and waits for it to exit. */
  stop: () => Promise<void>;
}

/**
 * Starts `node <args>` from the repository root, as a user runs `tally` (bin/tally.mjs), and resolves
 * once its output contains `ready`; stopped at cleanup.
 */
export async function spawnNode(args: string[], ready: string, env: Record<string, string>): Promise<Spawned> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000); // the tail is enough to explain an exit
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  });
  await new Promise<void>((resolve, reject) => {
    const check = () => out.includes(ready) && resolve();
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${out}`)));
  });
  return { child, output: () => out, stop };
}

/** Rejects with `message` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `node <args>` from the repository root to completion. */
export function runNode(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}
