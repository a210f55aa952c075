// Waiting for something the system does on its own (a worker's sweep, a deadline), by asking until the
// answer says it happened: the test waits exactly as long as the event takes, and fails with what it saw.
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${options.what ?? 'condition'} not reached; last seen: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}
