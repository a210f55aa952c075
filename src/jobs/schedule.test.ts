import { describe, expect, it } from 'vitest';
import { checkSchedule, dueSlot, nextRun, previousRun } from './schedule.ts';

const at = (iso: string) => new Date(iso);

describe('job schedules', () => {
  it('finds the firing at or before now and the next after it, in UTC', () => {
    expect(previousRun('*/15 * * * *', at('2026-12-01T00:07:00Z'))).toEqual(at('2026-12-01T00:00:00Z'));
    expect(previousRun('*/15 * * * *', at('2026-12-01T00:15:00Z'))).toEqual(at('2026-12-01T00:15:00Z'));
    expect(nextRun('*/15 * * * *', at('2026-12-01T00:15:00Z'))).toEqual(at('2026-12-01T00:30:00Z'));
    expect(nextRun('0 0 1 * *', at('2026-12-04T10:00:00Z'))).toEqual(at('2027-01-01T00:00:00Z'));
    expect(previousRun('0 1 * * *', at('2026-12-04T00:30:00Z'))).toEqual(at('2026-12-03T01:00:00Z'));
  });

  it('runs a missed slot once: only the latest firing, and none from before the job was known', () => {
    const since = at('2026-11-30T23:00:00Z');
    expect(dueSlot('0 0 1 * *', at('2026-12-01T06:00:00Z'), since)).toEqual(at('2026-12-01T00:00:00Z'));
    expect(dueSlot('* * * * *', at('2026-12-01T06:00:30Z'), since)).toEqual(at('2026-12-01T06:00:00Z'));
    expect(dueSlot('0 0 1 * *', at('2026-11-30T23:30:00Z'), since)).toBeUndefined();
  });

  it('refuses an expression that is not cron', () => {
    expect(() => checkSchedule('every minute')).toThrow();
    expect(() => checkSchedule('*/2 * * * *')).not.toThrow();
  });
});
