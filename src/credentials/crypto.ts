// AES-256-GCM for provider keys at rest: a random 96-bit IV per encryption, the provider's name as
// associated data (a secret copied to another provider's row does not decrypt), and the tag checked on
// every decryption. Pure functions, unit-tested in crypto.test.ts.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const FORMAT = 'v1';

/** The key from its base64 form (config has checked it is 32 bytes). */
export function encryptionKeyFrom(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new Error('the encryption key must be 32 bytes');
  return key;
}

/** A short public name of a key (a hash), stored beside each secret so rotation knows what to redo. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('tally-credentials-key-id').update(key).digest('hex').slice(0, 16);
}

export function encryptSecret(key: Buffer, provider: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(provider));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [FORMAT, iv.toString('base64'), ciphertext.toString('base64'), cipher.getAuthTag().toString('base64')].join(':');
}

export function decryptSecret(key: Buffer, provider: string, stored: string): string {
  const [format, iv, ciphertext, tag] = stored.split(':');
  if (format !== FORMAT || !iv || !ciphertext || !tag) throw new Error('not a stored secret of a known format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAAD(Buffer.from(provider));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
}
