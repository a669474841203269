import { z } from 'zod';

/**
 * Durations are hours as decimals (`0.5` = 30 minutes). No duration may exceed a year: a bound
 * keeps absurd inputs (1e300) out of timers and date arithmetic, and nobody needs standing access
 * disguised as a grant.
 */
export const MAX_HOURS = 24 * 365;

const MS_PER_HOUR = 3_600_000;

/** A positive, finite number of hours, at most `MAX_HOURS`. */
export const Hours = z
  .number()
  .positive('must be a positive number of hours')
  .max(MAX_HOURS, `must be at most ${MAX_HOURS} hours`);

/** An instant as ISO 8601 UTC (`2030-01-01T09:00:00.000Z`): what every stored and sent time looks like. */
export const Timestamp = z.iso.datetime({ error: 'must be an ISO 8601 UTC timestamp' });
export type Timestamp = z.output<typeof Timestamp>;

/** Milliseconds in `hours`, rounded to the millisecond so timers and comparisons agree. */
export function hoursToMs(hours: number): number {
  return Math.round(hours * MS_PER_HOUR);
}

export function hoursToSeconds(hours: number): number {
  return hoursToMs(hours) / 1000;
}

export function addHours(at: Date, hours: number): Date {
  return new Date(at.getTime() + hoursToMs(hours));
}

export function toTimestamp(at: Date): Timestamp {
  return at.toISOString();
}

/** Milliseconds since the epoch for a stored timestamp. */
export function instantOf(timestamp: Timestamp): number {
  return Date.parse(timestamp);
}

/** True when `now` is at or past `timestamp`: deadlines are exclusive, so the deadline itself is too late. */
export function isPast(timestamp: Timestamp, now: Date): boolean {
  return now.getTime() >= instantOf(timestamp);
}
