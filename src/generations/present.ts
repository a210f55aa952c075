// A generation as users see it (docs/compatibility.md's task object): status, a signed link to the stored result,
// what was charged, and when degraded, why and the CSS filter equivalent of the local adjustment.
import type { ProcessorDeps } from './deps.ts';
import type { GenerationRow, GenerationStatus } from './repository.ts';

export interface Task {
  id: string;
  status: GenerationStatus;
  resultUrl: string | null;
  errorMessage: string | null;
  errorCode: string | null;
  provider: string | null;
  degraded: boolean;
  degradedReason: string | null;
  cssFilter: string | null;
  creditsCharged: number;
  modelId: string;
  enhancementType: string | null;
  prompt: string;
  createdAt: string;
  completedAt: string | null;
}

export async function presentTask(deps: Pick<ProcessorDeps, 'store' | 'config'>, row: GenerationRow): Promise<Task> {
  return {
    id: row.id,
    status: row.status,
    resultUrl: row.result_key ? await deps.store.url({ key: row.result_key, expiresInSeconds: deps.config.storage.linkTtlSeconds }) : null,
    errorMessage: row.error_message,
    errorCode: row.error_code,
    provider: row.provider,
    degraded: row.degraded,
    degradedReason: row.degraded_reason,
    cssFilter: row.css_filter,
    // Held while running; what was finally paid once ended (0 when refunded or degraded).
    creditsCharged: row.credits_charged ?? row.credits_held,
    modelId: row.model_id,
    enhancementType: row.enhancement_type,
    prompt: row.prompt,
    createdAt: row.created_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
  };
}
