// The worker role. For now it runs the hold sweeper; the generation queue and the scheduled jobs
// join it in later work.
import type { Config } from './config/index.ts';
import type { Ledger } from './ledger/index.ts';
import type { Logger } from './log.ts';

export interface Worker {
  stop(): Promise<void>;
}

export function startWorker(deps: { config: Config; ledger: Ledger; log: Logger }): Worker {
  const log = deps.log.child({ component: 'worker' });
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        const expired = await deps.ledger.expireHolds();
        if (expired > 0) log.info({ expired }, 'voided expired holds');
      } catch (error) {
        log.error({ err: error }, 'hold sweeper failed; retrying at the next interval');
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deps.config.ledger.expireIntervalSeconds * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  log.info({ sweepEverySeconds: deps.config.ledger.expireIntervalSeconds }, 'worker started');
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      log.info('worker stopped');
    },
  };
}
