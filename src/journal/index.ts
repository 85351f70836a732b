export type { AppendLog, DocumentStore, Journal, LogEntry, StoredDocument } from './journal.js';
export { SqliteJournal } from './sqlite-journal.js';
export { MemoryJournal } from './memory-journal.js';
