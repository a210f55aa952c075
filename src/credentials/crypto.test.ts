import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, keyIdOf } from './crypto.ts';

const key = randomBytes(32);

describe('provider secrets at rest', () => {
  it('round-trip, with a fresh IV each time (the same key never encrypts alike)', () => {
    const a = encryptSecret(key, 'kie', 'sk-live-0123456789');
    const b = encryptSecret(key, 'kie', 'sk-live-0123456789');
    expect(a).not.toBe(b);
    expect(a).not.toContain('sk-live');
    expect(Buffer.from(a.split(':')[1]!, 'base64')).toHaveLength(12);
    expect(decryptSecret(key, 'kie', a)).toBe('sk-live-0123456789');
  });
  it('refuse another provider’s name (associated data), another key, and a changed byte', () => {
    const stored = encryptSecret(key, 'kie', 'secret-key');
    expect(() => decryptSecret(key, 'fal', stored)).toThrow();
    expect(() => decryptSecret(randomBytes(32), 'kie', stored)).toThrow();
    const [v, iv, ct, tag] = stored.split(':');
    const flipped = Buffer.from(ct!, 'base64');
    flipped[0]! ^= 1;
    expect(() => decryptSecret(key, 'kie', [v, iv, flipped.toString('base64'), tag].join(':'))).toThrow();
  });
  it('name keys by a hash that differs per key', () => {
    expect(keyIdOf(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(key)).not.toBe(keyIdOf(randomBytes(32)));
  });
});
