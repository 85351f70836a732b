export type {
  AppendLog, Candidate, ClaimedEvent, DocumentStore, EventQueue, Journal, LeaderElection, Leadership, LeadershipStanding, LogEntry, LogSnapshot,
  QueuedEvent, StoredDocument,
} from './journal.js';
export { SqliteJournal } from './sqlite-journal.js';
export { MemoryJournal } from './memory-journal.js';
export { EtcdJournal, type EtcdJournalOptions } from './etcd-journal.js';
