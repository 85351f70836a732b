// The log writer thread (started by `sqlite-log-writer.ts`): appends batches to the journal's
// SQLite file on a connection of its own, a shipment (every stream's appends) in one transaction,
// and answers each with its id (and the appends refused for good, if any).
import Database from 'better-sqlite3';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createLogTables, logAppender, type PackedAppend } from './sqlite-log-append.js';

// Logs are background work: on Linux a thread is a task with a niceness of its own, and this one
// yields the CPU to the invoke path and the sandboxes (its appends wait; the shipper holds them).
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
} catch {
  // Not Linux, or not allowed: the thread keeps the process's priority.
}

const db = new Database((workerData as { path: string }).path, { timeout: 10_000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
createLogTables(db);
const append = logAppender(db);

parentPort?.on('message', ({ id, appends, ingestionTimeMs }: { id: number; appends: PackedAppend[]; ingestionTimeMs: number }) => {
  try {
    const refused = append(appends, ingestionTimeMs);
    parentPort?.postMessage({ id, ...(refused.some((r) => r !== undefined) ? { refused } : {}) });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    parentPort?.postMessage({ id, error: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) });
  }
});
