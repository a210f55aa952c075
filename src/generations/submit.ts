// Accepting a generation (docs/rules.md §5): resolve the model, take the input image in (fetched behind the
// SSRF guard or uploaded, checked by content, kept in our store so every provider gets one stable
// signed link), then hold the credits, write the generation and enqueue its job in one transaction.
import { newId } from '../lib/id.ts';
import type { EnhancementType } from '../providers/local/adjust.ts';
import { QUEUES } from '../queue/index.ts';
import { InvalidImageError, storageKey, validateImage } from '../storage/index.ts';
import type { ProcessorDeps } from './deps.ts';
import { GenerationError } from './errors.ts';
import { userSegment } from './files.ts';
import { insertGeneration, type GenerationRow } from './repository.ts';
import { noteCreditsLow } from '../notifications/index.ts';

export interface SubmitInput {
  userId: string;
  /** A catalogue model; defaults to the enhancement type's model. */
  modelId?: string;
  enhancementType?: EnhancementType;
  prompt: string;
  strength?: number;
  inputUrl?: string;
  upload?: Buffer;
  moodboardId?: string;
  params?: Record<string, unknown>;
  /**
   * The caller runs it at once and waits (the sync API): the generation is written already claimed by
   * the caller, with no queue job. If the caller dies, its lease runs out and the workers' sweep
   * (`maintenance`) resumes it, as for any processor that dies.
   */
  inline?: boolean;
}

export interface Submitted {
  generation: GenerationRow;
  /** What the user still owns after the hold. */
  remainingBalance: number;
}

/** How long a hold outlives its generation's deadline, so the sweeper (not the ledger's expiry) ends it. */
const HOLD_GRACE_MS = 60 * 60 * 1000;

export async function submitGeneration(deps: ProcessorDeps, input: SubmitInput): Promise<Submitted> {
  // Paused by an operator: refused before anything is fetched, held or written.
  await deps.gate?.assertGenerationsOpen();
  const { generations } = deps.config;
  const modelId = input.modelId ?? (input.enhancementType ? generations.enhancementModels[input.enhancementType] : undefined);
  const model = modelId ? generations.models[modelId] : undefined;
  if (!modelId || !model)
    throw new GenerationError('unknown_model', `There is no model "${modelId ?? ''}". Known models: ${Object.keys(generations.models).join(', ')}.`, 'modelId');

  // Fetching an input is slow work: refuse a user who plainly cannot pay before doing it.
  if (input.inputUrl || input.upload) await deps.credits.assertCanPay(input.userId, model.credits);
  const id = newId('gen');
  const image = await takeInput(deps, { ...input, generationId: id });
  const deadline = new Date(Date.now() + generations.timeoutSeconds * 1000);
  try {
    return await hold(deps, { input, modelId, credits: model.credits, id, image, deadline });
  } catch (error) {
    // Lost the race for the last credits: the input copy is of no use to anyone.
    if (image) await deps.store.delete(image.key).catch(() => undefined);
    throw error;
  }
}

async function hold(
  deps: ProcessorDeps,
  {
    input,
    modelId,
    credits,
    id,
    image,
    deadline,
  }: { input: SubmitInput; modelId: string; credits: number; id: string; image: { key: string; mime: string } | undefined; deadline: Date },
): Promise<Submitted> {
  const holdKey = `generation:${id}`;
  let generation: GenerationRow | undefined;
  const { remaining } = await deps.credits.chargeHold({
    userId: input.userId,
    credits,
    key: holdKey,
    fresh: true,
    expiresAt: new Date(deadline.getTime() + HOLD_GRACE_MS),
    alsoIn: async (client, split) => {
      const claim = input.inline ? { claimForSeconds: deps.config.generations.leaseSeconds } : {};
      generation = await insertGeneration(
        client,
        {
          id,
          user_id: input.userId,
          model_id: modelId,
          enhancement_type: input.enhancementType ?? null,
          prompt: input.prompt,
          strength: storableStrength(input.strength),
          input_url: input.inputUrl ?? null,
          input_key: image?.key ?? null,
          input_mime: image?.mime ?? null,
          moodboard_id: input.moodboardId ?? null,
          params: input.params ?? {},
          credits_held: credits,
          hold_key: holdKey,
          hold_split: split,
          deadline_at: deadline,
        },
        claim,
      );
      if (!input.inline) await deps.queue.sendIn(client, QUEUES.generation, { generationId: id }, { singletonKey: id });
    },
  });
  // Advisory: a notice that fails to be written must not turn a taken submission into an error.
  await noteCreditsLow(deps.pool, { userId: input.userId, remaining }).catch((error: unknown) =>
    deps.log.warn({ err: error, userId: input.userId }, 'credits-low notice not written'),
  );
  return { generation: generation!, remainingBalance: remaining };
}

/** Fetches or takes the upload, checks it is an image by its bytes, and keeps it for the providers. */
async function takeInput(deps: ProcessorDeps, input: SubmitInput & { generationId: string }): Promise<{ key: string; mime: string } | undefined> {
  const maxBytes = deps.config.generations.maxInputBytes;
  let data: Buffer;
  let field: string;
  if (input.upload) {
    data = input.upload;
    field = 'image';
  } else if (input.inputUrl) {
    field = 'inputImageUrl';
    try {
      data = (await deps.fetchUrl(input.inputUrl, { maxBytes })).data;
    } catch (error) {
      throw new GenerationError('bad_input', `The input image URL cannot be used: ${(error as Error).message}`, field);
    }
  } else {
    return undefined;
  }
  try {
    const image = await validateImage(data, { maxBytes, maxPixels: deps.config.generations.maxImagePixels });
    const key = storageKey({ userId: userSegment(input.userId), type: 'inputs', generationId: input.generationId, ext: image.ext });
    await deps.store.put({ key, data, mime: image.mime });
    return { key, mime: image.mime };
  } catch (error) {
    if (error instanceof InvalidImageError) throw new GenerationError('bad_input', `The input is not a usable image: ${error.message}`, field);
    throw error;
  }
}

/**
 * The strength as its column (`real`, about 7 significant digits) can hold it: rounded to 6 decimals.
 * A tiny value such as 5e-324 is in range for the API (0..1) but underflows `real`, and PostgreSQL
 * refuses it; rounded, it is 0, which is what it means.
 */
export function storableStrength(strength: number | undefined): number | null {
  return strength === undefined ? null : Math.round(strength * 1e6) / 1e6;
}
