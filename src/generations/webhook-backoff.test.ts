import { describe, expect, it } from 'vitest';
import { backoffDelayMs, decideDelivery } from './webhook-backoff.ts';

const settings = { baseMs: 1000, maxMs: 10_000, maxPasses: 3 };
const now = new Date('2026-01-01T00:00:00Z');

describe('webhook endpoint backoff', () => {
  it('doubles the delay with each consecutive failure, up to the maximum', () => {
    expect([0, 1, 2, 3, 4, 5, 60].map((failures) => backoffDelayMs(failures, settings))).toEqual([0, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('sends to a healthy endpoint, or one whose backoff has run out', () => {
    expect(decideDelivery({ failures: 0, nextAttemptAt: null }, 0, now, settings)).toEqual({ action: 'send' });
    expect(decideDelivery({ failures: 4, nextAttemptAt: new Date(now.getTime() - 1) }, 2, now, settings)).toEqual({ action: 'send' });
  });

  it('defers a delivery while its endpoint is backed off, until the backoff ends', () => {
    const until = new Date(now.getTime() + 5000);
    expect(decideDelivery({ failures: 2, nextAttemptAt: until }, 1, now, settings)).toEqual({ action: 'defer', until });
  });

  it('gives up after the last pass, whatever the endpoint', () => {
    expect(decideDelivery({ failures: 0, nextAttemptAt: null }, 3, now, settings)).toEqual({ action: 'give-up' });
  });
});
