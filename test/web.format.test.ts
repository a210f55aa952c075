// The web's pure display rules: money shown exactly, and a pool's buffer level.
import { describe, expect, it } from 'vitest';
import { bufferLevel } from '../web/src/admin/levels.ts';
import { formatMicroUsd, formatPrice, formatUsdDecimal } from '../web/src/shared/format.ts';

describe('money on the pages', () => {
  it('shows integer cents exactly in their currency', () => {
    expect(formatPrice(999, 'EUR')).toBe('€9.99');
    expect(formatPrice(29999, 'usd')).toBe('$299.99');
    expect(formatPrice(1, 'USD')).toBe('$0.01');
    expect(formatPrice(123456789, 'USD')).toBe('$1,234,567.89');
  });

  it('rounds exact decimal USD and micro-USD to the cent, half up, without floats', () => {
    expect(formatUsdDecimal('0.004999')).toBe('$0.00');
    expect(formatUsdDecimal('0.005000')).toBe('$0.01');
    expect(formatUsdDecimal('12.345600')).toBe('$12.35');
    expect(formatUsdDecimal('90071992547.409919')).toBe('$90,071,992,547.41');
    expect(formatMicroUsd(25_000)).toBe('$0.03');
    expect(formatMicroUsd(-1_005_000)).toBe('-$1.01');
  });
});

describe('buffer level', () => {
  const pool = { lowThreshold: 100, criticalThreshold: 40 };
  const levels = { minimum: 400, comfortable: 2000, ideal: 10000 };
  it('is critical or low by the pool’s own thresholds, whatever the pool', () => {
    expect(bufferLevel({ ...pool, available: 39 }, true, levels)).toEqual({ word: 'critical', tone: 'bad' });
    expect(bufferLevel({ ...pool, available: 40 }, false, levels)).toEqual({ word: 'low', tone: 'warn' });
    expect(bufferLevel({ ...pool, available: 100 }, false, levels)).toEqual({ word: 'ok', tone: 'ok' });
  });
  it('places the primary pool against the buffer levels', () => {
    expect(bufferLevel({ ...pool, available: 399 }, true, levels).word).toBe('below minimum');
    expect(bufferLevel({ ...pool, available: 400 }, true, levels).word).toBe('minimum');
    expect(bufferLevel({ ...pool, available: 2000 }, true, levels).word).toBe('comfortable');
    expect(bufferLevel({ ...pool, available: 10000 }, true, levels)).toEqual({ word: 'ideal', tone: 'ok' });
  });
});
