// Where generation results live (docs/rules.md §5): local disk by default, any S3-compatible store by
// configuration, both under the same keys, {userId}/{type}/{generationId}.{ext}. Keys become file paths
// and URL paths, so a key is checked before it is used: no way out of the root, nothing to escape.

export interface StoredObject {
  data: Buffer;
  mime: string;
}

export interface ResultStore {
  readonly kind: 'disk' | 's3';
  /** Replaces any object under the same key; readers see the old or the new object, never half of one. */
  put(input: { key: string; data: Buffer; mime: string }): Promise<void>;
  /** Undefined when there is no object under the key. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Succeeds when there is nothing to delete. */
  delete(key: string): Promise<void>;
  /** A URL a browser can fetch the object from until it expires. */
  url(input: { key: string; expiresInSeconds: number }): Promise<string>;
}

export class InvalidStorageKeyError extends Error {
  override name = 'InvalidStorageKeyError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid storage key "${key}": ${reason}`);
  }
}

const SEGMENT = /^[A-Za-z0-9._:-]+$/;
const MAX_KEY_LENGTH = 512;

/** Throws unless the key is relative segments of [A-Za-z0-9._:-], none of them empty, "." or "..". */
export function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new InvalidStorageKeyError(key, `must be 1 to ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw new InvalidStorageKeyError(key, 'must not start with /');
  if (key.includes('\\')) throw new InvalidStorageKeyError(key, 'must not contain a backslash');
  for (const segment of key.split('/')) {
    if (segment === '') throw new InvalidStorageKeyError(key, 'must not contain an empty segment');
    // Any all-dots segment, not only "..": some file systems and proxies treat "..." oddly too.
    if (/^\.+$/.test(segment)) throw new InvalidStorageKeyError(key, 'must not contain "." or ".." segments');
    if (!SEGMENT.test(segment)) throw new InvalidStorageKeyError(key, 'segments may contain only letters, digits and . _ : -');
  }
}

export function isValidKey(key: string): boolean {
  try {
    assertValidKey(key);
    return true;
  } catch {
    return false;
  }
}

export function storageKey(input: { userId: string; type: string; generationId: string; ext: string }): string {
  if (!/^[A-Za-z0-9]{1,10}$/.test(input.ext)) throw new InvalidStorageKeyError(`.${input.ext}`, 'the extension must be 1 to 10 letters or digits');
  for (const [name, value] of [
    ['userId', input.userId],
    ['type', input.type],
    ['generationId', input.generationId],
  ] as const) {
    // Each part must be exactly one segment, so a user id cannot add directories of its own.
    if (value.includes('/')) throw new InvalidStorageKeyError(value, `${name} must not contain /`);
  }
  const key = `${input.userId}/${input.type}/${input.generationId}.${input.ext}`;
  assertValidKey(key);
  return key;
}

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  mp4: 'video/mp4',
  webm: 'video/webm',
};

/** The MIME type a key's extension stands for, or undefined for an extension we do not store. */
export function mimeForKey(key: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  return ext ? MIME_BY_EXTENSION[ext] : undefined;
}
