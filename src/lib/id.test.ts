import { describe, expect, it } from 'vitest';
import { newId } from './id.ts';

describe('newId', () => {
  it('makes prefixed ids of 26 base32 characters, all distinct, sorting in the order they were made', () => {
    const ids = Array.from({ length: 5000 }, () => newId('gen')); // many within each millisecond, past one random pool
    for (const id of ids.slice(0, 3)) expect(id).toMatch(/^gen_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
