// Result storage (docs/rules.md §5): what a stored file is, where it goes, and whether bytes are an image at all.
import { DiskStore, type DiskStoreOptions } from './disk.ts';
import { S3Store, type S3StoreOptions } from './s3.ts';
import type { ResultStore } from './types.ts';

export { DiskStore, MimeMismatchError, type DiskStoreOptions } from './disk.ts';
export { S3Store, MAX_PRESIGN_SECONDS, type S3StoreOptions } from './s3.ts';
export { FILES_PATH, signFileUrl, verifyFileSignature } from './signed-url.ts';
export { assertValidKey, InvalidStorageKeyError, isValidKey, mimeForKey, storageKey, type ResultStore, type StoredObject } from './types.ts';
export {
  DEFAULT_MAX_PIXELS,
  IMAGE_TYPES,
  InvalidImageError,
  MAX_IMAGE_BYTES,
  validateImage,
  type ImageFormat,
  type ImageMime,
  type InvalidImageReason,
  type ValidImage,
} from './validate.ts';

export interface ResultStoreConfig {
  driver: 'disk' | 's3';
  /** Read by the disk driver only; always present so switching drivers is a single setting. */
  disk: DiskStoreOptions;
  s3?: S3StoreOptions;
}

export function createResultStore(config: ResultStoreConfig): ResultStore {
  if (config.driver === 'disk') return new DiskStore(config.disk);
  if (!config.s3)
    throw new Error('the S3 storage driver needs its bucket, region and credentials (S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)');
  return new S3Store(config.s3);
}
