import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteLogStore } from '../src/journal/sqlite-log-store.js';

const T0 = 1_700_000_000_000;

/** The tables a log file had before events were stored a batch per row (a row per event). */
const EVENT_ROWS_SCHEMA = `
  CREATE TABLE log_groups (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, name TEXT NOT NULL, creation_time INTEGER NOT NULL,
    retention_days INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (account, name));
  CREATE TABLE log_streams (id INTEGER PRIMARY KEY AUTOINCREMENT, group_id INTEGER NOT NULL, name TEXT NOT NULL, creation_time INTEGER NOT NULL,
    first_event INTEGER, last_event INTEGER, last_ingestion INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (group_id, name));
  CREATE TABLE log_events (id INTEGER PRIMARY KEY AUTOINCREMENT, group_id INTEGER NOT NULL, stream_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL, ingestion_time INTEGER NOT NULL, message TEXT NOT NULL, bytes INTEGER NOT NULL);
  CREATE INDEX log_events_by_time ON log_events (group_id, timestamp, id);
`;

test('a log file written a row per event opens with every event, in order, and takes new appends after them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-log-migration-'));
  const path = join(dir, 'journal-logs.db');
  try {
    const old = new Database(path);
    old.exec(EVENT_ROWS_SCHEMA);
    old.prepare("INSERT INTO log_groups (account, name, creation_time, stored_bytes) VALUES ('111111111111', '/aws/lambda/fn', ?, 0)").run(T0);
    old.prepare("INSERT INTO log_streams (group_id, name, creation_time) VALUES (1, 'a', ?), (1, 'b', ?)").run(T0, T0);
    // Two minutes of timestamps, two streams, a tie, unicode and a message with a quote and a newline.
    const rows: [number, number, string][] = [[1, T0 + 5, 'a1'], [2, T0 + 5, 'b1 "q"\nx'], [1, T0 + 61_000, 'a2 ✓'], [1, T0 + 1, 'a3'], [2, T0 + 61_000, 'b2']];
    const insert = old.prepare('INSERT INTO log_events (group_id, stream_id, timestamp, ingestion_time, message, bytes) VALUES (1, ?, ?, ?, ?, ?)');
    for (const [stream, ts, message] of rows) insert.run(stream, ts, T0, message, Buffer.byteLength(message) + 26);
    old.close();

    const logs = new SqliteLogStore(path);
    try {
      const events = (await logs.events('111111111111', '/aws/lambda/fn', { limit: 100 }))!;
      assert.deepEqual(events.map((e) => [e.stream, e.message]), [['a', 'a3'], ['a', 'a1'], ['b', 'b1 "q"\nx'], ['a', 'a2 ✓'], ['b', 'b2']]);
      const ofA = events.filter((e) => e.stream === 'a').sort((x, y) => (x.id < y.id ? -1 : 1)).map((e) => e.message);
      assert.deepEqual(ofA, ['a1', 'a2 ✓', 'a3'], 'ids keep the append order');
      await logs.append('111111111111', '/aws/lambda/fn', 'a', [{ timestamp: T0 + 5, message: 'a4' }], T0 + 1);
      const after = (await logs.events('111111111111', '/aws/lambda/fn', { limit: 100, streams: ['a'] }))!;
      assert.deepEqual(after.map((e) => e.message), ['a3', 'a1', 'a4', 'a2 ✓']);
    } finally {
      await logs.close();
    }
    const check = new Database(path, { readonly: true });
    assert.equal((check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'log_events'").get() as { n: number }).n, 0, 'the old table is gone');
    check.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
