// Reading a generateContent answer. Gemini answers HTTP 200 even when it made no image: a blocked
// prompt (`promptFeedback.blockReason`), a blocked output (finishReason IMAGE_SAFETY and kin), or a
// model that just replied in text. Those are failures, told apart here; only image parts are outputs.
import { asRecord } from '../http.ts';
import { ProviderError, type InlineImage } from '../types.ts';

/** Finish reasons that mean the safety rules refused the prompt or the image. */
const POLICY_FINISH_REASONS = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'IMAGE_PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_RECITATION',
]);

export interface GeneratedContent {
  responseId?: string;
  images: InlineImage[];
}

const protocol = (message: string) => new ProviderError('gemini', 'protocol', `gemini: ${message}`);

/** The images of a 200 answer; throws 'content_policy', 'generation_failed' or 'protocol' when there are none. */
export function readGeneratedContent(json: unknown): GeneratedContent {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw protocol('the answer is not a JSON object');
  const body = asRecord(json);
  if (body.candidates !== undefined && !Array.isArray(body.candidates)) throw protocol('`candidates` is not a list');
  const candidates = ((body.candidates as unknown[] | undefined) ?? []).map(asRecord);
  const feedback = asRecord(body.promptFeedback);
  if (candidates.length === 0 && body.promptFeedback === undefined && body.usageMetadata === undefined && body.responseId === undefined) {
    throw protocol('the answer is not a generateContent response');
  }
  const responseId = typeof body.responseId === 'string' && body.responseId ? body.responseId : undefined;

  const blockReason = feedback.blockReason;
  if (typeof blockReason === 'string' && blockReason) {
    const why = typeof feedback.blockReasonMessage === 'string' ? `: ${feedback.blockReasonMessage}` : '';
    throw new ProviderError('gemini', 'content_policy', `gemini blocked the prompt (${blockReason})${why}`, { code: blockReason });
  }

  const images = candidates.flatMap(imagesOf);
  if (images.length > 0) return { responseId, images };

  const finishReasons = candidates.map((c) => c.finishReason).filter((r): r is string => typeof r === 'string');
  const policyReason = finishReasons.find((reason) => POLICY_FINISH_REASONS.has(reason));
  if (policyReason) {
    throw new ProviderError('gemini', 'content_policy', `gemini refused the image (${policyReason})`, { code: policyReason });
  }
  const text = candidates
    .flatMap(partsOf)
    .map((part) => part.text)
    .find((t): t is string => typeof t === 'string' && t.trim() !== '');
  const reason = finishReasons[0] ?? 'no candidates';
  throw new ProviderError('gemini', 'generation_failed', `gemini returned no image (${reason})${text ? `: ${text.slice(0, 200)}` : ''}`, { code: reason });
}

function partsOf(candidate: Record<string, unknown>): Record<string, unknown>[] {
  const parts = asRecord(candidate.content).parts;
  if (parts === undefined) return [];
  if (!Array.isArray(parts)) throw protocol('`content.parts` is not a list');
  return parts.map(asRecord);
}

/** Image parts, in either spelling (REST answers camelCase; proto-style clients and proxies snake_case). */
function imagesOf(candidate: Record<string, unknown>): InlineImage[] {
  const images: InlineImage[] = [];
  for (const part of partsOf(candidate)) {
    // Thinking models may show draft images as thoughts; only the final ones are results.
    if (part.thought === true) continue;
    const blob = part.inlineData ?? part.inline_data;
    if (blob === undefined) continue;
    const { mimeType, mime_type: mimeSnake, data } = asRecord(blob);
    const mime = mimeType ?? mimeSnake;
    if (typeof mime !== 'string' || typeof data !== 'string') throw protocol('an inline part lacks its mime type or data');
    if (!mime.startsWith('image/')) continue;
    images.push({ mime, data: decodeBase64(data) });
  }
  return images;
}

function decodeBase64(data: string): Buffer {
  const compact = data.replace(/\s+/g, '');
  // Buffer.from skips characters it does not know; check first, so garbage is not taken for an image.
  if (compact === '' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) throw protocol('inline image data is not base64');
  return Buffer.from(compact, 'base64');
}
