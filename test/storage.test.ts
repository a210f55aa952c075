// Result storage against real back ends: a temporary directory, and s3rver (a local S3-compatible
// server) on 127.0.0.1, driven through the real AWS SDK.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createResultStore,
  DiskStore,
  InvalidImageError,
  InvalidStorageKeyError,
  MAX_IMAGE_BYTES,
  MimeMismatchError,
  signFileUrl,
  storageKey,
  validateImage,
  verifyFileSignature,
  type ResultStore,
} from '../src/storage/index.ts';

const secret = 'test-signing-secret-0123456789';
const publicUrl = 'https://tally.example/';
const temporaryDirs: string[] = [];
async function temporaryDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'tally-storage-'));
  temporaryDirs.push(dir);
  return dir;
}
afterAll(() => Promise.all(temporaryDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

const solid = (format: 'png' | 'jpeg' | 'webp' | 'gif' | 'avif' | 'tiff', width = 8, height = 6) =>
  sharp({ create: { width, height, channels: 3, background: '#3a7' } })
    .toFormat(format)
    .toBuffer();

describe('validateImage', () => {
  it.each([
    ['png', 'image/png', 'png'],
    ['jpeg', 'image/jpeg', 'jpg'],
    ['webp', 'image/webp', 'webp'],
    ['gif', 'image/gif', 'gif'],
    ['avif', 'image/avif', 'avif'],
    ['tiff', 'image/tiff', 'tiff'],
  ] as const)('accepts %s by its bytes', async (format, mime, ext) => {
    expect(await validateImage(await solid(format, 8, 6), { maxBytes: MAX_IMAGE_BYTES })).toEqual({ mime, ext, width: 8, height: 6 });
  });

  async function rejection(data: Buffer, maxBytes = MAX_IMAGE_BYTES) {
    const error = await validateImage(data, { maxBytes }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidImageError);
    return error as InvalidImageError;
  }

  it('rejects a text file whatever it is called', async () => {
    const dir = await temporaryDir();
    await writeFile(path.join(dir, 'photo.png'), 'definitely not a picture\n');
    const error = await rejection(await readFile(path.join(dir, 'photo.png')));
    expect([error.reason, error.message]).toEqual(['not_an_image', 'the file is not an image this service can read']);
  });

  it('rejects SVG, which can carry script', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
    expect((await rejection(svg)).reason).toBe('unsupported_format');
  });

  it('rejects an image over the size limit before decoding it', async () => {
    const png = await solid('png');
    const error = await rejection(png, png.length - 1);
    expect(error.reason).toBe('too_large');
    expect(error.message).toMatch(/^the image is larger than the \d+ bytes limit$/);
    expect((await rejection(Buffer.alloc(MAX_IMAGE_BYTES + 1))).message).toBe('the image is larger than the 50 MB limit');
  });

  it('rejects an empty buffer and a truncated header', async () => {
    expect((await rejection(Buffer.alloc(0))).reason).toBe('empty');
    expect((await rejection((await solid('png')).subarray(0, 20))).reason).toBe('not_an_image');
  });
});

describe('storage keys', () => {
  it('builds {userId}/{type}/{generationId}.{ext}', () => {
    expect(storageKey({ userId: 'user_1', type: 'lighting', generationId: 'gen_01JD', ext: 'png' })).toBe('user_1/lighting/gen_01JD.png');
  });

  it.each([
    ['a path escape', { userId: '..', type: 'lighting', generationId: 'g', ext: 'png' }],
    ['a slash in a part', { userId: 'a/b', type: 'lighting', generationId: 'g', ext: 'png' }],
    ['a backslash', { userId: 'a\\b', type: 'lighting', generationId: 'g', ext: 'png' }],
    ['an empty part', { userId: '', type: 'lighting', generationId: 'g', ext: 'png' }],
    ['a space', { userId: 'a b', type: 'lighting', generationId: 'g', ext: 'png' }],
    ['an odd extension', { userId: 'u', type: 'lighting', generationId: 'g', ext: 'png/../x' }],
  ])('refuses %s', (_, parts) => {
    expect(() => storageKey(parts)).toThrow(InvalidStorageKeyError);
  });

  it('checks keys in every store operation', async () => {
    const store = new DiskStore({ root: await temporaryDir(), publicUrl, secret });
    for (const key of ['../escape.png', '/abs.png', 'a\\b.png', 'a//b.png', 'a/./b.png', 'a/%2e%2e/b.png', 'a/b?.png']) {
      await expect(store.get(key)).rejects.toThrow(InvalidStorageKeyError);
      await expect(store.put({ key, data: Buffer.from('x'), mime: 'image/png' })).rejects.toThrow(InvalidStorageKeyError);
      await expect(store.delete(key)).rejects.toThrow(InvalidStorageKeyError);
      await expect(store.url({ key, expiresInSeconds: 60 })).rejects.toThrow(InvalidStorageKeyError);
    }
  });
});

describe('signed file links', () => {
  const key = 'user_1/lighting/gen_1.png';
  const now = new Date('2026-01-01T00:00:00Z');
  const expiresAt = new Date('2026-01-01T01:00:00Z');
  const link = new URL(signFileUrl({ publicUrl, key, secret, expiresAt }));
  const expires = link.searchParams.get('expires') ?? undefined;
  const signature = link.searchParams.get('signature') ?? undefined;

  it('has the expected shape', () => {
    expect(link.origin + link.pathname).toBe(`https://tally.example/files/${key}`);
    expect(expires).toBe(String(expiresAt.getTime() / 1000));
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('verifies a good signature and nothing else', () => {
    expect(verifyFileSignature({ key, expires, signature, secret, now })).toBe(true);
    expect(verifyFileSignature({ key: 'user_2/lighting/gen_1.png', expires, signature, secret, now })).toBe(false);
    expect(verifyFileSignature({ key, expires: Number(expires) + 3600, signature, secret, now })).toBe(false);
    expect(verifyFileSignature({ key, expires, signature, secret: 'another-secret', now })).toBe(false);
    const flipped = signature!.slice(0, 10) + (signature![10] === 'A' ? 'B' : 'A') + signature!.slice(11);
    expect(verifyFileSignature({ key, expires, signature: flipped, secret, now })).toBe(false);
    // The last character also carries two unused bits: another spelling of the same bytes is refused too.
    const respelled = signature!.slice(0, -1) + String.fromCharCode(signature!.charCodeAt(42) ^ 1);
    expect(verifyFileSignature({ key, expires, signature: respelled, secret, now })).toBe(false);
    for (const bad of [undefined, '', 'short', `${signature}=`]) expect(verifyFileSignature({ key, expires, signature: bad, secret, now })).toBe(false);
    for (const bad of [undefined, '', '-1', '1e10', 'abc']) expect(verifyFileSignature({ key, expires: bad, signature, secret, now })).toBe(false);
  });

  it('refuses an expired link', () => {
    expect(verifyFileSignature({ key, expires, signature, secret, now: expiresAt })).toBe(false);
    expect(verifyFileSignature({ key, expires, signature, secret, now: new Date(expiresAt.getTime() - 1000) })).toBe(true);
  });
});

interface StoreUnderTest {
  store: ResultStore;
  /** Follows a link the way a browser would, undefined when it is refused. */
  fetchLink(url: string): Promise<Buffer | undefined>;
}

/** The contract both stores keep. */
function roundTrip(name: string, setUp: () => Promise<StoreUnderTest>) {
  it(`${name}: puts, gets, replaces, links to and deletes an object`, async () => {
    const { store, fetchLink } = await setUp();
    const png = await solid('png');
    const key = storageKey({ userId: 'user_1', type: 'lighting', generationId: `gen_${name}`, ext: 'png' });
    expect(await store.get(key)).toBeUndefined();
    await store.put({ key, data: png, mime: 'image/png' });
    expect(await store.get(key)).toEqual({ data: png, mime: 'image/png' });

    const jpegKey = storageKey({ userId: 'user_1', type: 'mood', generationId: `gen_${name}`, ext: 'jpg' });
    const jpeg = await solid('jpeg');
    await store.put({ key: jpegKey, data: jpeg, mime: 'image/jpeg' });
    const replacement = await solid('png', 3, 3);
    await store.put({ key, data: replacement, mime: 'image/png' });
    expect((await store.get(key))?.data.equals(replacement)).toBe(true);
    expect(await store.get(jpegKey)).toEqual({ data: jpeg, mime: 'image/jpeg' });

    const link = await store.url({ key, expiresInSeconds: 300 });
    expect((await fetchLink(link))?.equals(replacement)).toBe(true);

    await store.delete(key);
    expect(await store.get(key)).toBeUndefined();
    await store.delete(key); // deleting what is not there succeeds
    expect(await store.get(jpegKey)).toBeDefined();
  });
}

describe('disk store', () => {
  roundTrip('disk', async () => {
    const store = createResultStore({ driver: 'disk', disk: { root: await temporaryDir(), publicUrl, secret } });
    expect(store.kind).toBe('disk');
    // What the HTTP layer does with a link: check the signature, then read the key from the store.
    const fetchLink = async (link: string) => {
      const url = new URL(link);
      const key = url.pathname.replace(/^\/files\//, '');
      const valid = verifyFileSignature({
        key,
        expires: url.searchParams.get('expires') ?? undefined,
        signature: url.searchParams.get('signature') ?? undefined,
        secret,
      });
      return valid ? (await store.get(key))?.data : undefined;
    };
    return { store, fetchLink };
  });

  it('leaves no temporary files behind and keeps the MIME type honest', async () => {
    const root = await temporaryDir();
    const store = new DiskStore({ root, publicUrl, secret });
    const key = 'u/lighting/g.png';
    await Promise.all(Array.from({ length: 5 }, async (_, i) => store.put({ key, data: await solid('png', i + 1, 1), mime: 'image/png' })));
    expect(await readdir(path.join(root, 'u', 'lighting'))).toEqual(['g.png']);
    expect((await validateImage((await store.get(key))!.data, { maxBytes: MAX_IMAGE_BYTES })).height).toBe(1);
    await expect(store.put({ key, data: Buffer.from('x'), mime: 'image/jpeg' })).rejects.toThrow(MimeMismatchError);
    await store.put({ key: 'u/lighting/g.jpg', data: await solid('jpeg'), mime: 'image/jpg' });
    expect((await store.get('u/lighting/g.jpg'))?.mime).toBe('image/jpeg');
    expect(await store.get('u/lighting/g.png/inside')).toBeUndefined();
  });
});

describe('S3 store (s3rver)', () => {
  let server: S3rver;
  let endpoint: string;
  const bucket = 'tally-results';
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  beforeAll(async () => {
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: await temporaryDir(), configureBuckets: [{ name: bucket, configs: [] }] });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
  });
  afterAll(() => server.close());

  const makeStore = (overrides: { bucket?: string; publicEndpoint?: string } = {}) =>
    createResultStore({
      driver: 's3',
      disk: { root: 'unused', publicUrl, secret },
      s3: { endpoint, region: 'us-east-1', bucket, forcePathStyle: true, ...credentials, ...overrides },
    });

  roundTrip('s3', async () => {
    const store = makeStore();
    expect(store.kind).toBe('s3');
    const fetchLink = async (link: string) => {
      const response = await fetch(link);
      return response.ok ? Buffer.from(await response.arrayBuffer()) : undefined;
    };
    return { store, fetchLink };
  });

  it('presigns a GET for the right bucket and key, for the requested time', async () => {
    const link = new URL(await makeStore().url({ key: 'user_1/lighting/gen_1.png', expiresInSeconds: 600 }));
    expect(link.origin + link.pathname).toBe(`${endpoint}/${bucket}/user_1/lighting/gen_1.png`);
    expect(link.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(link.searchParams.get('X-Amz-Expires')).toBe('600');
    expect(link.searchParams.get('X-Amz-Credential')).toMatch(/^S3RVER\/\d{8}\/us-east-1\/s3\/aws4_request$/);
    expect(link.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    await expect(makeStore().url({ key: 'a/b.png', expiresInSeconds: 8 * 24 * 3600 })).rejects.toThrow(RangeError);
  });

  it('signs links for the public endpoint when the store is reached differently from outside', async () => {
    const link = new URL(await makeStore({ publicEndpoint: 'https://files.example.com' }).url({ key: 'u/lighting/g.png', expiresInSeconds: 60 }));
    expect(link.origin + link.pathname).toBe(`https://files.example.com/${bucket}/u/lighting/g.png`);
  });

  it('reports a missing bucket as an error, not as a missing object', async () => {
    await expect(makeStore({ bucket: 'no-such-bucket' }).get('u/lighting/g.png')).rejects.toThrow();
  });

  it('refuses the S3 driver without its settings', () => {
    expect(() => createResultStore({ driver: 's3', disk: { root: 'unused', publicUrl, secret } })).toThrow(/S3_BUCKET/);
  });
});
