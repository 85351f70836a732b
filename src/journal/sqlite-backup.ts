import Database from 'better-sqlite3';
import type { StoredDocument } from './journal.js';
import { StratusError } from '../shared/errors.js';

/** The most pages SQLite's backup step takes: all of them, in one read transaction. */
const ALL_PAGES = 0x7fffffff;

/**
 * Copies the SQLite database at `source` (the journal, or its logs file) to `dest` while other
 * processes go on writing it: SQLite's online backup, in one step so the copy is one consistent
 * state (a write by another connection between steps would restart it). The copy is left in
 * rollback-journal mode, one self-contained file, and checked before it is returned.
 */
export async function snapshotSqlite(source: string, dest: string): Promise<void> {
  const db = new Database(source, { fileMustExist: true, timeout: 10_000 });
  try {
    await db.backup(dest, { progress: () => ALL_PAGES });
  } finally {
    db.close();
  }
  const copy = new Database(dest, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new StratusError('Internal', `the copy of ${source} is damaged: ${String(check)}`);
  } finally {
    copy.close();
  }
}

/** Every document of a SQLite journal file (a snapshot, opened read-only), by collection. */
export function sqliteJournalDocuments(path: string): Map<string, StoredDocument[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare<[], { collection: string; key: string; value: string; revision: string }>('SELECT collection, key, value, revision FROM documents').all();
    const documents = new Map<string, StoredDocument[]>();
    for (const r of rows) documents.set(r.collection, [...(documents.get(r.collection) ?? []), { key: r.key, value: JSON.parse(r.value) as unknown, revision: r.revision }]);
    return documents;
  } finally {
    db.close();
  }
}

/** Checks that `path` is a sound SQLite database (a restored journal or logs file). */
export function checkSqliteFile(path: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new StratusError('InvalidParameterValue', `${path} is not a sound SQLite database: ${String(check)}`);
  } catch (err) {
    if (err instanceof StratusError) throw err;
    throw new StratusError('InvalidParameterValue', `${path} is not a SQLite database: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    db?.close();
  }
}
