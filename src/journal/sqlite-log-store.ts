import Database from 'better-sqlite3';
import { diskFullError, growingWrite, writeOrDiskFull, type DiskSpace } from '../shared/disk-space.js';
import { StratusError } from '../shared/errors.js';
import { BatchPage, batchBytes, batchEvents, earliest, timeRange, type BatchEvent } from './log-batches.js';
import { BATCH_SPAN_MS, createLogTables } from './sqlite-log-append.js';
import { SqliteLogWriter } from './sqlite-log-writer.js';
import { DAY_MS, type LogAppend, type LogEventQuery, type LogGroupInfo, type LogStore, type LogStreamInfo, type NewLogEvent, type StoredLogEvent } from './log-store.js';

/** Streams a filtered read takes one by one (each over its own index); more are filtered on the group's time index. */
const maxMergedStreams = 8;
/** Batches removed or rewritten per transaction by expiry, so other writers wait briefly. */
const expireChunk = 100;
const MIN = Number.MIN_SAFE_INTEGER;
const MAX = Number.MAX_SAFE_INTEGER;

interface GroupRow { id: number; name: string; creation_time: number; retention_days: number | null; stored_bytes: number }
interface StreamRow { id: number; name: string; creation_time: number; first_event: number | null; last_event: number | null; last_ingestion: number | null; stored_bytes: number }
/** A batch as a read takes it: `bound` is its earliest timestamp (latest, descending). */
interface BatchRow { id: number; stream: string; bound: number; ingestion_time: number; events: string }
interface Doomed { id: number; group_id: number; stream_id: number; bytes: number; events: string }

/** Between two chunks of a sweep, the event loop serves what waits (the sweep is on the main thread). */
const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The log store of the SQLite Journal: three tables in a file beside the journal's, on a
 * connection of its own (WAL, synchronous = NORMAL: a process crash loses nothing, a machine
 * crash may lose the last appends). Events are stored a batch per row (`log-batches.ts`): what
 * one append brought to one stream within one minute of timestamps, as JSON, so an append costs
 * a row per batch rather than per event. Batches are found through (group, earliest timestamp)
 * and (stream, earliest timestamp) indexes and expired in append order by rowid; a group's and
 * a stream's stored bytes are counters kept in the same transaction as every change of their
 * events. Appends run on a thread of their own; writes run in IMMEDIATE transactions, so two
 * processes sharing the file serialize instead of failing.
 */
export class SqliteLogStore implements LogStore {
  private readonly db: Database.Database;
  /** Appends run on a thread of their own (`sqlite-log-writer.ts`): the invoke path never waits on SQLite. */
  private readonly writer: SqliteLogWriter;
  private readonly q;
  /** The batch reads, one statement per shape of query. */
  private readonly selects = new Map<string, Database.Statement<unknown[], BatchRow>>();

  /** `disk`: while it is full, appends are refused at once (DiskFull, which the ingest drops and counts), so logs never take the room kept for deletes. */
  constructor(path: string, private readonly disk?: DiskSpace) {
    this.db = new Database(path, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    createLogTables(this.db);
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
      deleteBatch: db.prepare('DELETE FROM log_batches WHERE id = ?'),
      rewriteBatch: db.prepare('UPDATE log_batches SET lo = ?, hi = ?, bytes = ?, events = ? WHERE id = ?'),
      deleteGroupEvents: db.prepare('DELETE FROM log_batches WHERE group_id = ?'),
      deleteGroupStreams: db.prepare('DELETE FROM log_streams WHERE group_id = ?'),
      deleteGroup: db.prepare('DELETE FROM log_groups WHERE id = ?'),
      deleteStreamEvents: db.prepare('DELETE FROM log_batches WHERE stream_id = ?'),
      deleteStream: db.prepare('DELETE FROM log_streams WHERE id = ?'),
      retained: db.prepare<[], { id: number; retention_days: number }>('SELECT id, retention_days FROM log_groups WHERE retention_days IS NOT NULL'),
      tooOld: db.prepare<[number, number, number], Doomed>(
        'SELECT id, group_id, stream_id, bytes, events FROM log_batches WHERE group_id = ? AND lo < ? ORDER BY lo LIMIT ?',
      ),
      accountsOver: db.prepare<[number], { account: string; total: number }>(
        'SELECT account, sum(stored_bytes) AS total FROM log_groups GROUP BY account HAVING total > ?',
      ),
      // In append order: the table itself, read by rowid (an index more would cost every append).
      oldestOf: db.prepare<[string, number], Doomed>(
        'SELECT id, group_id, stream_id, bytes, events FROM log_batches NOT INDEXED WHERE group_id IN (SELECT id FROM log_groups WHERE account = ?) ORDER BY id LIMIT ?',
      ),
    };
  }

  async createGroup(accountId: string, group: string, nowMs: number): Promise<boolean> {
    return (await growingWrite(this.disk, 0, () => this.q.addGroup.run(accountId, group, nowMs))).changes === 1;
  }

  async append(accountId: string, group: string, stream: string, events: NewLogEvent[], ingestionTimeMs: number): Promise<void> {
    const [answer] = await this.appendAll([{ accountId, group, stream, events }], ingestionTimeMs);
    if (answer) throw answer;
  }

  /**
   * One message to the writer thread, one transaction: every append is stored, or none (each then
   * answered with the error), except that an append refused for good (a constraint, a value
   * SQLite cannot hold) is rolled back alone, in a savepoint, and answered with a StratusError
   * that is not retryable while the others are stored. The events are posted at once and not
   * kept while the thread works.
   */
  appendAll(appends: LogAppend[], ingestionTimeMs: number): Promise<(Error | undefined)[]> {
    const n = appends.length;
    const answer = (error: Error | undefined) => new Array<Error | undefined>(n).fill(error);
    if (this.disk?.full) return Promise.resolve(answer(diskFullError()));
    const posted = this.writer.append(appends, ingestionTimeMs);
    return writeOrDiskFull(this.disk, () => posted).then(
      (refused) => appends.map(({ accountId, group, stream }, i) => {
        const r = refused[i];
        return r && new StratusError('Internal', `the log store refused the events for ${group}/${stream} of account ${accountId}: ${r.message}`, { details: r.code ? { sqlite: r.code } : {} });
      }),
      (err: unknown) => answer(err instanceof Error ? err : new Error(String(err))),
    );
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
      const page = new BatchPage(q);
      if (q.limit <= 0) return [];
      const filtered = q.streams !== undefined || q.streamPrefix !== undefined;
      if (!filtered) this.fill(page, 'b.group_id = ?', [g.id], q, 'log_batches_by_time');
      else {
        const ids = this.q.streams.all(g.id)
          .filter((s) => (q.streams === undefined || q.streams.includes(s.name)) && (q.streamPrefix === undefined || s.name.startsWith(q.streamPrefix)))
          .map((s) => s.id);
        if (ids.length > maxMergedStreams) this.fill(page, 'b.group_id = ? AND b.stream_id IN (SELECT value FROM json_each(?))', [g.id, JSON.stringify(ids)], q, 'log_batches_by_time');
        else for (const id of ids) this.fill(page, 'b.stream_id = ?', [id], q, 'log_batches_by_stream');
      }
      return page.events();
    });
    return read();
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
    return writeOrDiskFull(this.disk, () => remove.immediate(), { retry: true });
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
    return writeOrDiskFull(this.disk, () => remove.immediate(), { retry: true });
  }

  async expire(nowMs: number, maxBytesPerAccount: number): Promise<number> {
    let removed = 0;
    for (const g of this.q.retained.all()) {
      const cutoff = nowMs - g.retention_days * DAY_MS;
      for (;;) {
        const batches = this.db.transaction(() => {
          const rows = this.q.tooOld.all(g.id, cutoff, expireChunk);
          removed += this.remove(rows.map((row) => ({ row, pick: (ev) => ev.filter((e) => e[1] < cutoff) })));
          return rows.length;
        }).immediate();
        if (batches < expireChunk) break;
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
   * Offers `page` the batches the WHERE clause `where` (over `b`) selects that may hold events
   * of the query's time window after its cursor, in the query's order: ascending by their
   * earliest event, descending by their latest, each read through `index` (or its `_desc` twin),
   * which holds both ends, so a batch outside the window is passed over without reading it. The
   * page stops the read once no further batch can change it. A batch's events span less than
   * BATCH_SPAN_MS, which bounds where a batch holding the window's first (last) events may start
   * (end).
   */
  private fill(page: BatchPage, where: string, args: unknown[], q: LogEventQuery, index: string): void {
    const desc = q.descending === true;
    const from = Math.max(q.startTime ?? MIN, q.after && !desc ? q.after.timestamp : MIN);
    const to = Math.min(q.endTime ?? MAX, q.after && desc ? q.after.timestamp + 1 : MAX);
    const sql = desc
      ? `SELECT b.id, s.name AS stream, b.hi AS bound, b.ingestion_time, b.events
        FROM log_batches b INDEXED BY ${index}_desc JOIN log_streams s ON s.id = b.stream_id
        WHERE ${where} AND b.hi < ? AND b.hi >= ? AND b.lo < ? ORDER BY b.hi DESC, b.id DESC`
      : `SELECT b.id, s.name AS stream, b.lo AS bound, b.ingestion_time, b.events
        FROM log_batches b INDEXED BY ${index} JOIN log_streams s ON s.id = b.stream_id
        WHERE ${where} AND b.lo > ? AND b.lo < ? AND b.hi >= ? ORDER BY b.lo, b.id`;
    const bounds = desc
      ? [to === MAX ? MAX : to + BATCH_SPAN_MS, from, to]
      : [from === MIN ? MIN : from - BATCH_SPAN_MS, to, from];
    let stmt = this.selects.get(sql);
    if (!stmt) this.selects.set(sql, (stmt = this.db.prepare<unknown[], BatchRow>(sql)));
    for (const b of stmt.iterate(...args, ...bounds)) {
      if (!page.needs(b.bound)) break;
      page.add(batchEvents(b.id, b.stream, b.ingestion_time, JSON.parse(b.events) as BatchEvent[]));
    }
  }

  /**
   * Removes (in the open transaction) the account's earliest-appended events until at least
   * `excess` bytes are gone (at most one chunk of batches); resolves the bytes removed.
   */
  private trimAccount(account: string, excess: number): number {
    let left = excess;
    const doomed: { row: Doomed; pick: (ev: BatchEvent[]) => BatchEvent[] }[] = [];
    for (const row of this.q.oldestOf.all(account, expireChunk)) {
      if (left <= 0) break;
      const bytes = Math.min(left, row.bytes);
      doomed.push({ row, pick: (ev) => earliest(ev, bytes) });
      left -= row.bytes;
    }
    return this.remove(doomed);
  }

  /**
   * Removes the events `pick` chooses from each batch (rewriting it, or deleting it when none is
   * left), in the open transaction, keeping the counters true; resolves the bytes removed.
   */
  private remove(batches: { row: Doomed; pick: (ev: BatchEvent[]) => BatchEvent[] }[]): number {
    const byStream = new Map<number, number>();
    const byGroup = new Map<number, number>();
    let removed = 0;
    for (const { row, pick } of batches) {
      const ev = JSON.parse(row.events) as BatchEvent[];
      const doomed = new Set(pick(ev));
      if (doomed.size === 0) continue;
      const kept = ev.filter((e) => !doomed.has(e));
      if (kept.length === 0) this.q.deleteBatch.run(row.id);
      else this.q.rewriteBatch.run(...timeRange(kept), batchBytes(kept), JSON.stringify(kept), row.id);
      const bytes = batchBytes([...doomed]);
      byStream.set(row.stream_id, (byStream.get(row.stream_id) ?? 0) + bytes);
      byGroup.set(row.group_id, (byGroup.get(row.group_id) ?? 0) + bytes);
      removed += bytes;
    }
    for (const [id, n] of byStream) this.q.shrankStream.run(n, id);
    for (const [id, n] of byGroup) this.q.grewGroup.run(-n, id);
    return removed;
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
