// When a job is due (pure; see README.md). Schedules are five-field cron expressions in UTC.
import { CronExpressionParser } from 'cron-parser';

/** Throws a readable error for an expression cron cannot read. */
export function checkSchedule(schedule: string): void {
  CronExpressionParser.parse(schedule, { tz: 'UTC' });
}

/** The latest time the schedule fired at or before `now`. */
export function previousRun(schedule: string, now: Date): Date {
  // cron-parser's prev() is strictly before its start: start a millisecond after `now`.
  return CronExpressionParser.parse(schedule, { tz: 'UTC', currentDate: new Date(now.getTime() + 1) })
    .prev()
    .toDate();
}

/** The next time the schedule fires after `now`. */
export function nextRun(schedule: string, now: Date): Date {
  return CronExpressionParser.parse(schedule, { tz: 'UTC', currentDate: now }).next().toDate();
}

/**
 * The slot to run now, if any: the latest firing at or before `now`, provided it is not older than
 * `since` (when the scheduler first knew the job). Firings missed while no worker ran collapse into
 * this one slot: a worker coming back runs the job once, not once per missed firing.
 */
export function dueSlot(schedule: string, now: Date, since: Date): Date | undefined {
  const slot = previousRun(schedule, now);
  return slot.getTime() >= since.getTime() ? slot : undefined;
}
