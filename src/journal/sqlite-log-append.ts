import type Database from 'better-sqlite3';
import { eventBytes, type NewLogEvent } from './log-store.js';

/** The log store's tables in the journal's SQLite file (see `sqlite-log-store.ts`). */
export const LOG_SCHEMA = `
  CREATE TABLE IF NOT EXISTS log_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, name TEXT NOT NULL, creation_time INTEGER NOT NULL,
    retention_days INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (account, name));
  CREATE TABLE IF NOT EXISTS log_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT, group_id INTEGER NOT NULL, name TEXT NOT NULL, creation_time INTEGER NOT NULL,
    first_event INTEGER, last_event INTEGER, last_ingestion INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (group_id, name));
  CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, group_id INTEGER NOT NULL, stream_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL, ingestion_time INTEGER NOT NULL, message TEXT NOT NULL, bytes INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS log_events_by_time ON log_events (group_id, timestamp, id);
  CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream_id, timestamp, id);
  DROP INDEX IF EXISTS log_events_by_append;
`;

export type AppendLogEvents = (accountId: string, group: string, stream: string, events: NewLogEvent[], ingestionTimeMs: number) => void;

/**
 * An append of events to a stream as one IMMEDIATE transaction on `db`: the group and the
 * stream made if need be, the events inserted, and the stream's and group's counters grown.
 */
export function logAppender(db: Database.Database): AppendLogEvents {
  const q = {
    addGroup: db.prepare('INSERT INTO log_groups (account, name, creation_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    group: db.prepare<[string, string], { id: number }>('SELECT id FROM log_groups WHERE account = ? AND name = ?'),
    addStream: db.prepare('INSERT INTO log_streams (group_id, name, creation_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    stream: db.prepare<[number, string], { id: number }>('SELECT id FROM log_streams WHERE group_id = ? AND name = ?'),
    addEvent: db.prepare('INSERT INTO log_events (group_id, stream_id, timestamp, ingestion_time, message, bytes) VALUES (?, ?, ?, ?, ?, ?)'),
    grewStream: db.prepare(`UPDATE log_streams SET stored_bytes = stored_bytes + ?, last_ingestion = ?,
      first_event = min(coalesce(first_event, ?), ?), last_event = max(coalesce(last_event, ?), ?) WHERE id = ?`),
    grewGroup: db.prepare('UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE id = ?'),
  };
  const write = db.transaction((accountId: string, group: string, stream: string, events: NewLogEvent[], ingestionTimeMs: number) => {
    q.addGroup.run(accountId, group, ingestionTimeMs);
    const groupId = q.group.get(accountId, group)!.id;
    q.addStream.run(groupId, stream, ingestionTimeMs);
    const streamId = q.stream.get(groupId, stream)!.id;
    if (events.length === 0) return;
    let bytes = 0;
    let first = Number.MAX_SAFE_INTEGER;
    let last = Number.MIN_SAFE_INTEGER;
    for (const e of events) {
      const size = eventBytes(e.message);
      q.addEvent.run(groupId, streamId, e.timestamp, ingestionTimeMs, e.message, size);
      bytes += size;
      first = Math.min(first, e.timestamp);
      last = Math.max(last, e.timestamp);
    }
    q.grewStream.run(bytes, ingestionTimeMs, first, first, last, last, streamId);
    q.grewGroup.run(bytes, groupId);
  });
  return (...args) => write.immediate(...args);
}
