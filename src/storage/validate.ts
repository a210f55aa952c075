// Is this upload or download an image we accept (docs/rules.md §5: only image types, at most 50 MB)? Judged by
// the bytes with sharp, never by a Content-Type header or a file name, which anyone can set. SVG is not
// accepted: it is a document that can carry script, and we serve results from our own origin.
import sharp, { type Metadata } from 'sharp';

export const IMAGE_TYPES = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg' },
  png: { mime: 'image/png', ext: 'png' },
  webp: { mime: 'image/webp', ext: 'webp' },
  gif: { mime: 'image/gif', ext: 'gif' },
  avif: { mime: 'image/avif', ext: 'avif' },
  tiff: { mime: 'image/tiff', ext: 'tiff' },
} as const;

export type ImageFormat = keyof typeof IMAGE_TYPES;
export type ImageMime = (typeof IMAGE_TYPES)[ImageFormat]['mime'];

/** The default upper bound on the size of a stored result or an input image (docs/rules.md §5). */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

/**
 * The default cap on decoded pixels (50 MP). A few KB of PNG can declare 16383×16383 pixels, which
 * costs seconds of CPU and hundreds of MB to decode: the header is read first and such an image is
 * refused before anything decodes it (configurable as generations.maxImagePixels).
 */
export const DEFAULT_MAX_PIXELS = 50_000_000;

export type InvalidImageReason = 'empty' | 'too_large' | 'not_an_image' | 'unsupported_format';

/** The bytes are not an image we accept; the message can be shown to the user as it is. */
export class InvalidImageError extends Error {
  override name = 'InvalidImageError';
  constructor(
    readonly reason: InvalidImageReason,
    message: string,
  ) {
    super(message);
  }
}

export interface ValidImage {
  mime: ImageMime;
  ext: string;
  width: number;
  height: number;
}

export async function validateImage(data: Buffer, options: { maxBytes: number; maxPixels?: number }): Promise<ValidImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (data.length === 0) throw new InvalidImageError('empty', 'the image is empty');
  if (data.length > options.maxBytes) {
    throw new InvalidImageError('too_large', `the image is larger than the ${describeBytes(options.maxBytes)} limit`);
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(data, { limitInputPixels: false }).metadata(); // the header only: nothing is decoded
  } catch {
    throw new InvalidImageError('not_an_image', 'the file is not an image this service can read');
  }
  const format = imageFormat(metadata);
  if (!format) {
    const accepted = Object.keys(IMAGE_TYPES).join(', ');
    throw new InvalidImageError('unsupported_format', `images must be ${accepted}; this one is ${metadata.format ?? 'of an unknown format'}`);
  }
  const { width = 0, height = 0 } = metadata;
  if (width < 1 || height < 1) throw new InvalidImageError('empty', 'the image has no pixels');
  if (width * height > maxPixels) {
    throw new InvalidImageError(
      'too_large',
      `the image is ${width}x${height} pixels, more than the ${Math.floor(maxPixels / 1_000_000)} MP this service processes`,
    );
  }
  return { ...IMAGE_TYPES[format], width, height };
}

/** sharp reports AVIF as 'heif' with AV1 compression; HEIC (HEVC) is a different, unsupported thing. */
function imageFormat(metadata: Metadata): ImageFormat | undefined {
  if (metadata.format === 'heif') return metadata.compression === 'av1' ? 'avif' : undefined;
  return metadata.format && Object.hasOwn(IMAGE_TYPES, metadata.format) ? (metadata.format as ImageFormat) : undefined;
}

function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KB`;
  return `${bytes} bytes`;
}
