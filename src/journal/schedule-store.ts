import type { QueuedEvent } from './journal.js';

/**
 * Schedules (EventBridge Scheduler) with the time each next fires. The scheduler defines the
 * value; the store keeps beside it `dueAtMs`, indexed so that due schedules are found without a
 * scan, and fires a schedule by advancing it and queueing its event in one atomic commit.
 */
export interface ScheduleStore {
  get(key: string): Promise<StoredSchedule | undefined>;
  /** Every schedule whose key starts with `prefix`, ordered by key. */
  list(prefix: string): Promise<StoredSchedule[]>;
  /** Inserts; resolves false (writing nothing) if the key exists. */
  create(key: string, write: ScheduleWrite): Promise<boolean>;
  /** Replaces if the stored revision is `expectedRevision`; false otherwise, writing nothing. */
  replace(key: string, write: ScheduleWrite, expectedRevision: string): Promise<boolean>;
  /** Deletes (if given, only at `expectedRevision`); false if there was nothing to delete. */
  delete(key: string, expectedRevision?: string): Promise<boolean>;
  /** Schedules whose dueAtMs <= nowMs, earliest first, at most `limit`. */
  due(nowMs: number, limit: number): Promise<StoredSchedule[]>;
  /**
   * One firing, atomically: only if the schedule is still at `expectedRevision`, stores `next`
   * (or deletes the schedule when `next` is undefined) and puts `event` (whose id is new: each
   * firing has its own) into the journal's event queue. Resolves false, writing nothing,
   * otherwise: so of two firings of the same due time (a restart, a leader and its successor)
   * exactly one commits. `event` is durable once this resolves true.
   */
  fire(key: string, expectedRevision: string, next: ScheduleWrite | undefined, event: QueuedEvent): Promise<boolean>;
}

export interface ScheduleWrite {
  value: unknown;
  revision: string;
  /** When it fires next; undefined: not (disabled, or no time left). */
  dueAtMs?: number;
}

export interface StoredSchedule extends ScheduleWrite {
  key: string;
}
