// Images in and out of a generation: the input (an upload in our store, or the user's URL fetched
// behind the SSRF guard) and the result (downloaded from the provider at once, since its links expire,
// checked by content, stored at {userId}/{type}/{generationId}.{ext}).
import { createHash } from 'node:crypto';
import { ProviderError, type ProviderName, type ProviderOutput } from '../providers/types.ts';
import { InvalidImageError, storageKey, validateImage } from '../storage/index.ts';
import type { ProcessorDeps } from './deps.ts';
import type { StoredResult } from './finish.ts';
import type { GenerationRow } from './repository.ts';

export interface InputImage {
  data: Buffer;
  mime: string;
}

/** The user's input could not be used: the generation fails (refunded), no provider would do better. */
export class InputUnusableError extends Error {
  override name = 'InputUnusableError';
}

export async function loadInput(deps: ProcessorDeps, generation: GenerationRow): Promise<InputImage | undefined> {
  const maxBytes = deps.config.generations.maxInputBytes;
  let data: Buffer;
  if (generation.input_key) {
    const file = await deps.store.get(generation.input_key);
    if (!file) throw new InputUnusableError('the uploaded input image is no longer stored');
    data = file.data;
  } else if (generation.input_url) {
    try {
      data = (await deps.fetchUrl(generation.input_url, { maxBytes })).data;
    } catch (error) {
      throw new InputUnusableError(`the input image could not be fetched: ${(error as Error).message}`);
    }
  } else {
    return undefined;
  }
  try {
    const image = await validateImage(data, { maxBytes, maxPixels: deps.config.generations.maxImagePixels });
    return { data, mime: image.mime };
  } catch (error) {
    if (error instanceof InvalidImageError) throw new InputUnusableError(`the input is not a usable image: ${error.message}`);
    throw error;
  }
}

/** Downloads (or takes inline) a provider's output, checks it is an image, and keeps it. */
export async function storeOutput(
  deps: ProcessorDeps,
  input: { generation: GenerationRow; provider: ProviderName; output: ProviderOutput },
): Promise<StoredResult> {
  const maxBytes = deps.config.generations.maxResultBytes;
  let data: Buffer;
  if ('inline' in input.output) {
    data = input.output.inline.data;
  } else {
    try {
      data = (await deps.fetchUrl(input.output.url, { maxBytes })).data;
    } catch (error) {
      // Most often the link has expired (providers keep results minutes to hours): another provider may still deliver.
      throw new ProviderError(input.provider, 'not_found', `the result could not be downloaded: ${(error as Error).message}`);
    }
  }
  return storeImage(deps, { generation: input.generation, data, provider: input.provider });
}

export async function storeImage(deps: ProcessorDeps, input: { generation: GenerationRow; data: Buffer; provider: ProviderName }): Promise<StoredResult> {
  let image: Awaited<ReturnType<typeof validateImage>>;
  try {
    image = await validateImage(input.data, { maxBytes: deps.config.generations.maxResultBytes, maxPixels: deps.config.generations.maxImagePixels });
  } catch (error) {
    if (error instanceof InvalidImageError) throw new ProviderError(input.provider, 'protocol', `the result is not a usable image: ${error.message}`);
    throw error;
  }
  const key = storageKey({
    userId: userSegment(input.generation.user_id),
    type: input.generation.enhancement_type ?? input.generation.model_id,
    generationId: input.generation.id,
    ext: image.ext,
  });
  await deps.store.put({ key, data: input.data, mime: image.mime });
  return { key, mime: image.mime };
}

/** User ids become path segments: kept as they are when safe, otherwise a stable hash (never two users in one folder). */
export function userSegment(userId: string): string {
  return /^[A-Za-z0-9._:-]{1,128}$/.test(userId) && !/^\.+$/.test(userId) ? userId : `u_${createHash('sha256').update(userId).digest('hex').slice(0, 32)}`;
}
