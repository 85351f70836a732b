import type Database from 'better-sqlite3';
import type { BatchEvent } from './log-batches.js';
import { eventBytes } from './log-store.js';

/**
 * A stored batch holds consecutive events of one append to one stream within one minute of
 * timestamps (its events span less than this), so a read by time window finds batches by their
 * earliest event, and batch ids follow the append order.
 */
export const BATCH_SPAN_MS = 60_000;

/** The start of the span `timestamp` falls in (for negative timestamps too). */
const spanOf = (timestamp: number) => timestamp - (((timestamp % BATCH_SPAN_MS) + BATCH_SPAN_MS) % BATCH_SPAN_MS);

/** The log store's tables in their SQLite file (see `sqlite-log-store.ts`). */
export const LOG_SCHEMA = `
  CREATE TABLE IF NOT EXISTS log_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, name TEXT NOT NULL, creation_time INTEGER NOT NULL,
    retention_days INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (account, name));
  CREATE TABLE IF NOT EXISTS log_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT, group_id INTEGER NOT NULL, name TEXT NOT NULL, creation_time INTEGER NOT NULL,
    first_event INTEGER, last_event INTEGER, last_ingestion INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (group_id, name));
  CREATE TABLE IF NOT EXISTS log_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, group_id INTEGER NOT NULL, stream_id INTEGER NOT NULL,
    lo INTEGER NOT NULL, hi INTEGER NOT NULL, ingestion_time INTEGER NOT NULL, bytes INTEGER NOT NULL, events TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS log_batches_by_time ON log_batches (group_id, lo, hi);
  CREATE INDEX IF NOT EXISTS log_batches_by_stream ON log_batches (stream_id, lo, hi);
  CREATE INDEX IF NOT EXISTS log_batches_by_time_desc ON log_batches (group_id, hi, lo);
  CREATE INDEX IF NOT EXISTS log_batches_by_stream_desc ON log_batches (stream_id, hi, lo);
`;

/**
 * Creates the tables, and moves the events of a file written before batches (a row per event,
 * in `log_events`) into batches as an append makes them, ids kept in order.
 */
export function createLogTables(db: Database.Database): void {
  db.exec(LOG_SCHEMA);
  const span = BATCH_SPAN_MS;
  const bucket = `(timestamp - (((timestamp % ${span}) + ${span}) % ${span}))`;
  db.transaction(() => {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_events'").get()) return;
    // A run: a stream's consecutive events (by id) in one minute.
    db.exec(`WITH spans AS (SELECT *, ${bucket} AS span FROM log_events),
        starts AS (SELECT *, CASE WHEN span = lag(span) OVER (PARTITION BY stream_id ORDER BY id) THEN 0 ELSE 1 END AS starts FROM spans),
        runs AS (SELECT *, sum(starts) OVER (PARTITION BY stream_id ORDER BY id) AS run FROM starts)
      INSERT INTO log_batches (group_id, stream_id, lo, hi, ingestion_time, bytes, events)
      SELECT group_id, stream_id, min(timestamp), max(timestamp), max(ingestion_time), sum(bytes), json_group_array(json_array(n, timestamp, message))
      FROM (SELECT *, row_number() OVER (PARTITION BY stream_id, run ORDER BY id) - 1 AS n FROM runs ORDER BY id)
      GROUP BY stream_id, run ORDER BY min(id);
      DROP TABLE log_events;`);
  }).immediate();
}

/**
 * One stream's events as the writer thread gets them: a column of messages and one of
 * timestamps (two arrays clone at half the cost of an object per event, and the thread builds
 * its batches from them without an object per event either).
 */
export type PackedAppend = [accountId: string, group: string, stream: string, messages: string[], timestamps: number[]];

/** Why the store refused one append for good (what its events hold, not the store's state). */
export interface AppendRefusal {
  message: string;
  code?: string;
}

/** Stores a shipment's appends; resolves, per append, undefined (stored) or its refusal. Throws when none could be stored (busy, disk full…). */
export type AppendLogEvents = (appends: PackedAppend[], ingestionTimeMs: number) => (AppendRefusal | undefined)[];

/**
 * An error that refuses one append for good: a constraint (a trigger's RAISE, say), a value
 * SQLite cannot hold, or a JavaScript error building its rows. Any other (SQLITE_BUSY, FULL,
 * IOERR…) is the store's state, not the append's: the whole shipment fails and is retried.
 */
function refusesAppend(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return err instanceof Error;
  return /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE)/.test(code);
}

/**
 * Appends of a shipment as one IMMEDIATE transaction on `db`: for each, the group and the stream
 * made if need be, the events inserted as batches (a new one wherever the minute of the
 * timestamps changes), and the stream's and group's counters grown. Each append runs in a
 * savepoint of its own: one refused for good (`refusesAppend`) is rolled back alone and answered
 * with its refusal, the others are committed; any other error rolls back the whole shipment.
 */
export function logAppender(db: Database.Database): AppendLogEvents {
  const q = {
    addGroup: db.prepare('INSERT INTO log_groups (account, name, creation_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    group: db.prepare<[string, string], { id: number }>('SELECT id FROM log_groups WHERE account = ? AND name = ?'),
    addStream: db.prepare('INSERT INTO log_streams (group_id, name, creation_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    stream: db.prepare<[number, string], { id: number }>('SELECT id FROM log_streams WHERE group_id = ? AND name = ?'),
    addBatch: db.prepare('INSERT INTO log_batches (group_id, stream_id, lo, hi, ingestion_time, bytes, events) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    grewStream: db.prepare(`UPDATE log_streams SET stored_bytes = stored_bytes + ?, last_ingestion = ?,
      first_event = min(coalesce(first_event, ?), ?), last_event = max(coalesce(last_event, ?), ?) WHERE id = ?`),
    grewGroup: db.prepare('UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE id = ?'),
  };
  const appendOne = ([accountId, group, stream, messages, timestamps]: PackedAppend, ingestionTimeMs: number) => {
    q.addGroup.run(accountId, group, ingestionTimeMs);
    const groupId = q.group.get(accountId, group)!.id;
    q.addStream.run(groupId, stream, ingestionTimeMs);
    const streamId = q.stream.get(groupId, stream)!.id;
    let total = 0;
    let first = Number.MAX_SAFE_INTEGER;
    let last = Number.MIN_SAFE_INTEGER;
    // Runs of events within one minute of timestamps, each a batch.
    for (let from = 0; from < messages.length;) {
      const span = spanOf(timestamps[from]!);
      const ev: BatchEvent[] = [];
      let lo = Number.MAX_SAFE_INTEGER;
      let hi = Number.MIN_SAFE_INTEGER;
      let bytes = 0;
      for (let i = from; i < messages.length && spanOf(timestamps[i]!) === span; i++) {
        const timestamp = timestamps[i]!, message = messages[i]!;
        ev.push([i, timestamp, message]);
        lo = Math.min(lo, timestamp);
        hi = Math.max(hi, timestamp);
        bytes += eventBytes(message);
      }
      from += ev.length;
      q.addBatch.run(groupId, streamId, lo, hi, ingestionTimeMs, bytes, JSON.stringify(ev));
      total += bytes;
      first = Math.min(first, lo);
      last = Math.max(last, hi);
    }
    if (messages.length === 0) return;
    q.grewStream.run(total, ingestionTimeMs, first, first, last, last, streamId);
    q.grewGroup.run(total, groupId);
  };
  // Called within `write`, a transaction function runs in a savepoint (better-sqlite3 nests them so).
  const saved = db.transaction(appendOne);
  const write = db.transaction((appends: PackedAppend[], ingestionTimeMs: number) => appends.map((a): AppendRefusal | undefined => {
    try {
      saved(a, ingestionTimeMs);
      return undefined;
    } catch (err) {
      if (!refusesAppend(err) || !db.inTransaction) throw err;
      const code = (err as { code?: unknown }).code;
      return { message: (err as Error).message, ...(typeof code === 'string' ? { code } : {}) };
    }
  }));
  return (appends, ingestionTimeMs) => write.immediate(appends, ingestionTimeMs);
}
