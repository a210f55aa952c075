// The emergency controls' surface (README.md): operators pause and resume; submit, purchase and routing
// ask whether they may go ahead. The database is the truth; each process keeps the active pauses for
// at most CACHE_MS, so a change made through any process is obeyed by every other within a second.
import { recordAlert } from '../alerts/index.ts';
import type { CreditsConfig } from '../config/index.ts';
import type { Credits } from '../credits/index.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import { decideGenerations, decidePurchases, DEFAULT_PAUSE_MESSAGE, pausedProviders, type ActivePause, type Gate, type PauseScope } from './decide.ts';
import { ControlsError } from './errors.ts';
import { activePauses, endPause, insertPause, listPauses, type PauseView } from './store.ts';

export { ControlsError, type ControlsErrorCode } from './errors.ts';
export { DEFAULT_PAUSE_MESSAGE, type Gate, type PauseScope } from './decide.ts';
export type { PauseView } from './store.ts';

/** How long a process trusts its copy of the active pauses (the cross-process delay is at most this). */
export const CACHE_MS = 500;
const PROVIDERS = ['nanobanana', 'kie', 'fal', 'gemini', 'wavespeed'];

/** What the public status route answers: paused or not, and the message; never the operator's reason. */
export interface PublicStatus {
  purchases: { paused: boolean; message: string | null; automatic: boolean };
  generations: { paused: boolean; message: string | null };
}

export class Controls {
  private cached?: { at: number; pauses: Promise<ActivePause[]> };

  constructor(private readonly deps: { pool: Pool; credits: Credits; config: CreditsConfig; log: Logger }) {}

  /** Pauses purchases or new generations, platform-wide or for one provider; audited and alerted. */
  async pause(input: { scope: PauseScope; provider?: string; message?: string; reason: string; actor: string }): Promise<PauseView> {
    const provider = input.provider ?? null;
    if (provider !== null && !PROVIDERS.includes(provider))
      throw new ControlsError('invalid', `no provider "${provider}"; providers: ${PROVIDERS.join(', ')}`, { field: 'provider' });
    if (input.scope === 'purchases' && provider !== null && provider !== this.deps.config.primaryProvider) {
      throw new ControlsError(
        'invalid',
        `purchases are backed by the primary pool only (${this.deps.config.primaryProvider}): pause them platform-wide or for ${this.deps.config.primaryProvider}`,
        { field: 'provider' },
      );
    }
    const pause = await insertPause(this.deps.pool, {
      scope: input.scope,
      provider,
      message: input.message ?? DEFAULT_PAUSE_MESSAGE,
      reason: input.reason,
      actor: input.actor,
    });
    this.cached = undefined;
    this.deps.log.warn({ pauseId: pause.id, scope: pause.scope, provider, actor: input.actor }, 'paused by an operator');
    return pause;
  }

  /** Resumes a pause; resuming one already resumed is a 409 that names who did it. */
  async resume(input: { id: string; actor: string; reason?: string }): Promise<PauseView> {
    const ended = await endPause(this.deps.pool, { id: input.id, actor: input.actor, reason: input.reason ?? null });
    if (!ended) throw new ControlsError('not_found', `No pause ${input.id}.`);
    if (!ended.resumed)
      throw new ControlsError('already_resumed', `Pause ${input.id} was already resumed by ${ended.pause.resumedBy} at ${ended.pause.resumedAt}.`);
    this.cached = undefined;
    this.deps.log.warn({ pauseId: input.id, actor: input.actor }, 'resumed by an operator');
    return ended.pause;
  }

  list(recent = 50): Promise<{ active: PauseView[]; recent: PauseView[] }> {
    return listPauses(this.deps.pool, recent);
  }

  /** Refuses a new generation while generations are paused platform-wide (call before any hold). */
  async assertGenerationsOpen(): Promise<void> {
    refuse('generations', decideGenerations(await this.pauses()));
  }

  /**
   * Refuses a purchase while purchases are paused, or while the primary pool can back no package. The
   * latter is a blocked sale (docs/rules.md §3), so it raises `sale_blocked` as a refused sale does.
   */
  async assertPurchasesOpen(): Promise<void> {
    const gate = await this.purchasesGate();
    if (!gate.open && gate.automatic) {
      const provider = this.deps.config.primaryProvider;
      await recordAlert(this.deps.pool, {
        type: 'sale_blocked',
        level: 'warning',
        message: `Purchases paused by themselves: the ${provider} pool cannot back the smallest package until it is refilled`,
        data: { provider, automaticPause: true },
      });
    }
    refuse('purchases', gate);
  }

  /** The providers routing must skip now. */
  async pausedProviders(): Promise<ReadonlySet<string>> {
    return pausedProviders(await this.pauses());
  }

  async status(): Promise<PublicStatus> {
    const [purchases, generations] = [await this.purchasesGate(), decideGenerations(await this.pauses())];
    return {
      purchases: purchases.open
        ? { paused: false, message: null, automatic: false }
        : { paused: true, message: purchases.message, automatic: purchases.automatic },
      generations: generations.open ? { paused: false, message: null } : { paused: true, message: generations.message },
    };
  }

  private async purchasesGate(): Promise<Gate> {
    const { config, credits } = this.deps;
    // The pool is read afresh each time (one indexed read): a refill reopens sales at once.
    const [pauses, primary] = await Promise.all([this.pauses(), credits.poolState(config.primaryProvider)]);
    return decidePurchases(
      pauses,
      primary,
      config.packages.map((p) => p.credits),
    );
  }

  private pauses(): Promise<ActivePause[]> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.pauses;
    const pauses = activePauses(this.deps.pool);
    this.cached = { at: Date.now(), pauses };
    // A failed read is not remembered: the next caller asks the database again.
    pauses.catch(() => {
      if (this.cached?.pauses === pauses) this.cached = undefined;
    });
    return pauses;
  }
}

function refuse(scope: PauseScope, gate: Gate): void {
  if (!gate.open) throw new ControlsError('paused', gate.message, { scope, automatic: gate.automatic });
}
