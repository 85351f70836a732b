import { Worker } from 'node:worker_threads';
import type { AppendRefusal, PackedAppend } from './sqlite-log-append.js';
import type { LogAppend } from './log-store.js';

/** A shipment's appends as the thread gets them (a column of messages and one of timestamps each). */
export function packAppends(appends: LogAppend[]): PackedAppend[] {
  return appends.map(({ accountId, group, stream, events }) => {
    const messages: string[] = new Array(events.length);
    const timestamps: number[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      messages[i] = events[i]!.message;
      timestamps[i] = events[i]!.timestamp;
    }
    return [accountId, group, stream, messages, timestamps];
  });
}

/**
 * `code`: the SQLite error's code (SQLITE_FULL: the disk is full), kept across the thread.
 * `refused`: per append, its refusal for good, when some were refused (the others are stored).
 */
interface Reply { id: number; error?: string; code?: string; refused?: (AppendRefusal | null | undefined)[] }

/**
 * The SQLite log store's appends, on a thread of their own with its own connection to the
 * log store's file (`sqlite-log-writer-thread.ts`): a shipment's appends (every stream's) are
 * posted as one message and stored in one transaction (an append refused for good rolled back
 * alone, in a savepoint), and the promise resolves once it committed, so a read that follows sees it. The invoke path, on the main thread, never waits
 * for SQLite.
 */
export class SqliteLogWriter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(refused: (AppendRefusal | undefined)[]): void; reject(err: Error): void }>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(path: string) {
    this.worker = new Worker(new URL('./sqlite-log-writer-thread.js', import.meta.url), { workerData: { path } });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error === undefined) waiting?.resolve((reply.refused ?? []).map((r) => r ?? undefined));
      else waiting?.reject(Object.assign(new Error(reply.error), { code: reply.code }));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => this.fail(new Error('the log writer thread has stopped')));
  }

  /**
   * Resolves once the shipment committed: per append, its refusal for good, if any (an empty
   * array when none was refused); rejects when none was stored.
   */
  append(appends: LogAppend[], ingestionTimeMs: number): Promise<(AppendRefusal | undefined)[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const done = new Promise<(AppendRefusal | undefined)[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, appends: packAppends(appends), ingestionTimeMs });
    });
    this.inFlight.add(done);
    const settled = () => void this.inFlight.delete(done);
    done.then(settled, settled);
    return done;
  }

  /** Waits for the appends posted so far, then stops the thread. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
