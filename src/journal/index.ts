export type {
  AppendLog, Candidate, DocumentStore, Journal, LeaderElection, Leadership, LeadershipStanding, LogEntry, LogSnapshot, StoredDocument,
} from './journal.js';
export { SqliteJournal } from './sqlite-journal.js';
export { MemoryJournal } from './memory-journal.js';
export { EtcdJournal, type EtcdJournalOptions } from './etcd-journal.js';
