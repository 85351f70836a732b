import { TimeZone, daysInMonth, weekday } from './zones.js';

/**
 * EventBridge's cron dialect: six fields, `minutes hours day-of-month month day-of-week year`,
 * with `, - * / ?`, `L` and `W` in day-of-month, `L` and `#` in day-of-week, names for months
 * (JAN-DEC) and weekdays (SUN-SAT; 1 = Sunday), years 1970-2199. One of day-of-month and
 * day-of-week must be `?`. Times are wall-clock times in the schedule's time zone.
 */
export interface Cron {
  minutes: Set<number>;
  hours: Set<number>;
  months: Set<number>;
  years: Set<number>;
  /** Whether a date's day matches the day-of-month or day-of-week field (the other one is `?`). */
  day(year: number, month: number, day: number): boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;

/** Parses the fields inside `cron(...)`; undefined if they are not a valid expression. */
export function parseCron(fields: string): Cron | undefined {
  const parts = fields.trim().split(/\s+/);
  if (parts.length !== 6) return undefined;
  const [min, hour, dom, month, dow, year] = parts as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) return undefined;
  const minutes = numbers(min, 0, 59);
  const hours = numbers(hour, 0, 23);
  const months = numbers(month, 1, 12, MONTHS);
  const years = numbers(year, MIN_YEAR, MAX_YEAR);
  const day = dom === '?' ? weekdayMatcher(dow) : monthDayMatcher(dom);
  if (!minutes || !hours || !months || !years || !day) return undefined;
  return { minutes, hours, months, years, day };
}

/** A list of `*`, `n`, `a-b`, with an optional `/step`; names where given. */
function numbers(field: string, lo: number, hi: number, names?: string[]): Set<number> | undefined {
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const m = /^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:\/(\d+))?$/.exec(item);
    if (!m) return undefined;
    const from = m[1] === '*' ? lo : value(m[1]!, lo, hi, names);
    const to = m[2] !== undefined ? value(m[2], lo, hi, names) : m[1] === '*' || m[3] !== undefined ? hi : from;
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (from === undefined || to === undefined || step < 1 || (m[1] === '*' && m[2] !== undefined)) return undefined;
    if (from <= to) for (let n = from; n <= to; n += step) out.add(n);
    else return undefined;
  }
  return out.size > 0 ? out : undefined;
}

function value(text: string, lo: number, hi: number, names?: string[]): number | undefined {
  const named = names?.indexOf(text.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + lo : /^\d+$/.test(text) ? Number(text) : NaN;
  return Number.isInteger(n) && n >= lo && n <= hi ? n : undefined;
}

type DayMatcher = (year: number, month: number, day: number) => boolean;

/** Day of month: a list as above, `L` (the last day), `LW` (the last weekday), `nW` (the weekday nearest day n). */
function monthDayMatcher(field: string): DayMatcher | undefined {
  if (field === 'L') return (y, m, d) => d === daysInMonth(y, m);
  if (field === 'LW') return (y, m, d) => d === nearestWeekday(y, m, daysInMonth(y, m));
  const w = /^(\d{1,2})W$/.exec(field);
  if (w) {
    const n = Number(w[1]);
    return n >= 1 && n <= 31 ? (y, m, d) => n <= daysInMonth(y, m) && d === nearestWeekday(y, m, n) : undefined;
  }
  const days = numbers(field, 1, 31);
  return days && ((_y, _m, d) => days.has(d));
}

/** The weekday (Monday-Friday) nearest day `n` within its month. */
function nearestWeekday(y: number, m: number, n: number): number {
  const wd = weekday(y, m, n);
  if (wd === 7) return n === 1 ? 3 : n - 1;
  if (wd === 1) return n === daysInMonth(y, m) ? n - 2 : n + 1;
  return n;
}

/** Day of week: a list as above (1-7 or SUN-SAT), `L` (Saturday), `nL` (the month's last weekday n), `n#k` (its k-th). */
function weekdayMatcher(field: string): DayMatcher | undefined {
  if (field === 'L') return (y, m, d) => weekday(y, m, d) === 7;
  const last = /^([A-Za-z0-9]+)L$/.exec(field);
  if (last) {
    const wd = value(last[1]!, 1, 7, WEEKDAYS);
    return wd === undefined ? undefined : (y, m, d) => weekday(y, m, d) === wd && d + 7 > daysInMonth(y, m);
  }
  const nth = /^([A-Za-z0-9]+)#([1-5])$/.exec(field);
  if (nth) {
    const wd = value(nth[1]!, 1, 7, WEEKDAYS);
    const k = Number(nth[2]);
    return wd === undefined ? undefined : (y, m, d) => weekday(y, m, d) === wd && Math.ceil(d / 7) === k;
  }
  const days = numbers(field, 1, 7, WEEKDAYS);
  return days && ((y, m, d) => days.has(weekday(y, m, d)));
}

/**
 * The first time after `afterMs` (strictly) that `cron` names in `zone`; undefined if there is
 * none before 2200. A day (an hour) whose last named time is not after `afterMs` is passed over
 * whole, so an evaluation converts a few dozen times, not every minute of a day.
 */
export function nextCronTime(cron: Cron, afterMs: number, zone: string): number | undefined {
  const tz = new TimeZone(zone);
  const start = tz.localTime(afterMs);
  const sortedHours = [...cron.hours].sort((a, b) => a - b);
  const sortedMinutes = [...cron.minutes].sort((a, b) => a - b);
  const [lastHour, lastMinute] = [sortedHours.at(-1) ?? 0, sortedMinutes.at(-1) ?? 0];
  // Walk the calendar day by day in the zone's dates (a day before `start` too: an offset change may move it).
  const cursor = new Date(Date.UTC(start.year, start.month - 1, start.day - 1));
  const lastYear = Math.max(...cron.years);
  for (; cursor.getUTCFullYear() <= lastYear; cursor.setUTCDate(cursor.getUTCDate() + 1)) {
    const [year, month, day] = [cursor.getUTCFullYear(), cursor.getUTCMonth() + 1, cursor.getUTCDate()];
    if (!cron.years.has(year)) {
      cursor.setUTCFullYear(year + 1, 0, 0); // the last day of this year; the loop steps into the next
      continue;
    }
    if (!cron.months.has(month) || !cron.day(year, month, day)) continue;
    const at = (hour: number, minute: number) => tz.instantOf({ year, month, day, hour, minute, second: 0 });
    if (at(lastHour, lastMinute) <= afterMs) continue;
    for (const hour of sortedHours) {
      if (at(hour, lastMinute) <= afterMs) continue;
      for (const minute of sortedMinutes) {
        const instant = at(hour, minute);
        if (instant > afterMs) return instant;
      }
    }
  }
  return undefined;
}
