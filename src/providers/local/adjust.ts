// The local provider's real, basic adjustment (docs/rules.md §5, graceful degradation): brightness, contrast,
// saturation and a tint by enhancement type, scaled by strength. It is what users get when every AI
// provider fails (marked degraded, free) and the default when no provider key is configured. Clearly not
// AI; the same numbers are returned as a CSS filter for clients that show the original image.
import sharp, { type Metadata } from 'sharp';
import { DEFAULT_MAX_PIXELS } from '../../storage/validate.ts';

export const ENHANCEMENT_TYPES = ['lighting', 'style', 'background', 'mood', 'custom'] as const;
export type EnhancementType = (typeof ENHANCEMENT_TYPES)[number];

interface Recipe {
  brightness: number;
  contrast: number;
  saturation: number;
  /** Per-channel gain (r, g, b) for a tint; 1 is neutral. */
  tint: [number, number, number];
  /** The CSS filter that approximates the tint, if any. */
  cssTint?: (strength: number) => string;
}

const RECIPES: Record<EnhancementType, Recipe> = {
  lighting: { brightness: 1.2, contrast: 1.1, saturation: 1.1, tint: [1, 1, 1] },
  style: { brightness: 1.05, contrast: 1.2, saturation: 1.3, tint: [1, 1, 1] },
  background: { brightness: 1.1, contrast: 1.05, saturation: 0.9, tint: [1, 1, 1] },
  mood: { brightness: 0.95, contrast: 1.1, saturation: 1.15, tint: [1.08, 1.0, 0.88], cssTint: (s) => `sepia(${format(0.3 * s)})` },
  custom: { brightness: 1.1, contrast: 1.1, saturation: 1.05, tint: [1, 1, 1] },
};

/** Image formats accepted as input, judged by the bytes (not by a header or a file name). */
export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'tiff'] as const;

export class NotAnImageError extends Error {
  override name = 'NotAnImageError';
}

export interface Adjusted {
  image: Buffer;
  mime: 'image/jpeg' | 'image/png' | 'image/webp';
  cssFilter: string;
  width: number;
  height: number;
}

/** A factor moved toward 1 by strength (0: no change, 1: the full recipe). */
const scaled = (factor: number, strength: number) => 1 + (factor - 1) * strength;
const format = (n: number) => String(Math.round(n * 100) / 100);

export function cssFilterFor(type: EnhancementType, strength = 1): string {
  const r = RECIPES[type];
  const parts = [
    `brightness(${format(scaled(r.brightness, strength))})`,
    `contrast(${format(scaled(r.contrast, strength))})`,
    `saturate(${format(scaled(r.saturation, strength))})`,
  ];
  if (r.cssTint) parts.push(r.cssTint(strength));
  return parts.join(' ');
}

export async function adjustImage(input: Buffer, type: EnhancementType, strength = 0.8, options: { maxPixels?: number } = {}): Promise<Adjusted> {
  if (!(strength >= 0 && strength <= 1)) throw new RangeError('strength must be between 0 and 1');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  let metadata: Metadata;
  try {
    metadata = await sharp(input, { limitInputPixels: false }).metadata(); // the header only
  } catch {
    throw new NotAnImageError('the file is not an image this service can read');
  }
  // Refused from the header, before the decode below would pay for every declared pixel.
  if ((metadata.width ?? 0) * (metadata.height ?? 0) > maxPixels) {
    throw new NotAnImageError(
      `the image is ${metadata.width}x${metadata.height} pixels, more than the ${Math.floor(maxPixels / 1_000_000)} MP this service processes`,
    );
  }
  // sharp names AVIF "heif" (with AV1 compression); other HEIF (HEVC) is not supported by its build.
  const format = metadata.format === 'heif' && metadata.compression === 'av1' ? 'avif' : metadata.format;
  if (!format || !(ACCEPTED_FORMATS as readonly string[]).includes(format)) {
    throw new NotAnImageError(`images must be ${ACCEPTED_FORMATS.join(', ')}; this one is ${metadata.format ?? 'unknown'}`);
  }
  const r = RECIPES[type];
  const contrast = scaled(r.contrast, strength);
  const tint = r.tint.map((gain) => scaled(gain, strength));
  let pipeline = sharp(input, { animated: false, limitInputPixels: maxPixels })
    .rotate() // honour EXIF orientation
    .modulate({ brightness: scaled(r.brightness, strength), saturation: scaled(r.saturation, strength) })
    // Contrast around mid-grey, with the tint's per-channel gains folded into the same linear step.
    .linear(
      tint.map((gain) => gain * contrast),
      tint.map(() => 128 * (1 - contrast)),
    );
  const out = metadata.format === 'jpeg' ? 'jpeg' : metadata.format === 'webp' ? 'webp' : 'png';
  pipeline = out === 'jpeg' ? pipeline.jpeg({ quality: 90 }) : out === 'webp' ? pipeline.webp({ quality: 90 }) : pipeline.png();
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  return { image: data, mime: `image/${out}`, cssFilter: cssFilterFor(type, strength), width: info.width, height: info.height };
}
