import { parseCron, nextCronTime, type Cron } from './cron.js';
import { isTimeZone, TimeZone, type LocalTime } from './zones.js';

/** A parsed ScheduleExpression. */
export type Expression =
  | { kind: 'rate'; periodMs: number }
  | { kind: 'cron'; cron: Cron }
  | { kind: 'at'; local: LocalTime };

/** When a schedule may fire: from StartDate, until EndDate (both optional, epoch ms). */
export interface Window {
  startMs?: number;
  endMs?: number;
}

const UNITS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };

/** `rate(value unit)`, `cron(fields)` or `at(yyyy-mm-ddThh:mm:ss)`; undefined if none of them. */
export function parseExpression(text: string): Expression | undefined {
  const m = /^(rate|cron|at)\((.*)\)$/.exec(text);
  if (!m) return undefined;
  const body = m[2]!;
  if (m[1] === 'rate') {
    const r = /^(\d{1,9}) ([a-z]+)$/.exec(body);
    const unit = r ? UNITS[r[2]!] : undefined;
    const value = r ? Number(r[1]) : 0;
    return unit && value >= 1 ? { kind: 'rate', periodMs: value * unit } : undefined;
  }
  if (m[1] === 'cron') {
    const cron = parseCron(body);
    return cron && { kind: 'cron', cron };
  }
  const a = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!a) return undefined;
  const [year, month, day, hour, minute, second] = a.slice(1).map(Number) as [number, number, number, number, number, number];
  const valid = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const same = valid.getUTCFullYear() === year && valid.getUTCMonth() === month - 1 && valid.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  return same ? { kind: 'at', local: { year, month, day, hour, minute, second } } : undefined;
}

export { isTimeZone };

/**
 * The first due time of a schedule created (or updated) at `nowMs`: a one-time schedule's time
 * (StartDate and EndDate do not apply to it, as in AWS; one that has passed is due at once only
 * if `pastAt`), else the first time after `nowMs` within the window. A rate counts from
 * StartDate, or from `nowMs`.
 */
export function firstDue(expr: Expression, zone: string, window: Window, nowMs: number, pastAt = true): number | undefined {
  if (expr.kind === 'at') {
    const at = new TimeZone(zone).instantOf(expr.local);
    return pastAt || at > nowMs ? at : undefined;
  }
  return nextDue(expr, zone, window, window.startMs ?? nowMs, nowMs);
}

/** The due time after `afterMs` (strictly) within the window; undefined once there is none (a one-time schedule has fired). */
export function nextDue(expr: Expression, zone: string, window: Window, anchorMs: number, afterMs: number): number | undefined {
  if (expr.kind === 'at') return undefined;
  const from = window.startMs !== undefined ? Math.max(afterMs, window.startMs - 1) : afterMs;
  let next: number | undefined;
  if (expr.kind === 'rate') {
    next = from < anchorMs ? anchorMs : anchorMs + (Math.floor((from - anchorMs) / expr.periodMs) + 1) * expr.periodMs;
  } else {
    next = nextCronTime(expr.cron, from, zone);
  }
  return next !== undefined && (window.endMs === undefined || next <= window.endMs) ? next : undefined;
}
