import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  /** Resolves when a line matching `pattern` is printed; rejects if the process exits first. */
  waitFor: (pattern: RegExp) => Promise<string>;
  exited: Promise<number | null>;
}

const running = new Set<RunningCli>();

/** Stops every CLI process a test started and left running. */
export async function stopAllClis(): Promise<void> {
  await Promise.all(
    [...running].map((cli) => {
      cli.child.kill('SIGINT');
      return cli.exited;
    }),
  );
}

/**
 * Starts `tally <args>` as its own OS process, exactly as a user would. `processGroup`: in a process
 * group of its own, as a shell runs a foreground command, so a test can send Ctrl-C to the whole group.
 */
export function startCli(args: string[], env: Record<string, string>, options: { processGroup?: boolean } = {}): RunningCli {
  const child = spawn(process.execPath, ['bin/tally.mjs', ...args], {
    env: { ...process.env, LOG_FORMAT: 'json', ...env },
    detached: options.processGroup ?? false,
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    listeners.forEach((notify) => notify());
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      if (signal) output += `\n[killed by ${signal}]`;
      resolve(code);
    }),
  );
  const waitFor = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = output.split('\n').find((l) => pattern.test(l));
        if (line) {
          listeners.delete(check);
          resolve(line);
        }
      };
      listeners.add(check);
      void exited.then((code) => reject(new Error(`tally ${args.join(' ')} exited (${code}) before printing ${pattern}:\n${output}`)));
      check();
    });
  const cli = { child, output: () => output, waitFor, exited };
  running.add(cli);
  void exited.then(() => running.delete(cli));
  return cli;
}

/** Runs `tally <args>` to completion. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const cli = startCli(args, env);
  const code = await cli.exited;
  return { code, output: cli.output() };
}
