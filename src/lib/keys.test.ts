import { describe, expect, it } from 'vitest';
import { joinKey } from './keys.ts';

describe('joinKey', () => {
  it('keeps parts apart: a colon inside a part never passes for the separator', () => {
    expect(joinKey('purchase', 'user:a', 'b')).not.toBe(joinKey('purchase', 'user', 'a:b'));
    expect(joinKey('purchase', 'a%3Ab')).not.toBe(joinKey('purchase', 'a:b'));
    expect(joinKey('purchase', 'demo-user', 'demo')).toBe('purchase:demo-user:demo');
  });

  it('hashes keys past the ledger’s 200-character limit, still distinct', () => {
    const long = joinKey('purchase', 'u'.repeat(250), 'a');
    expect(long.length).toBeLessThanOrEqual(200);
    expect(long).not.toBe(joinKey('purchase', 'u'.repeat(250), 'b'));
  });
});
