import { describe, expect, it } from 'vitest';
import { decideGenerations, decidePurchases, DEFAULT_PAUSE_MESSAGE, isSoldOut, pausedProviders, SOLD_OUT_MESSAGE, type ActivePause } from './decide.ts';

const pause = (id: string, scope: ActivePause['scope'], provider: string | null = null, message = DEFAULT_PAUSE_MESSAGE): ActivePause => ({
  id,
  scope,
  provider,
  message,
});
const primary = { provider: 'nanobanana', sellableUserCredits: 234 };
const packages = [10, 50, 100, 500];

describe('generations', () => {
  it('are open without a platform-wide generations pause', () => {
    expect(decideGenerations([pause('p1', 'purchases'), pause('p2', 'generations', 'kie')])).toEqual({ open: true });
  });
  it('are refused with the oldest platform-wide pause’s message', () => {
    expect(decideGenerations([pause('p1', 'generations', null, 'Back at noon'), pause('p2', 'generations', null, 'later')])).toEqual({
      open: false,
      message: 'Back at noon',
      pauseId: 'p1',
      automatic: false,
    });
  });
  it('a provider pause only takes that provider out of routing', () => {
    expect([...pausedProviders([pause('p1', 'generations', 'kie'), pause('p2', 'purchases', 'nanobanana'), pause('p3', 'generations')])]).toEqual(['kie']);
  });
});

describe('purchases', () => {
  it('are open while the pool backs a package and nothing pauses them', () => {
    expect(decidePurchases([pause('g', 'generations')], primary, packages)).toEqual({ open: true });
  });
  it('are refused by a platform-wide or primary-provider pause', () => {
    expect(decidePurchases([pause('p1', 'purchases')], primary, packages)).toMatchObject({ open: false, pauseId: 'p1', automatic: false });
    expect(decidePurchases([pause('p2', 'purchases', 'nanobanana')], primary, packages)).toMatchObject({ open: false, pauseId: 'p2' });
  });
  it('pause by themselves when the pool cannot back the smallest package, and reopen when it can', () => {
    expect(decidePurchases([], { ...primary, sellableUserCredits: 9 }, packages)).toEqual({
      open: false,
      message: SOLD_OUT_MESSAGE,
      pauseId: null,
      automatic: true,
    });
    expect(decidePurchases([], { ...primary, sellableUserCredits: 10 }, packages)).toEqual({ open: true });
  });
  it('an operator’s pause wins over the automatic one (its message is shown)', () => {
    expect(decidePurchases([pause('p1', 'purchases', null, 'Maintenance')], { ...primary, sellableUserCredits: 0 }, packages)).toMatchObject({
      message: 'Maintenance',
      automatic: false,
    });
  });
  it('no packages: nothing to sell, nothing to pause', () => {
    expect(isSoldOut(0, [])).toBe(false);
  });
});
