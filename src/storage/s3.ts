// Results in any S3-compatible store: AWS, Cloudflare R2, MinIO, Supabase Storage (its S3 endpoint is
// https://<project>.supabase.co/storage/v1/s3, path style). Links are presigned GETs, so the store serves
// the bytes and Tally never has to.
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertValidKey, type ResultStore, type StoredObject } from './types.ts';

export interface S3StoreOptions {
  /** Omit for AWS itself; the store's URL otherwise (http://minio:9000, https://<account>.r2.cloudflarestorage.com). */
  endpoint?: string;
  /**
   * Where browsers reach the store, when that differs from where Tally does (MinIO at http://minio:9000
   * inside Docker, https://files.example.com outside). Only links are signed for it.
   */
  publicEndpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** bucket in the path (endpoint/bucket/key) rather than the host name; most non-AWS stores need it. */
  forcePathStyle: boolean;
}

/** The longest a SigV4 presigned URL can live. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 60 * 60;

export class S3Store implements ResultStore {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly signer: S3Client;

  constructor(private readonly options: S3StoreOptions) {
    this.client = makeClient(options, options.endpoint);
    this.signer = options.publicEndpoint ? makeClient(options, options.publicEndpoint) : this.client;
  }

  async put(input: { key: string; data: Buffer; mime: string }): Promise<void> {
    assertValidKey(input.key);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.options.bucket, Key: input.key, Body: input.data, ContentType: input.mime, ContentLength: input.data.length }),
    );
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      if (!object.Body) return undefined;
      return { data: Buffer.from(await object.Body.transformToByteArray()), mime: object.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    // S3 answers 204 whether or not the key existed, which is the contract we want.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  async url(input: { key: string; expiresInSeconds: number }): Promise<string> {
    assertValidKey(input.key);
    if (!(input.expiresInSeconds > 0 && input.expiresInSeconds <= MAX_PRESIGN_SECONDS)) {
      throw new RangeError(`an S3 link must expire in 1 to ${MAX_PRESIGN_SECONDS} seconds`);
    }
    const command = new GetObjectCommand({ Bucket: this.options.bucket, Key: input.key });
    return getSignedUrl(this.signer, command, { expiresIn: Math.ceil(input.expiresInSeconds) });
  }
}

function makeClient(options: S3StoreOptions, endpoint: string | undefined): S3Client {
  return new S3Client({
    endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    // Checksums only where S3 requires them: several S3-compatible stores reject the newer default
    // (CRC32 trailers on every upload), and a presigned link should not demand checksum mode.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  // A missing bucket is also a 404, but a configuration error, not an absent object.
  if (error.name === 'NoSuchBucket') return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404;
}
