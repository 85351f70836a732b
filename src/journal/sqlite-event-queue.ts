import Database from 'better-sqlite3';
import { diskFullError, isDiskFull, type DiskSpace } from '../shared/disk-space.js';
import type { ClaimedEvent, EventQueue, QueuedEvent } from './journal.js';

interface PendingPut {
  item: QueuedEvent;
  resolve(stored: boolean): void;
  reject(err: unknown): void;
}

interface Row {
  id: string;
  due_at: number;
  value: string;
}

/**
 * The event queue of the SQLite Journal, on its own connection. A put is committed with
 * synchronous = FULL, so it is on disk (fsync'd WAL) before it resolves; puts that arrive in the
 * same turn of the event loop share one transaction and one fsync (group commit). Claims,
 * renewals, reschedules and removals commit with synchronous = NORMAL: a process crash loses
 * none of them, a machine crash may undo the last few, and then the item is simply run again
 * (at least once). Claims run in IMMEDIATE transactions, so processes sharing the file never
 * hand one item to two owners.
 */
export class SqliteEventQueue implements EventQueue {
  private readonly db: Database.Database;
  private readonly stmts;
  private pending: PendingPut[] = [];

  /** `disk`: a put that finds no room gives its reserve back (the next may then fit) and is refused with DiskFull. */
  constructor(path: string, private readonly disk?: DiskSpace) {
    this.db = new Database(path, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS event_queue (
      id TEXT PRIMARY KEY, due_at INTEGER NOT NULL, value TEXT NOT NULL, owner TEXT, claim_until INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX IF NOT EXISTS event_queue_due ON event_queue (due_at);`);
    this.stmts = {
      put: this.db.prepare('INSERT OR IGNORE INTO event_queue (id, due_at, value) VALUES (?, ?, ?)'),
      due: this.db.prepare<[number, number, number], Row>(
        'SELECT id, due_at, value FROM event_queue WHERE due_at <= ? AND (owner IS NULL OR claim_until <= ?) ORDER BY due_at, id LIMIT ?',
      ),
      take: this.db.prepare('UPDATE event_queue SET owner = ?, claim_until = ? WHERE id = ?'),
      extend: this.db.prepare('UPDATE event_queue SET claim_until = ? WHERE id = ? AND owner = ? AND claim_until > ?'),
      reschedule: this.db.prepare('UPDATE event_queue SET due_at = ?, value = ?, owner = NULL, claim_until = 0 WHERE id = ? AND owner = ? AND claim_until > ?'),
      remove: this.db.prepare('DELETE FROM event_queue WHERE id = ? AND owner = ? AND claim_until > ?'),
      count: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM event_queue'),
    };
  }

  put(item: QueuedEvent): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ item, resolve, reject });
    });
  }

  async claim(owner: string, nowMs: number, claimMs: number, limit: number): Promise<ClaimedEvent[]> {
    const claimUntilMs = nowMs + claimMs;
    const take = this.db.transaction(() => {
      const rows = this.stmts.due.all(nowMs, nowMs, Math.max(0, limit));
      for (const row of rows) this.stmts.take.run(owner, claimUntilMs, row.id);
      return rows;
    });
    return take.immediate().map((r) => ({ id: r.id, dueAtMs: r.due_at, value: JSON.parse(r.value) as unknown, claimUntilMs }));
  }

  async extend(id: string, owner: string, nowMs: number, claimMs: number): Promise<boolean> {
    return this.stmts.extend.run(nowMs + claimMs, id, owner, nowMs).changes === 1;
  }

  async reschedule(item: QueuedEvent, owner: string, nowMs: number): Promise<boolean> {
    return this.stmts.reschedule.run(item.dueAtMs, JSON.stringify(item.value), item.id, owner, nowMs).changes === 1;
  }

  async remove(id: string, owner: string, nowMs: number): Promise<boolean> {
    return this.stmts.remove.run(id, owner, nowMs).changes === 1;
  }

  async count(): Promise<number> {
    return this.stmts.count.get()?.n ?? 0;
  }

  close(): void {
    this.flush();
    this.db.close();
  }

  /** Writes every pending put in one transaction, then settles their promises. */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      this.db.pragma('synchronous = FULL');
      const stored = this.db.transaction(() => batch.map((p) => this.stmts.put.run(p.item.id, p.item.dueAtMs, JSON.stringify(p.item.value)).changes === 1))();
      batch.forEach((p, i) => p.resolve(stored[i] ?? false));
    } catch (err) {
      const full = isDiskFull(err);
      if (full) void this.disk?.release().catch(() => undefined);
      for (const p of batch) p.reject(full ? diskFullError(err) : err);
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }
}
