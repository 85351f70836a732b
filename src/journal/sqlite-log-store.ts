import Database from 'better-sqlite3';
import { LOG_SCHEMA } from './sqlite-log-append.js';
import { SqliteLogWriter } from './sqlite-log-writer.js';
import { DAY_MS, eventBytes, type LogEventQuery, type LogGroupInfo, type LogStore, type LogStreamInfo, type NewLogEvent, type StoredLogEvent } from './log-store.js';


/** Streams a filtered read merges one by one (each over its own index); more are filtered on the group's time index. */
const maxMergedStreams = 8;
/** Events removed per transaction by expiry, so other writers wait briefly. */
const expireChunk = 2000;
const MIN = Number.MIN_SAFE_INTEGER;
const MAX = Number.MAX_SAFE_INTEGER;

interface GroupRow { id: number; name: string; creation_time: number; retention_days: number | null; stored_bytes: number }
interface StreamRow { id: number; name: string; creation_time: number; first_event: number | null; last_event: number | null; last_ingestion: number | null; stored_bytes: number }
interface EventRow { id: number; stream: string; timestamp: number; ingestion_time: number; message: string }
interface Doomed { id: number; group_id: number; stream_id: number; bytes: number }

/** Between two chunks of a sweep, the event loop serves what waits (the sweep is on the main thread). */
const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Ids are zero-padded so that ordering them as strings orders them as numbers. */
const eventId = (n: number) => String(n).padStart(20, '0');

/**
 * The log store of the SQLite Journal: three tables in a file beside the journal's, on a connection of
 * its own (WAL, synchronous = NORMAL: a process crash loses nothing, a machine crash may lose
 * the last appends). Events are found through (group, timestamp, id) and (stream, timestamp,
 * id) indexes and expired in append order by rowid (one index more would cost every append); a
 * group's and a stream's stored bytes are counters kept in the same transaction as every change
 * of their events. Appends run on a thread of their own; writes run in IMMEDIATE transactions,
 * so two processes sharing the file serialize instead of failing.
 */
export class SqliteLogStore implements LogStore {
  private readonly db: Database.Database;
  /** Appends run on a thread of their own (`sqlite-log-writer.ts`): the invoke path never waits on SQLite. */
  private readonly writer: SqliteLogWriter;
  private readonly q;
  /** The event reads, one statement per shape of query. */
  private readonly selects = new Map<string, Database.Statement<unknown[], EventRow>>();

  constructor(path: string) {
    this.db = new Database(path, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(LOG_SCHEMA);
    this.writer = new SqliteLogWriter(path);
    const db = this.db;
    this.q = {
      group: db.prepare<[string, string], GroupRow>('SELECT id, name, creation_time, retention_days, stored_bytes FROM log_groups WHERE account = ? AND name = ?'),
      groups: db.prepare<[string, string, string], GroupRow>(
        "SELECT id, name, creation_time, retention_days, stored_bytes FROM log_groups WHERE account = ? AND substr(name, 1, length(?)) = ? ORDER BY name",
      ),
      addGroup: db.prepare('INSERT INTO log_groups (account, name, creation_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      stream: db.prepare<[number, string], { id: number }>('SELECT id FROM log_streams WHERE group_id = ? AND name = ?'),
      streams: db.prepare<[number], StreamRow>(
        'SELECT id, name, creation_time, first_event, last_event, last_ingestion, stored_bytes FROM log_streams WHERE group_id = ? ORDER BY name',
      ),
      addStream: db.prepare('INSERT INTO log_streams (group_id, name, creation_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      grewGroup: db.prepare('UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE id = ?'),
      shrankStream: db.prepare('UPDATE log_streams SET stored_bytes = stored_bytes - ? WHERE id = ?'),
      retention: db.prepare('UPDATE log_groups SET retention_days = ? WHERE account = ? AND name = ?'),
      deleteEvent: db.prepare('DELETE FROM log_events WHERE id = ?'),
      deleteGroupEvents: db.prepare('DELETE FROM log_events WHERE group_id = ?'),
      deleteGroupStreams: db.prepare('DELETE FROM log_streams WHERE group_id = ?'),
      deleteGroup: db.prepare('DELETE FROM log_groups WHERE id = ?'),
      deleteStreamEvents: db.prepare('DELETE FROM log_events WHERE stream_id = ?'),
      deleteStream: db.prepare('DELETE FROM log_streams WHERE id = ?'),
      retained: db.prepare<[], { id: number; retention_days: number }>('SELECT id, retention_days FROM log_groups WHERE retention_days IS NOT NULL'),
      tooOld: db.prepare<[number, number, number], Doomed>(
        'SELECT id, group_id, stream_id, bytes FROM log_events WHERE group_id = ? AND timestamp < ? ORDER BY timestamp LIMIT ?',
      ),
      accountsOver: db.prepare<[number], { account: string; total: number }>(
        'SELECT account, sum(stored_bytes) AS total FROM log_groups GROUP BY account HAVING total > ?',
      ),
      // In append order: the table itself, read by rowid (an index more would cost every append).
      oldestOf: db.prepare<[string, number], Doomed>(
        'SELECT id, group_id, stream_id, bytes FROM log_events NOT INDEXED WHERE group_id IN (SELECT id FROM log_groups WHERE account = ?) ORDER BY id LIMIT ?',
      ),
    };
  }

  async createGroup(accountId: string, group: string, nowMs: number): Promise<boolean> {
    return this.q.addGroup.run(accountId, group, nowMs).changes === 1;
  }

  append(accountId: string, group: string, stream: string, events: NewLogEvent[], ingestionTimeMs: number): Promise<void> {
    return this.writer.append(accountId, group, stream, events, ingestionTimeMs);
  }

  async groups(accountId: string, namePrefix = ''): Promise<LogGroupInfo[]> {
    return this.q.groups.all(accountId, namePrefix, namePrefix).map((g) => ({
      name: g.name, creationTime: g.creation_time, storedBytes: g.stored_bytes, ...(g.retention_days === null ? {} : { retentionInDays: g.retention_days }),
    }));
  }

  async streams(accountId: string, group: string): Promise<LogStreamInfo[] | undefined> {
    const g = this.q.group.get(accountId, group);
    return g && this.q.streams.all(g.id).map(toStreamInfo);
  }

  async events(accountId: string, group: string, q: LogEventQuery): Promise<StoredLogEvent[] | undefined> {
    const read = this.db.transaction(() => {
      const g = this.q.group.get(accountId, group);
      if (!g) return undefined;
      if (q.limit <= 0) return [];
      const filtered = q.streams !== undefined || q.streamPrefix !== undefined;
      if (!filtered) return this.select('e.group_id = ?', [g.id], q, 'log_events_by_time');
      const ids = this.q.streams.all(g.id)
        .filter((s) => (q.streams === undefined || q.streams.includes(s.name)) && (q.streamPrefix === undefined || s.name.startsWith(q.streamPrefix)))
        .map((s) => s.id);
      if (ids.length > maxMergedStreams) return this.select('e.group_id = ? AND e.stream_id IN (SELECT value FROM json_each(?))', [g.id, JSON.stringify(ids)], q, 'log_events_by_time');
      const pages = ids.map((id) => this.select('e.stream_id = ?', [id], q, 'log_events_by_stream'));
      const sign = q.descending ? -1 : 1;
      return pages.flat().sort((a, b) => sign * (a.timestamp - b.timestamp || a.id - b.id)).slice(0, q.limit);
    });
    return read()?.map((e) => ({ id: eventId(e.id), stream: e.stream, timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestion_time }));
  }

  async setRetention(accountId: string, group: string, days: number | undefined): Promise<boolean> {
    return this.q.retention.run(days ?? null, accountId, group).changes === 1;
  }

  async deleteGroup(accountId: string, group: string): Promise<boolean> {
    const remove = this.db.transaction(() => {
      const g = this.q.group.get(accountId, group);
      if (!g) return false;
      this.q.deleteGroupEvents.run(g.id);
      this.q.deleteGroupStreams.run(g.id);
      this.q.deleteGroup.run(g.id);
      return true;
    });
    return remove.immediate();
  }

  async deleteStream(accountId: string, group: string, stream: string): Promise<boolean> {
    const remove = this.db.transaction(() => {
      const g = this.q.group.get(accountId, group);
      const s = g && this.q.streams.all(g.id).find((row) => row.name === stream);
      if (!g || !s) return false;
      this.q.deleteStreamEvents.run(s.id);
      this.q.deleteStream.run(s.id);
      this.q.grewGroup.run(-s.stored_bytes, g.id);
      return true;
    });
    return remove.immediate();
  }

  async expire(nowMs: number, maxBytesPerAccount: number): Promise<number> {
    let removed = 0;
    for (const g of this.q.retained.all()) {
      const cutoff = nowMs - g.retention_days * DAY_MS;
      for (;;) {
        const doomed = this.db.transaction(() => this.remove(this.q.tooOld.all(g.id, cutoff, expireChunk))).immediate();
        removed += doomed.bytes;
        if (doomed.count < expireChunk) break;
        await yieldTurn();
      }
    }
    for (let progress = true; progress;) {
      progress = false;
      for (const { account, total } of this.q.accountsOver.all(maxBytesPerAccount)) {
        const bytes = this.db.transaction(() => this.trimAccount(account, total - maxBytesPerAccount)).immediate();
        removed += bytes;
        progress ||= bytes > 0;
        await yieldTurn();
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    await this.writer.close();
    this.db.close();
  }

  /**
   * The WHERE clause `where` (over `e`) with the query's time window and cursor, in the query's
   * order, at most `limit`, read through `index`.
   */
  private select(where: string, args: unknown[], q: LogEventQuery, index: string): EventRow[] {
    const desc = q.descending === true;
    const after = q.after ? [q.after.timestamp, Number(q.after.id)] : desc ? [MAX, MAX] : [MIN, MIN];
    const sql = `SELECT e.id, s.name AS stream, e.timestamp, e.ingestion_time, e.message
      FROM log_events e INDEXED BY ${index} JOIN log_streams s ON s.id = e.stream_id
      WHERE ${where} AND e.timestamp >= ? AND e.timestamp < ? AND (e.timestamp, e.id) ${desc ? '<' : '>'} (?, ?)
      ORDER BY e.timestamp ${desc ? 'DESC' : ''}, e.id ${desc ? 'DESC' : ''} LIMIT ?`;
    let stmt = this.selects.get(sql);
    if (!stmt) this.selects.set(sql, (stmt = this.db.prepare<unknown[], EventRow>(sql)));
    return stmt.all(...args, q.startTime ?? MIN, q.endTime ?? MAX, ...after, q.limit);
  }

  /**
   * Removes (in the open transaction) the account's earliest-appended events until at least
   * `excess` bytes are gone (at most one chunk); resolves the bytes removed.
   */
  private trimAccount(account: string, excess: number): number {
    const candidates = this.q.oldestOf.all(account, expireChunk);
    const doomed: Doomed[] = [];
    let bytes = 0;
    for (const r of candidates) {
      if (bytes >= excess) break;
      doomed.push(r);
      bytes += r.bytes;
    }
    return this.remove(doomed).bytes;
  }

  /** Deletes these events (in the open transaction), keeping the counters true. */
  private remove(doomed: Doomed[]): { count: number; bytes: number } {
    const byStream = new Map<number, number>();
    const byGroup = new Map<number, number>();
    let bytes = 0;
    for (const d of doomed) {
      this.q.deleteEvent.run(d.id);
      byStream.set(d.stream_id, (byStream.get(d.stream_id) ?? 0) + d.bytes);
      byGroup.set(d.group_id, (byGroup.get(d.group_id) ?? 0) + d.bytes);
      bytes += d.bytes;
    }
    for (const [id, n] of byStream) this.q.shrankStream.run(n, id);
    for (const [id, n] of byGroup) this.q.grewGroup.run(-n, id);
    return { count: doomed.length, bytes };
  }
}

function toStreamInfo(s: StreamRow): LogStreamInfo {
  return {
    name: s.name, creationTime: s.creation_time, storedBytes: s.stored_bytes,
    ...(s.first_event === null ? {} : { firstEventTimestamp: s.first_event }),
    ...(s.last_event === null ? {} : { lastEventTimestamp: s.last_event }),
    ...(s.last_ingestion === null ? {} : { lastIngestionTime: s.last_ingestion }),
  };
}
