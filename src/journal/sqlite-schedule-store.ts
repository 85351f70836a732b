import Database from 'better-sqlite3';
import { growingWrite, writeOrDiskFull, type DiskSpace } from '../shared/disk-space.js';
import type { QueuedEvent, ScheduleStore, ScheduleWrite, StoredSchedule } from './journal.js';

interface Row {
  key: string;
  value: string;
  revision: string;
  due_at: number | null;
}

/**
 * The schedules of the SQLite Journal: a table in the journal's file, on a connection of its
 * own. `fire` updates the schedule and inserts into the event queue's table (same file) in one
 * IMMEDIATE transaction; every write commits with synchronous = FULL, so a firing is on disk
 * before it resolves and a crash leaves either both or neither.
 */
export class SqliteScheduleStore implements ScheduleStore {
  private readonly db: Database.Database;
  private readonly stmts;

  /**
   * Opens `path`, whose event queue table exists already (SqliteEventQueue creates it). `disk`
   * admits a write that grows a schedule, as the journal's documents (see SqliteJournal).
   */
  constructor(path: string, private readonly disk?: DiskSpace) {
    this.db = new Database(path, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS schedules (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision TEXT NOT NULL, due_at INTEGER);
      CREATE INDEX IF NOT EXISTS schedules_due ON schedules (due_at) WHERE due_at IS NOT NULL;`);
    this.stmts = {
      get: this.db.prepare<[string], Row>('SELECT key, value, revision, due_at FROM schedules WHERE key = ?'),
      size: this.db.prepare<[string], { n: number }>('SELECT length(value) AS n FROM schedules WHERE key = ?'),
      list: this.db.prepare<[string, string], Row>('SELECT key, value, revision, due_at FROM schedules WHERE key >= ? AND key < ? ORDER BY key'),
      create: this.db.prepare('INSERT OR IGNORE INTO schedules (key, value, revision, due_at) VALUES (?, ?, ?, ?)'),
      replace: this.db.prepare('UPDATE schedules SET value = ?, revision = ?, due_at = ? WHERE key = ? AND revision = ?'),
      delete: this.db.prepare('DELETE FROM schedules WHERE key = ?'),
      deleteAt: this.db.prepare('DELETE FROM schedules WHERE key = ? AND revision = ?'),
      due: this.db.prepare<[number, number], Row>(
        'SELECT key, value, revision, due_at FROM schedules WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, key LIMIT ?',
      ),
      enqueue: this.db.prepare('INSERT OR IGNORE INTO event_queue (id, due_at, value) VALUES (?, ?, ?)'),
    };
  }

  async get(key: string): Promise<StoredSchedule | undefined> {
    const row = this.stmts.get.get(key);
    return row && toSchedule(row);
  }

  async list(prefix: string): Promise<StoredSchedule[]> {
    return this.stmts.list.all(prefix, `${prefix}\uffff`).map(toSchedule);
  }

  async create(key: string, write: ScheduleWrite): Promise<boolean> {
    const json = JSON.stringify(write.value);
    return (await growingWrite(this.disk, json.length, () => this.stmts.create.run(key, json, write.revision, write.dueAtMs ?? null))).changes === 1;
  }

  async replace(key: string, write: ScheduleWrite, expectedRevision: string): Promise<boolean> {
    const json = JSON.stringify(write.value);
    const grows = json.length > (this.stmts.size.get(key)?.n ?? 0);
    const run = () => this.stmts.replace.run(json, write.revision, write.dueAtMs ?? null, key, expectedRevision);
    return (await (grows ? growingWrite(this.disk, json.length, run) : writeOrDiskFull(this.disk, run, { retry: true }))).changes === 1;
  }

  async delete(key: string, expectedRevision?: string): Promise<boolean> {
    const run = () => (expectedRevision === undefined ? this.stmts.delete.run(key) : this.stmts.deleteAt.run(key, expectedRevision));
    return (await writeOrDiskFull(this.disk, run, { retry: true })).changes === 1;
  }

  async due(nowMs: number, limit: number): Promise<StoredSchedule[]> {
    return this.stmts.due.all(nowMs, Math.max(0, limit)).map(toSchedule);
  }

  async fire(key: string, expectedRevision: string, next: ScheduleWrite | undefined, event: QueuedEvent): Promise<boolean> {
    const commit = this.db.transaction(() => {
      const changed = next
        ? this.stmts.replace.run(JSON.stringify(next.value), next.revision, next.dueAtMs ?? null, key, expectedRevision).changes
        : this.stmts.deleteAt.run(key, expectedRevision).changes;
      if (changed !== 1) return false;
      this.stmts.enqueue.run(event.id, event.dueAtMs, JSON.stringify(event.value));
      return true;
    });
    return writeOrDiskFull(this.disk, () => commit.immediate(), { retry: true });
  }

  close(): void {
    this.db.close();
  }
}

function toSchedule(row: Row): StoredSchedule {
  return { key: row.key, value: JSON.parse(row.value) as unknown, revision: row.revision, ...(row.due_at === null ? {} : { dueAtMs: row.due_at }) };
}
