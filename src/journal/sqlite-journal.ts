import Database from 'better-sqlite3';
import type { AppendLog, DocumentStore, Journal, LogEntry, StoredDocument } from './journal.js';
import { SqliteEventQueue } from './sqlite-event-queue.js';

type Db = Database.Database;

/** The single-machine Journal: one SQLite file (WAL) under the data directory. */
export class SqliteJournal implements Journal {
  readonly functions: DocumentStore;
  readonly versions: DocumentStore;
  readonly aliases: DocumentStore;
  readonly functionUrls: DocumentStore;
  readonly assignmentLog: AppendLog;
  readonly eventQueue: SqliteEventQueue;
  private readonly db: Db;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS documents (
        collection TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, revision TEXT NOT NULL,
        PRIMARY KEY (collection, key));
      CREATE TABLE IF NOT EXISTS assignment_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL);
    `);
    this.functions = new SqliteDocumentStore(this.db, 'functions');
    this.versions = new SqliteDocumentStore(this.db, 'versions');
    this.aliases = new SqliteDocumentStore(this.db, 'aliases');
    this.functionUrls = new SqliteDocumentStore(this.db, 'function-urls');
    this.assignmentLog = new SqliteAppendLog(this.db);
    this.eventQueue = new SqliteEventQueue(path);
  }

  async close(): Promise<void> {
    this.eventQueue.close();
    this.db.close();
  }
}

class SqliteDocumentStore implements DocumentStore {
  private readonly stmts;

  constructor(db: Db, private readonly collection: string) {
    this.stmts = {
      get: db.prepare<[string, string], RowShape>('SELECT key, value, revision FROM documents WHERE collection = ? AND key = ?'),
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

  async list(): Promise<StoredDocument[]> {
    return this.stmts.list.all(this.collection).map(toDocument);
  }

  async create(key: string, value: unknown, revision: string): Promise<boolean> {
    return this.stmts.create.run(this.collection, key, JSON.stringify(value), revision).changes === 1;
  }

  async replace(key: string, value: unknown, revision: string, expectedRevision: string): Promise<boolean> {
    const result = this.stmts.replace.run(JSON.stringify(value), revision, this.collection, key, expectedRevision);
    return result.changes === 1;
  }

  async delete(key: string): Promise<boolean> {
    return this.stmts.delete.run(this.collection, key).changes === 1;
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

  constructor(db: Db) {
    this.stmts = {
      append: db.prepare('INSERT INTO assignment_log (entry) VALUES (?)'),
      readAfter: db.prepare<[number, number], { seq: number; entry: string }>(
        'SELECT seq, entry FROM assignment_log WHERE seq > ? ORDER BY seq LIMIT ?',
      ),
      truncate: db.prepare('DELETE FROM assignment_log WHERE seq <= ?'),
    };
  }

  async append(entry: unknown): Promise<number> {
    return Number(this.stmts.append.run(JSON.stringify(entry)).lastInsertRowid);
  }

  async readAfter(afterSeq: number, limit = 1000): Promise<LogEntry[]> {
    return this.stmts.readAfter.all(afterSeq, limit).map((r) => ({ seq: r.seq, entry: JSON.parse(r.entry) as unknown }));
  }

  async truncate(uptoSeq: number): Promise<void> {
    this.stmts.truncate.run(uptoSeq);
  }
}
