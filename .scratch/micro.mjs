import { mkdtempSync } from 'node:fs';
import { SqliteLogStore } from '/work/main/dist/src/journal/sqlite-log-store.js';
import { logAppender, LOG_SCHEMA } from '/work/main/dist/src/journal/sqlite-log-append.js';
import Database from 'better-sqlite3';
import { LogShipper } from '/work/main/dist/src/worker/log-shipper.js';
import { systemClock } from '/work/main/dist/src/shared/clock.js';
import { silentLogger } from '/work/main/dist/src/shared/log.js';
const dir = mkdtempSync('/tmp/micro-');
const db = new Database(`${dir}/j.db`); db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.exec(LOG_SCHEMA);
const append = logAppender(db);
const msg = (i) => ({ timestamp: Date.now(), message: i % 4 === 0 ? `START RequestId: ${crypto.randomUUID()} Version: $LATEST` : i % 4 === 1 ? `2026-12-07T04:40:00.000Z\t${crypto.randomUUID()}\tINFO\thandled {"n":1}` : i % 4 === 2 ? `END RequestId: ${crypto.randomUUID()}` : `REPORT RequestId: ${crypto.randomUUID()}\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t` });
for (const batch of [50, 500]) {
  const events = Array.from({ length: batch }, (_, i) => msg(i));
  const n = 200; const t0 = performance.now();
  for (let i = 0; i < n; i++) append('000000000000', '/aws/lambda/f', `s${i % 10}`, events, Date.now());
  const ms = performance.now() - t0; console.log(`sqlite append batch ${batch}: ${(ms * 1000 / (n * batch)).toFixed(2)} µs/event`);
}
const s = new LogShipper({ ship: async () => {}, clock: systemClock, log: silentLogger(), flushAfterMs: 200, maxBufferedBytes: 64 << 20 });
const to = { accountId: '000000000000', functionName: 'f', group: '/aws/lambda/f', stream: 'x' };
const t0 = performance.now(); const N = 100000;
for (let i = 0; i < N; i++) { s.write(to, `START RequestId: abc Version: $LATEST\n`, 'platform'); s.write(to, `2026-12-07T04:40:00.000Z\tabc\tINFO\thandled {"n":1}\n`, 'stdout'); s.write(to, `END RequestId: abc\nREPORT RequestId: abc\tDuration: 1.23 ms\t\n`, 'platform'); if (i % 500 === 0) await s.flush(); }
console.log(`shipper: ${((performance.now() - t0) * 1000 / N).toFixed(2)} µs/invoke`);
process.exit(0);
