// The worker role's own loops: the job scheduler (src/jobs: expiring holds, thresholds, health checks,
// sync, the monthly reset…) and alert delivery (src/alerts). The generation queue is started by the
// services (Generations.startWorker).
import type { Alerts } from './alerts/index.ts';
import type { Jobs } from './jobs/index.ts';
import type { Logger } from './log.ts';

export interface Worker {
  stop(): Promise<void>;
}

export function startWorker(deps: { jobs: Jobs; alerts: Alerts; log: Logger }): Worker {
  const log = deps.log.child({ component: 'worker' });
  deps.jobs.start();
  deps.alerts.start();
  log.info({ alertChannels: deps.alerts.channels }, 'worker started');
  return {
    async stop() {
      await deps.jobs.stop();
      await deps.alerts.stop();
      log.info('worker stopped');
    },
  };
}
