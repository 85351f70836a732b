/**
 * Wall-clock times in IANA time zones, by the platform's Intl (no time zone tables of our own).
 * A local time is { year, month (1-12), day, hour, minute, second }.
 */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** True if `zone` names a time zone the platform knows (e.g. "UTC", "Europe/Paris"). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * One IANA time zone, its formatter made once (making an Intl.DateTimeFormat costs some 60 µs,
 * using one a few): an evaluation of a schedule holds one for all the times it converts.
 */
export class TimeZone {
  private readonly format: Intl.DateTimeFormat;

  constructor(zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  }

  /** The local time at `ms`. */
  localTime(ms: number): LocalTime {
    const parts = this.format.formatToParts(new Date(ms));
    const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
    return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
  }

  /**
   * The instant at which the zone's clocks show `t`. A time skipped by a daylight-saving change
   * is taken with the offset from before the change (so it falls after the change, as the clocks
   * would have shown it); a time shown twice is its first showing. Later local times never map
   * to earlier instants.
   */
  instantOf(t: LocalTime): number {
    const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
    const before = this.offsetAt(asUtc - 86_400_000);
    const first = asUtc - before;
    if (this.offsetAt(first) === before) return first;
    const after = this.offsetAt(asUtc + 86_400_000);
    const second = asUtc - after;
    return this.offsetAt(second) === after ? second : first;
  }

  /** The zone's offset from UTC at `ms`, in milliseconds (positive east of Greenwich). */
  private offsetAt(ms: number): number {
    const t = this.localTime(ms);
    return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - Math.floor(ms / 1000) * 1000;
  }
}

/** Days in `month` (1-12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Day of the week of a date: 1 = Sunday ... 7 = Saturday (cron's numbering). */
export function weekday(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}
