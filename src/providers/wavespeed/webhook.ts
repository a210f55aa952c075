// WaveSpeed's webhook signature: `webhook-signature: v3,<hex>` where hex = HMAC-SHA256 keyed with the
// webhook secret less its `whsec_` prefix (the remaining text itself, not base64-decoded) over
// "{webhook-id}.{webhook-timestamp}.{raw body}". Deliveries older (or newer) than 300 s are refused.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProviderError, type CallbackRequest } from '../types.ts';

export const WAVESPEED_WEBHOOK_TOLERANCE_SECONDS = 300;
const SIGNATURE_VERSION = 'v3';

const badSignature = (message: string) => new ProviderError('wavespeed', 'bad_signature', `wavespeed webhook: ${message}`);

export function webhookSignature(secret: string, id: string, timestamp: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret.replace(/^whsec_/, ''))
    .update(`${id}.${timestamp}.`)
    .update(rawBody)
    .digest('hex');
}

/** Throws 'bad_signature' unless the delivery is recent and signed with our secret. */
export function verifyWebhook(request: CallbackRequest, secret: string | undefined, nowMs: number): void {
  // Without a secret nothing can be checked, and an unchecked callback could complete or fail any
  // task whose id an attacker knows: refuse them all (polling still finds every result).
  if (!secret) throw badSignature('no webhook secret is configured, so callbacks cannot be verified');
  const id = request.headers['webhook-id']?.trim();
  const timestamp = request.headers['webhook-timestamp']?.trim();
  const header = request.headers['webhook-signature']?.trim();
  if (!id || !timestamp || !header) throw badSignature('signature headers missing');
  if (!/^\d+$/.test(timestamp)) throw badSignature('timestamp is not a number');
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > WAVESPEED_WEBHOOK_TOLERANCE_SECONDS) throw badSignature('timestamp outside the 300 s tolerance');
  const expected = Buffer.from(webhookSignature(secret, id, timestamp, request.rawBody), 'hex');
  // Space-separated entries, as standard webhooks allow several during a secret rotation.
  const matches = header.split(/\s+/).some((entry) => {
    const [version, hex] = entry.split(',', 2);
    if (version !== SIGNATURE_VERSION || !hex || !/^[0-9a-f]+$/i.test(hex)) return false;
    const given = Buffer.from(hex, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw badSignature('signature does not verify');
}
