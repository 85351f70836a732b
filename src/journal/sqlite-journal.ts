import Database from 'better-sqlite3';
import { growingWrite, writeOrDiskFull, type DiskSpace } from '../shared/disk-space.js';
import type { AppendLog, DocumentStore, Journal, LeaderElection, Leadership, LogEntry, LogSnapshot, StoredDocument } from './journal.js';
import { DocumentListeners, LocalElections } from './local.js';
import { SqliteEventQueue } from './sqlite-event-queue.js';
import { SqliteLogStore } from './sqlite-log-store.js';
import { SqliteScheduleStore } from './sqlite-schedule-store.js';

type Db = Database.Database;

/**
 * The single-machine Journal: one SQLite file (WAL) under the data directory. With a `disk`, a
 * document write that grows the stored data is admitted by it first, and every write that fails
 * for want of space gives the disk's reserve back and becomes DiskFull; deletes and the
 * assignment log's records (an invoke's) are tried once more after that, so they go on.
 */
export class SqliteJournal implements Journal {
  readonly functions: DocumentStore;
  readonly versions: DocumentStore;
  readonly aliases: DocumentStore;
  readonly functionUrls: DocumentStore;
  readonly layers: DocumentStore;
  readonly accounts: DocumentStore;
  readonly accessKeys: DocumentStore;
  readonly workers: DocumentStore;
  readonly clusterSecrets: DocumentStore;
  readonly workerCredentials: DocumentStore;
  readonly assignmentLog: AppendLog;
  readonly eventQueue: SqliteEventQueue;
  readonly logs: SqliteLogStore;
  readonly scheduleGroups: DocumentStore;
  readonly schedules: SqliteScheduleStore;
  private readonly db: Db;
  private readonly elections: LocalElections;

  constructor(path: string, disk?: DiskSpace) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS documents (
        collection TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, revision TEXT NOT NULL,
        PRIMARY KEY (collection, key));
      CREATE TABLE IF NOT EXISTS assignment_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS assignment_snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS election_epochs (name TEXT PRIMARY KEY, epoch INTEGER NOT NULL);
    `);
    const bumpEpoch = this.db.prepare<[string], { epoch: number }>(
      'INSERT INTO election_epochs (name, epoch) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET epoch = epoch + 1 RETURNING epoch',
    );
    this.elections = new LocalElections((name) => bumpEpoch.get(name)!.epoch);
    this.functions = new SqliteDocumentStore(this.db, this.elections, disk, 'functions');
    this.versions = new SqliteDocumentStore(this.db, this.elections, disk, 'versions');
    this.aliases = new SqliteDocumentStore(this.db, this.elections, disk, 'aliases');
    this.functionUrls = new SqliteDocumentStore(this.db, this.elections, disk, 'function-urls');
    this.layers = new SqliteDocumentStore(this.db, this.elections, disk, 'layers');
    this.accounts = new SqliteDocumentStore(this.db, this.elections, disk, 'accounts');
    this.accessKeys = new SqliteDocumentStore(this.db, this.elections, disk, 'access-keys');
    // The platform's own records (small, bounded, needed to start and serve) go ahead on a full disk, in the reserve's room.
    this.workers = new SqliteDocumentStore(this.db, this.elections, disk, 'workers', 'platform');
    this.clusterSecrets = new SqliteDocumentStore(this.db, this.elections, disk, 'cluster-secrets', 'platform');
    this.workerCredentials = new SqliteDocumentStore(this.db, this.elections, disk, 'worker-credentials', 'platform');
    this.assignmentLog = new SqliteAppendLog(this.db, this.elections, disk);
    this.eventQueue = new SqliteEventQueue(path, disk);
    this.scheduleGroups = new SqliteDocumentStore(this.db, this.elections, disk, 'schedule-groups');
    this.schedules = new SqliteScheduleStore(path, disk);
    this.logs = new SqliteLogStore(logsPath(path), disk);
  }

  /** A local election: this process is the only contender; epochs persist across restarts. */
  election(name: string, _ttlMs?: number): LeaderElection {
    return this.elections.election(name);
  }

  async close(): Promise<void> {
    this.eventQueue.close();
    this.schedules.close();
    await this.logs.close();
    this.db.close();
  }
}

class SqliteDocumentStore implements DocumentStore {
  private readonly stmts;
  private readonly listeners = new DocumentListeners();

  /** `records`: 'tenant' documents that grow are admitted by the disk; the 'platform''s own are not refused (written in the reserve's room if need be). */
  constructor(db: Db, private readonly elections: LocalElections, private readonly disk: DiskSpace | undefined, private readonly collection: string, private readonly records: 'tenant' | 'platform' = 'tenant') {
    this.stmts = {
      get: db.prepare<[string, string], RowShape>('SELECT key, value, revision FROM documents WHERE collection = ? AND key = ?'),
      size: db.prepare<[string, string], { n: number }>('SELECT length(value) AS n FROM documents WHERE collection = ? AND key = ?'),
      list: db.prepare<[string], RowShape>('SELECT key, value, revision FROM documents WHERE collection = ? ORDER BY key'),
      create: db.prepare('INSERT OR IGNORE INTO documents (collection, key, value, revision) VALUES (?, ?, ?, ?)'),
      replace: db.prepare('UPDATE documents SET value = ?, revision = ? WHERE collection = ? AND key = ? AND revision = ?'),
      delete: db.prepare('DELETE FROM documents WHERE collection = ? AND key = ?'),
    };
  }

  async get(key: string): Promise<StoredDocument | undefined> {
    const row = this.stmts.get.get(this.collection, key);
    return row && toDocument(row);
  }

  async list(prefix?: string): Promise<StoredDocument[]> {
    const rows = this.stmts.list.all(this.collection);
    return (prefix ? rows.filter((r) => r.key.startsWith(prefix)) : rows).map(toDocument);
  }

  async create(key: string, value: unknown, revision: string, fence?: Leadership): Promise<boolean> {
    this.elections.checkFence(fence);
    const json = JSON.stringify(value);
    // An existing key is no write at all (create-if-absent at start must work on a full disk).
    if (this.disk && this.stmts.size.get(this.collection, key)) return false;
    const run = () => this.stmts.create.run(this.collection, key, json, revision).changes;
    const changes = await (this.records === 'platform' ? writeOrDiskFull(this.disk, run, { retry: true }) : growingWrite(this.disk, json.length, run));
    return this.committed(changes, key, { key, value: json, revision });
  }

  /** A replace that grows a tenant's document is admitted by the disk; one that does not (or a platform record) always goes ahead. */
  async replace(key: string, value: unknown, revision: string, expectedRevision: string, fence?: Leadership): Promise<boolean> {
    this.elections.checkFence(fence);
    const json = JSON.stringify(value);
    const grows = this.records === 'tenant' && json.length > (this.stmts.size.get(this.collection, key)?.n ?? 0);
    const run = () => this.stmts.replace.run(json, revision, this.collection, key, expectedRevision).changes;
    const changes = await (grows ? growingWrite(this.disk, json.length, run) : writeOrDiskFull(this.disk, run, { retry: true }));
    return this.committed(changes, key, { key, value: json, revision });
  }

  async delete(key: string, fence?: Leadership): Promise<boolean> {
    this.elections.checkFence(fence);
    const changes = await writeOrDiskFull(this.disk, () => this.stmts.delete.run(this.collection, key).changes, { retry: true });
    return this.committed(changes, key, undefined);
  }

  async watch(listener: (key: string, doc: StoredDocument | undefined) => void): Promise<() => void> {
    return this.listeners.add(listener);
  }

  private committed(changes: number, key: string, row: RowShape | undefined): boolean {
    if (changes !== 1) return false;
    this.listeners.emit(key, row && toDocument(row));
    return true;
  }
}

interface RowShape {
  key: string;
  value: string;
  revision: string;
}

function toDocument(row: RowShape): StoredDocument {
  return { key: row.key, value: JSON.parse(row.value) as unknown, revision: row.revision };
}

class SqliteAppendLog implements AppendLog {
  private readonly stmts;

  constructor(db: Db, private readonly elections: LocalElections, private readonly disk: DiskSpace | undefined) {
    this.stmts = {
      append: db.prepare('INSERT INTO assignment_log (entry) VALUES (?)'),
      readAfter: db.prepare<[number, number], { seq: number; entry: string }>(
        'SELECT seq, entry FROM assignment_log WHERE seq > ? ORDER BY seq LIMIT ?',
      ),
      snapshot: db.prepare<[], { seq: number; state: string }>('SELECT seq, state FROM assignment_snapshot WHERE id = 1'),
      compact: db.transaction((seq: number, state: string) => {
        db.prepare('INSERT OR REPLACE INTO assignment_snapshot (id, seq, state) VALUES (1, ?, ?)').run(seq, state);
        db.prepare('DELETE FROM assignment_log WHERE seq <= ?').run(seq);
      }),
    };
  }

  async append(entry: unknown, fence?: Leadership): Promise<number> {
    this.elections.checkFence(fence);
    const json = JSON.stringify(entry);
    return Number((await writeOrDiskFull(this.disk, () => this.stmts.append.run(json), { retry: true })).lastInsertRowid);
  }

  async readAfter(afterSeq: number, limit = 1000): Promise<LogEntry[]> {
    return this.stmts.readAfter.all(afterSeq, limit).map((r) => ({ seq: r.seq, entry: JSON.parse(r.entry) as unknown }));
  }

  async readSnapshot(): Promise<LogSnapshot | undefined> {
    const row = this.stmts.snapshot.get();
    return row && { seq: row.seq, state: JSON.parse(row.state) as unknown };
  }

  async compact(snapshot: LogSnapshot, fence?: Leadership): Promise<void> {
    this.elections.checkFence(fence);
    const state = JSON.stringify(snapshot.state);
    await writeOrDiskFull(this.disk, () => this.stmts.compact(snapshot.seq, state), { retry: true });
  }
}

/**
 * Function logs live in a file of their own beside the journal's (`journal.db` → `journal-logs.db`):
 * SQLite has one writer per file, so appends and expiry sweeps never hold up a journal write.
 */
function logsPath(journalPath: string): string {
  return journalPath.replace(/(\.db)?$/, '-logs$1');
}
