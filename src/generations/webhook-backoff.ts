// The pure core of a user webhook delivery's decision (src/generations/webhooks.ts runs it against the
// endpoint's row): send now, wait for the endpoint's backoff to run out, or give up and record it. An
// endpoint that fails is tried again only after a delay that doubles with each failure, up to a maximum,
// so a receiver that hangs costs one delivery slot per backoff window instead of all of them.

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
  /** Passes (tries and deferrals) one delivery gets before it is recorded as undelivered. */
  maxPasses: number;
}

export interface EndpointState {
  /** Consecutive failures; 0 when the endpoint is healthy. */
  failures: number;
  /** Before this, nobody sends to the endpoint. */
  nextAttemptAt: Date | null;
}

export type DeliveryDecision = { action: 'send' } | { action: 'defer'; until: Date } | { action: 'give-up' };

/** Delay after the `failures`-th consecutive failure: base, 2 × base, 4 × base, … capped at the maximum. */
export function backoffDelayMs(failures: number, settings: Pick<BackoffSettings, 'baseMs' | 'maxMs'>): number {
  if (failures <= 0) return 0;
  return Math.min(settings.maxMs, settings.baseMs * 2 ** Math.min(failures - 1, 40));
}

/** What one pass of a delivery does, given how many passes it has had and where its endpoint stands. */
export function decideDelivery(endpoint: EndpointState, passes: number, now: Date, settings: BackoffSettings): DeliveryDecision {
  if (passes >= settings.maxPasses) return { action: 'give-up' };
  if (endpoint.nextAttemptAt && endpoint.nextAttemptAt > now) return { action: 'defer', until: endpoint.nextAttemptAt };
  return { action: 'send' };
}
