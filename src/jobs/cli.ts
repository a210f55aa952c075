// The CLI's `tally jobs …` and `tally health` (src/cli.ts wires them): tables for people, progress on
// a terminal, exit codes for scripts.
import type { Pool } from '../db/pool.ts';
import type { Services } from '../services.ts';
import { formatChecks, healthReport } from './health.ts';
import type { JobRun } from './index.ts';

type Out = { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

const describeRun = (run: JobRun) =>
  `${run.name}: ${run.outcome}${run.error ? ` — ${run.error}` : ''} (${Date.parse(run.finishedAt ?? run.startedAt) - Date.parse(run.startedAt)} ms) ${JSON.stringify(run.summary ?? {})}`;

export async function jobsCommand(services: Services, args: string[], out: Out): Promise<number> {
  const [action, name] = args;
  const { jobs } = services;
  if (action === 'list') {
    const rows = (await jobs.list()).map((j) => [
      j.name,
      j.enabled ? j.schedule : `${j.schedule} (off)`,
      j.lastRun?.startedAt ?? 'never',
      j.lastRun ? (j.lastRun.outcome ?? 'running') : '-',
      j.nextRunAt ?? '-',
    ]);
    const header = ['NAME', 'SCHEDULE', 'LAST RUN', 'OUTCOME', 'NEXT RUN'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const row of [header, ...rows])
      out.stdout.write(
        `${row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
      );
    return 0;
  }
  const names = action === 'run' && name ? [name] : action === 'run-all' ? jobs.definitions.filter((j) => j.enabled).map((j) => j.name) : undefined;
  if (!names) {
    out.stderr.write('Usage: tally jobs list | tally jobs run NAME | tally jobs run-all\n');
    return 2;
  }
  let failed = 0;
  for (const job of names) {
    if (!jobs.find(job)) {
      out.stderr.write(`No job "${job}". Jobs: ${jobs.definitions.map((j) => j.name).join(', ')}\n`);
      return 2;
    }
    // Progress overwrites one line on a terminal; piped output gets each step on its own line.
    const progress = (message: string) => out.stderr.write(out.stderr.isTTY ? `\r\x1b[K  ${job}: ${message}` : `  ${job}: ${message}\n`);
    out.stderr.write(`running ${job}…\n`);
    const result = await jobs.run(job, { trigger: 'cli', progress });
    if (out.stderr.isTTY) out.stderr.write('\r\x1b[K');
    if (!result?.ran) {
      out.stderr.write(`${job}: another run is unfinished (a worker is running it); see tally jobs list\n`);
      failed++;
      continue;
    }
    out.stdout.write(`${describeRun(result.run)}\n`);
    if (result.run.outcome !== 'succeeded') failed++;
  }
  return failed ? 1 : 0;
}

export async function healthCommand(services: Services, pool: Pool, out: Out): Promise<number> {
  const checks = await healthReport({ ...services, pool });
  out.stdout.write(`${formatChecks(checks)}\n`);
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}
