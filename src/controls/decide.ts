// The pure decisions of the emergency controls (README.md): given the active pauses and the primary
// pool's state, may a purchase or a new generation go ahead, and which providers does routing skip.
// No database here, so every rule is unit-tested on plain values (decide.test.ts).

export type PauseScope = 'purchases' | 'generations';

export const DEFAULT_PAUSE_MESSAGE = 'Enhancement temporarily unavailable';
export const SOLD_OUT_MESSAGE = 'Purchases are paused while the platform’s capacity is refilled: no package can be backed right now. Please try again later.';

/** An active pause, as the decisions need it. */
export interface ActivePause {
  id: string;
  scope: PauseScope;
  provider: string | null;
  message: string;
}

/** What a user may be told: whether it is paused and the message (never the operator's reason). */
export type Gate = { open: true } | { open: false; message: string; pauseId: string | null; automatic: boolean };

/**
 * New generations are refused only by a platform-wide generations pause; a pause for one provider
 * takes that provider out of routing instead (pausedProviders).
 */
export function decideGenerations(pauses: readonly ActivePause[]): Gate {
  const pause = oldest(pauses.filter((p) => p.scope === 'generations' && p.provider === null));
  return pause ? { open: false, message: pause.message, pauseId: pause.id, automatic: false } : { open: true };
}

/**
 * Purchases are refused by an operator's purchases pause (platform-wide, or for the primary provider,
 * whose pool backs every sale), and by themselves while the primary pool cannot back even the smallest
 * package: derived from the pool each time, so nothing stored can disagree with the pool.
 */
export function decidePurchases(
  pauses: readonly ActivePause[],
  primary: { provider: string; sellableUserCredits: number },
  packageCredits: readonly number[],
): Gate {
  const pause = oldest(pauses.filter((p) => p.scope === 'purchases' && (p.provider === null || p.provider === primary.provider)));
  if (pause) return { open: false, message: pause.message, pauseId: pause.id, automatic: false };
  if (isSoldOut(primary.sellableUserCredits, packageCredits)) return { open: false, message: SOLD_OUT_MESSAGE, pauseId: null, automatic: true };
  return { open: true };
}

/** True when no package fits in what the pool can still back (no packages: nothing to pause). */
export function isSoldOut(sellableUserCredits: number, packageCredits: readonly number[]): boolean {
  return packageCredits.length > 0 && Math.min(...packageCredits) > sellableUserCredits;
}

/** The providers a generations pause names: routing skips them as it skips one cooling down. */
export function pausedProviders(pauses: readonly ActivePause[]): Set<string> {
  return new Set(pauses.filter((p) => p.scope === 'generations' && p.provider !== null).map((p) => p.provider!));
}

function oldest(pauses: ActivePause[]): ActivePause | undefined {
  return pauses[0];
}
