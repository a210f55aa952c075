// Expiring links to files Tally serves itself (the disk store): the link is the permission, so a result
// can be shown in an <img> tag without a bearer token, only by whoever was given the link, and only
// until it expires. The signature covers the key and the expiry, so neither can be changed.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isValidKey } from './types.ts';

/** The path under the public URL where the HTTP layer serves stored files. */
export const FILES_PATH = '/files/';

function signature(input: { key: string; expires: number; secret: string }): Buffer {
  if (input.secret.length === 0) throw new Error('the file signing secret is empty');
  return createHmac('sha256', input.secret).update(`tally-file\n${input.key}\n${input.expires}`).digest();
}

export function signFileUrl(input: { publicUrl: string; key: string; secret: string; expiresAt: Date }): string {
  if (!isValidKey(input.key)) throw new Error(`cannot sign a link to the invalid storage key "${input.key}"`);
  const expires = Math.floor(input.expiresAt.getTime() / 1000);
  const mac = signature({ key: input.key, expires, secret: input.secret }).toString('base64url');
  // Keys are letters, digits and . _ : - between slashes, all safe in a URL path as they are.
  return `${input.publicUrl.replace(/\/+$/, '')}${FILES_PATH}${input.key}?expires=${expires}&signature=${mac}`;
}

/**
 * True when the signature was made with this secret for this key and expiry, and the expiry is still
 * ahead. `expires` and `signature` come straight from the query string, so anything may arrive.
 */
export function verifyFileSignature(input: {
  key: string;
  expires: string | number | undefined;
  signature: string | undefined;
  secret: string;
  now?: Date;
}): boolean {
  const expiresText = String(input.expires ?? '');
  if (!/^\d{1,12}$/.test(expiresText) || !input.signature || !/^[A-Za-z0-9_-]+$/.test(input.signature)) return false;
  if (!isValidKey(input.key)) return false;
  const expires = Number(expiresText);
  const now = input.now ?? new Date();
  if (expires * 1000 <= now.getTime()) return false;
  // Compared as text: decoding would accept several spellings of one signature (the unused low bits).
  const expected = Buffer.from(signature({ key: input.key, expires, secret: input.secret }).toString('base64url'));
  const given = Buffer.from(input.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
