// fal's webhook signature: Ed25519 over "request_id \n user_id \n timestamp \n hex(sha256(body))",
// the signature hex in X-Fal-Webhook-Signature, the public keys published as a JWKS (no key id is sent,
// so any published key may have signed). Keys are fetched once and kept for a while; a signature that
// no cached key verifies triggers one early refetch, so a key rotation does not refuse good callbacks.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { asRecord, callProvider } from '../http.ts';
import { ProviderError, type CallbackRequest, type HttpProviderOptions } from '../types.ts';
import { falError, protocolError } from './errors.ts';

/** fal's documented tolerance between the signed timestamp and our clock, either way. */
export const FAL_WEBHOOK_TOLERANCE_SECONDS = 300;
/** How long fetched keys are trusted before asking the JWKS URL again. */
export const FAL_JWKS_CACHE_MS = 60 * 60_000;
/** A cache younger than this is not refetched just because a signature failed (forgeries are cheap). */
const MIN_REFETCH_AGE_MS = 5 * 60_000;

export interface SignedWebhook {
  requestId: string;
  userId: string;
  timestamp: string;
  signature: Buffer;
}

const badSignature = (message: string) => new ProviderError('fal', 'bad_signature', `fal webhook: ${message}`);

/** The four signature headers, or 'bad_signature' when one is missing or malformed. */
export function signedHeaders(request: CallbackRequest): SignedWebhook {
  const header = (name: string) => request.headers[`x-fal-webhook-${name}`]?.trim() ?? '';
  const [requestId, userId, timestamp, signatureHex] = ['request-id', 'user-id', 'timestamp', 'signature'].map(header);
  if (!requestId || !userId || !timestamp || !signatureHex) throw badSignature('signature headers missing');
  if (!/^[0-9a-f]+$/i.test(signatureHex) || signatureHex.length !== 128) throw badSignature('signature is not 64 hex bytes');
  return { requestId, userId, timestamp, signature: Buffer.from(signatureHex, 'hex') };
}

/** The bytes fal signs for one delivery. */
export function signedMessage(webhook: Omit<SignedWebhook, 'signature'>, rawBody: Buffer): Buffer {
  const bodyHash = createHash('sha256').update(rawBody).digest('hex');
  return Buffer.from([webhook.requestId, webhook.userId, webhook.timestamp, bodyHash].join('\n'), 'utf8');
}

export interface WebhookVerifier {
  /** Throws 'bad_signature' unless a published key signed this delivery recently. */
  verify(request: CallbackRequest): Promise<SignedWebhook>;
}

export function createWebhookVerifier(
  options: Pick<HttpProviderOptions, 'timeoutMs'> & { jwksUrl: string; cacheMs?: number; now?: () => number },
): WebhookVerifier {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? FAL_JWKS_CACHE_MS;
  let cached: { keys: KeyObject[]; fetchedAt: number } | undefined;
  let inFlight: Promise<KeyObject[]> | undefined;

  const fetchKeys = (): Promise<KeyObject[]> => {
    inFlight ??= loadJwks(options)
      .then((keys) => {
        cached = { keys, fetchedAt: now() };
        return keys;
      })
      .finally(() => (inFlight = undefined));
    return inFlight;
  };
  const keys = () => (cached && now() - cached.fetchedAt < cacheMs ? Promise.resolve(cached.keys) : fetchKeys());

  return {
    async verify(request) {
      const webhook = signedHeaders(request);
      const timestamp = Number(webhook.timestamp);
      if (!Number.isInteger(timestamp)) throw badSignature('timestamp is not a number');
      if (Math.abs(now() / 1000 - timestamp) > FAL_WEBHOOK_TOLERANCE_SECONDS) throw badSignature('timestamp outside the 300 s tolerance');
      const message = signedMessage(webhook, request.rawBody);
      const signedBy = (candidates: KeyObject[]) => candidates.some((key) => verify(null, message, key, webhook.signature));
      if (signedBy(await keys())) return webhook;
      if (cached && now() - cached.fetchedAt >= MIN_REFETCH_AGE_MS && signedBy(await fetchKeys())) return webhook;
      throw badSignature('signature does not verify');
    },
  };
}

/** The Ed25519 keys of a JWKS; other key types are skipped, none at all is a protocol error. */
async function loadJwks(options: Pick<HttpProviderOptions, 'timeoutMs'> & { jwksUrl: string }): Promise<KeyObject[]> {
  // The JWKS is public: our key is not sent to it.
  const response = await callProvider('fal', { baseUrl: options.jwksUrl, apiKey: '', timeoutMs: options.timeoutMs }, { url: options.jwksUrl });
  if (response.status !== 200) throw falError(response);
  const entries = asRecord(response.json).keys;
  const keys = (Array.isArray(entries) ? entries : [])
    .map(asRecord)
    .filter((jwk) => jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.x === 'string')
    .flatMap((jwk) => {
      try {
        return [createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string }, format: 'jwk' })];
      } catch {
        return [];
      }
    });
  if (keys.length === 0) throw protocolError('the JWKS holds no Ed25519 key', response.status);
  return keys;
}
