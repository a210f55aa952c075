import { describe, expect, it } from 'vitest';
import { toPoolUnits } from './sync.ts';

describe('toPoolUnits', () => {
  it('converts a USD (micro-USD) balance to whole pool units, rounding down', () => {
    expect(toPoolUnits({ amount: 2_500_000, unit: 'micro_usd' }, { unit: 'credit', unitCostMicroUsd: 25_000 })).toBe(100);
    expect(toPoolUnits({ amount: 2_524_999, unit: 'micro_usd' }, { unit: 'credit', unitCostMicroUsd: 25_000 })).toBe(100);
  });

  it("leaves a balance already in the pool's unit alone", () => {
    expect(toPoolUnits({ amount: 938, unit: 'credit' }, { unit: 'credit', unitCostMicroUsd: 25_000 })).toBe(938);
    expect(toPoolUnits({ amount: 5_000_000, unit: 'micro_usd' }, { unit: 'micro_usd', unitCostMicroUsd: 1 })).toBe(5_000_000);
  });

  it('refuses to convert without a unit cost', () => {
    expect(() => toPoolUnits({ amount: 1, unit: 'micro_usd' }, { unit: 'credit', unitCostMicroUsd: 0 })).toThrow(/unit cost/);
  });
});
