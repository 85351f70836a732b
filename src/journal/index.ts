export type {
  AppendLog, Candidate, ClaimedEvent, DocumentStore, EventQueue, Journal, LeaderElection, Leadership, LeadershipStanding, LogEntry, LogSnapshot,
  QueuedEvent, ScheduleStore, ScheduleWrite, StoredDocument, StoredSchedule,
} from './journal.js';
export { SqliteJournal } from './sqlite-journal.js';
export { MemoryJournal } from './memory-journal.js';
export { EtcdJournal, type EtcdJournalOptions } from './etcd-journal.js';
export type { LogAppend, LogEventQuery, LogGroupInfo, LogStore, LogStreamInfo, NewLogEvent, StoredLogEvent } from './log-store.js';
export { DAY_MS, eventBytes, EVENT_OVERHEAD_BYTES } from './log-store.js';
export { MemoryLogStore } from './memory-log-store.js';
export { installationSecret } from './installation-secret.js';
export { writeOver } from './write-over.js';
export { checkSqliteFile, snapshotSqlite, sqliteJournalDocuments } from './sqlite-backup.js';
export { Campaigner, type CampaignerDeps } from './campaigner.js';
