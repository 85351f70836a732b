import type { EventQueue, QueuedEvent, ScheduleStore, ScheduleWrite, StoredSchedule } from './journal.js';

/** The schedules of the in-memory Journal (unit tests); same contract as the real engines. */
export class MemoryScheduleStore implements ScheduleStore {
  private readonly items = new Map<string, StoredSchedule>();

  constructor(private readonly queue: EventQueue) {}

  async get(key: string): Promise<StoredSchedule | undefined> {
    const item = this.items.get(key);
    return item && structuredClone(item);
  }

  async list(prefix: string): Promise<StoredSchedule[]> {
    return [...this.items.values()].filter((s) => s.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1)).map((s) => structuredClone(s));
  }

  async create(key: string, write: ScheduleWrite): Promise<boolean> {
    if (this.items.has(key)) return false;
    this.items.set(key, stored(key, write));
    return true;
  }

  async replace(key: string, write: ScheduleWrite, expectedRevision: string): Promise<boolean> {
    if (this.items.get(key)?.revision !== expectedRevision) return false;
    this.items.set(key, stored(key, write));
    return true;
  }

  async delete(key: string, expectedRevision?: string): Promise<boolean> {
    const item = this.items.get(key);
    if (!item || (expectedRevision !== undefined && item.revision !== expectedRevision)) return false;
    return this.items.delete(key);
  }

  async due(nowMs: number, limit: number): Promise<StoredSchedule[]> {
    return [...this.items.values()]
      .filter((s) => s.dueAtMs !== undefined && s.dueAtMs <= nowMs)
      .sort((a, b) => a.dueAtMs! - b.dueAtMs! || (a.key < b.key ? -1 : 1))
      .slice(0, Math.max(0, limit))
      .map((s) => structuredClone(s));
  }

  async fire(key: string, expectedRevision: string, next: ScheduleWrite | undefined, event: QueuedEvent): Promise<boolean> {
    if (this.items.get(key)?.revision !== expectedRevision) return false;
    if (next) this.items.set(key, stored(key, next));
    else this.items.delete(key);
    // The memory queue's put completes synchronously: nothing runs between the two writes.
    void this.queue.put(event);
    return true;
  }
}

function stored(key: string, write: ScheduleWrite): StoredSchedule {
  return structuredClone({ key, value: write.value, revision: write.revision, ...(write.dueAtMs === undefined ? {} : { dueAtMs: write.dueAtMs }) });
}
