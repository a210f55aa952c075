import type { Config } from '../config/index.ts';
import type { ApiKeyRole, ApiKeys } from '../auth/api-keys.ts';
import type { MigrationStatus } from '../db/migrate.ts';
import type { UserTokenVerifier } from '../auth/jwt.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Generations } from '../generations/index.ts';
import type { Ledger } from '../ledger/index.ts';
import type { Payments } from '../payments/index.ts';
import type { ResultStore } from '../storage/index.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';
import type { Alerts } from '../alerts/index.ts';
import type { Jobs } from '../jobs/index.ts';
import type { Analytics } from '../analytics/index.ts';
import type { Notifications } from '../notifications/index.ts';
import type { Controls } from '../controls/index.ts';
import type { ProviderCredentials } from '../credentials/index.ts';

/** Who is calling, as established by the authenticate middleware. */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: string; /** The token's claim (or TALLY_ADMIN_USER_IDS) makes this user an admin. */ admin?: boolean }
  | { kind: 'api-key'; keyId: string; role: ApiKeyRole }
  | { kind: 'job' }
  | { kind: 'metrics' };

export interface AppDependencies {
  config: Config;
  apiKeys: ApiKeys;
  /** Where the database's migrations stand (readiness). */
  schemaStatus(): Promise<MigrationStatus>;
  pool: Pool;
  ledger: Ledger;
  credits: Credits;
  payments: Payments;
  log: Logger;
  verifyUserToken: UserTokenVerifier;
  metrics: Metrics;
  generations: Generations;
  store: ResultStore;
  alerts: Alerts;
  jobs: Jobs;
  analytics: Analytics;
  notifications: Notifications;
  controls: Controls;
  providerCredentials: ProviderCredentials;
  /** Signs and checks links to files Tally serves. */
  signingSecret: string;
  /** Refuses URLs that resolve to private, loopback or link-local addresses (unless allowlisted). */
  checkPublicUrl(url: string): Promise<void>;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    deps: AppDependencies;
    caller: Caller;
    /** Why presented credentials were refused, reported only if the route needs them. */
    authFailure?: string;
    /** The user a request acts for: the token's subject, or X-Tally-User from a service key. */
    userId?: string;
  };
}
