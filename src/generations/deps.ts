// What the generation processor works with, wired once in the composition root (src/generations/index.ts).
import type { Config } from '../config/index.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import type { ProviderAdapter, ProviderName } from '../providers/types.ts';
import type { Queue } from '../queue/index.ts';
import type { ResultStore } from '../storage/index.ts';
import type { Notifier } from './notifier.ts';
import type { ProviderRouter } from './router.ts';

export interface FetchedFile {
  data: Buffer;
  contentType: string | undefined;
}

export interface ProcessorDeps {
  pool: Pool;
  config: Config;
  credits: Credits;
  log: Logger;
  queue: Queue;
  router: ProviderRouter;
  notifier: Notifier;
  adapters: ReadonlyMap<ProviderName, ProviderAdapter>;
  store: ResultStore;
  /** Fetches a URL from outside (input images, provider results) behind the SSRF guard. */
  fetchUrl(url: string, limits: { maxBytes: number }): Promise<FetchedFile>;
  /** Where a provider should send the callback of one attempt (carries a token we check). */
  callbackUrl(input: { provider: ProviderName; generationId: string; attemptId: string; deadline: Date }): string;
  /** Aborted when the process stops: waits end at once and the generation is left to be resumed. */
  stopping: AbortSignal;
  /** No AI provider configured (or mock inference): local does the work, charged, so the demo shows the whole credit flow. */
  localOnly: boolean;
  /** The emergency controls (src/controls): refuses new generations while they are paused. */
  gate?: { assertGenerationsOpen(): Promise<void> };
}
