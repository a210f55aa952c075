// Results on local disk: the default, so a fresh install stores images with nothing to set up. Files are
// served by Tally itself under signed, expiring links (signed-url.ts). The MIME type is derived from the
// key's extension rather than kept in a second file, so there is nothing to get out of step.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { signFileUrl } from './signed-url.ts';
import { assertValidKey, mimeForKey, type ResultStore, type StoredObject } from './types.ts';

export interface DiskStoreOptions {
  /** The directory everything is stored under; created when missing. */
  root: string;
  /** Tally's own public base URL, which links to files start with. */
  publicUrl: string;
  /** The HMAC secret links are signed with. */
  secret: string;
}

/** A MIME type and a key's extension that do not agree (the type is derived from the extension when read). */
export class MimeMismatchError extends Error {
  override name = 'MimeMismatchError';
}

// Some clients and libraries still say image/jpg; it is the same type.
const normalizeMime = (mime: string) => {
  const bare = mime.split(';')[0]!.trim().toLowerCase();
  return bare === 'image/jpg' ? 'image/jpeg' : bare;
};

export class DiskStore implements ResultStore {
  readonly kind = 'disk';
  private readonly root: string;

  constructor(private readonly options: DiskStoreOptions) {
    if (options.secret.length === 0) throw new Error('the disk store needs a secret to sign file links with');
    this.root = path.resolve(options.root);
  }

  async put(input: { key: string; data: Buffer; mime: string }): Promise<void> {
    const file = this.pathOf(input.key);
    const expected = mimeForKey(input.key);
    if (!expected || expected !== normalizeMime(input.mime)) {
      throw new MimeMismatchError(`cannot store ${input.mime} under "${input.key}": the extension stands for ${expected ?? 'no type this store keeps'}`);
    }
    // Written beside the target and renamed over it: rename is atomic within a directory, so a reader
    // sees the old file or the new one, never a half-written one.
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(temporary, input.data, { flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
        // The folder is usually there already; make it only when it is not (one system call fewer per file).
        if (error.code !== 'ENOENT') throw error;
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(temporary, input.data, { flag: 'wx' });
      });
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const file = this.pathOf(key);
    try {
      return { data: await readFile(file), mime: mimeForKey(key) ?? 'application/octet-stream' };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async url(input: { key: string; expiresInSeconds: number }): Promise<string> {
    assertValidKey(input.key);
    if (!(input.expiresInSeconds > 0)) throw new RangeError('a link must expire in a positive number of seconds');
    const expiresAt = new Date(Date.now() + input.expiresInSeconds * 1000);
    return signFileUrl({ publicUrl: this.options.publicUrl, key: input.key, secret: this.options.secret, expiresAt });
  }

  /** The file for a key; the key check already rules out escaping, the prefix check makes sure. */
  private pathOf(key: string): string {
    assertValidKey(key);
    const file = path.resolve(this.root, ...key.split('/'));
    if (!file.startsWith(this.root + path.sep)) throw new Error(`storage key "${key}" points outside the store`);
    return file;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // ENOTDIR: a key whose "directory" is a file; there is no object there either.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
