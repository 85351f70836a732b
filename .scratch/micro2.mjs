import { mkdtempSync } from 'node:fs';
import Database from 'better-sqlite3';
import { LOG_SCHEMA, logAppender } from '/work/main/dist/src/journal/sqlite-log-append.js';
const variants = {
  all: LOG_SCHEMA,
  noAppend: LOG_SCHEMA.replace(/CREATE INDEX IF NOT EXISTS log_events_by_append[^;]*;/, ''),
  onlyTime: LOG_SCHEMA.replace(/CREATE INDEX IF NOT EXISTS log_events_by_append[^;]*;/, '').replace(/CREATE INDEX IF NOT EXISTS log_events_by_stream[^;]*;/, ''),
};
const msg = (i) => ({ timestamp: Date.now(), message: `2026-12-07T04:40:00.000Z\t${crypto.randomUUID()}\tINFO\thandled {"n":1} ${i}` });
for (const [name, schema] of Object.entries(variants)) {
  const dir = mkdtempSync('/tmp/micro-');
  const db = new Database(`${dir}/j.db`); db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.exec(schema);
  const append = logAppender(db);
  const events = Array.from({ length: 200 }, (_, i) => msg(i));
  for (let i = 0; i < 100; i++) append('000000000000', '/aws/lambda/f', `s${i % 10}`, events, Date.now());
  const n = 300; const t0 = performance.now();
  for (let i = 0; i < n; i++) append('000000000000', '/aws/lambda/f', `s${i % 10}`, events, Date.now());
  console.log(name, ((performance.now() - t0) * 1000 / (n * 200)).toFixed(2), 'µs/event');
}
