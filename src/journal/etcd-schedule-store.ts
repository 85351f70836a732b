import type { IKeyValue, IOperation, Namespace } from 'etcd3';
import { commitTxn, etcdCall, keyIn } from '../shared/etcd.js';
import { eventPutOps } from './etcd-event-queue.js';
import type { QueuedEvent, ScheduleStore, ScheduleWrite, StoredSchedule } from './journal.js';

const items = 'schedules/items/';
const due = 'schedules/due/';

/** `schedules/due/<ms, 16 digits>/<key>`: the schedule `key` fires at that time. */
function dueKey(atMs: number, key: string): string {
  return `${due}${String(Math.max(0, Math.floor(atMs))).padStart(16, '0')}/${key}`;
}

/**
 * Each schedule is one key, `schedules/items/<key>` (its value, revision and due time), plus an
 * index key `schedules/due/<ms>/<key>` while it has a due time, moved in the same transaction as
 * every change. A firing is one transaction that compares the schedule's mod revision and writes
 * the schedule, its index key and the event queue's keys for the event.
 */
export class EtcdScheduleStore implements ScheduleStore {
  constructor(private readonly root: Namespace) {}

  async get(key: string): Promise<StoredSchedule | undefined> {
    return (await this.read(key))?.schedule;
  }

  async list(prefix: string): Promise<StoredSchedule[]> {
    const res = await etcdCall('schedules list', () => this.root.getAll().prefix(items + prefix).sort('Key', 'Ascend').exec());
    return res.kvs.map((kv) => decode(kv));
  }

  async create(key: string, write: ScheduleWrite): Promise<boolean> {
    const absent = { key: keyIn(this.root, items + key), target: 'Create' as const, result: 'Equal' as const, create_revision: 0 };
    return (await commitTxn('schedule create', this.root, [absent], this.writeOps(key, write))).succeeded;
  }

  async replace(key: string, write: ScheduleWrite, expectedRevision: string): Promise<boolean> {
    return this.change(key, expectedRevision, write, []);
  }

  async delete(key: string, expectedRevision?: string): Promise<boolean> {
    const current = await this.read(key);
    if (!current) return false;
    return this.change(key, expectedRevision ?? current.schedule.revision, undefined, [], current);
  }

  async due(nowMs: number, limit: number): Promise<StoredSchedule[]> {
    const range = { start: dueKey(0, ''), end: dueKey(nowMs + 1, '') };
    const res = await etcdCall('schedules due', () => this.root.getAll().inRange(range).sort('Key', 'Ascend').limit(Math.max(1, limit)).exec());
    const found = await Promise.all(res.kvs.slice(0, Math.max(0, limit)).map((kv) => this.get(kv.value.toString())));
    return found.filter((s): s is StoredSchedule => s !== undefined && s.dueAtMs !== undefined && s.dueAtMs <= nowMs);
  }

  async fire(key: string, expectedRevision: string, next: ScheduleWrite | undefined, event: QueuedEvent): Promise<boolean> {
    return this.change(key, expectedRevision, next, eventPutOps(this.root, event));
  }

  /** Replaces (or deletes) the schedule at `expectedRevision`, with `extra` writes in the same transaction. */
  private async change(
    key: string, expectedRevision: string, next: ScheduleWrite | undefined, extra: IOperation[], read?: { schedule: StoredSchedule; kv: IKeyValue },
  ): Promise<boolean> {
    const current = read ?? (await this.read(key));
    if (!current || current.schedule.revision !== expectedRevision) return false;
    const ops: IOperation[] = [];
    if (current.schedule.dueAtMs !== undefined) ops.push(this.root.delete().key(dueKey(current.schedule.dueAtMs, key)));
    ops.push(...(next ? this.writeOps(key, next) : [this.root.delete().key(items + key)]), ...extra);
    const unchanged = { key: keyIn(this.root, items + key), target: 'Mod' as const, result: 'Equal' as const, mod_revision: current.kv.mod_revision };
    return (await commitTxn('schedule change', this.root, [unchanged], ops)).succeeded;
  }

  private writeOps(key: string, write: ScheduleWrite): IOperation[] {
    const stored: StoredSchedule = { key, value: write.value, revision: write.revision, ...(write.dueAtMs === undefined ? {} : { dueAtMs: write.dueAtMs }) };
    const ops = [this.root.put(items + key).value(JSON.stringify(stored))];
    if (write.dueAtMs !== undefined) ops.push(this.root.put(dueKey(write.dueAtMs, key)).value(key));
    return ops;
  }

  private async read(key: string): Promise<{ schedule: StoredSchedule; kv: IKeyValue } | undefined> {
    const kv = (await etcdCall('schedule read', () => this.root.get(items + key).exec())).kvs[0];
    return kv && { schedule: decode(kv), kv };
  }
}

function decode(kv: IKeyValue): StoredSchedule {
  return JSON.parse(kv.value.toString()) as StoredSchedule;
}
