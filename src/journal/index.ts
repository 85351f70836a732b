export type { AppendLog, ClaimedEvent, DocumentStore, EventQueue, Journal, LogEntry, QueuedEvent, StoredDocument } from './journal.js';
export { SqliteJournal } from './sqlite-journal.js';
export { MemoryJournal } from './memory-journal.js';
