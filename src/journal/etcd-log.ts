import { randomUUID } from 'node:crypto';
import type { ICompare, Namespace } from 'etcd3';
import { StratusError } from '../shared/errors.js';
import { commitTxn, etcdCall, keyIn } from '../shared/etcd.js';
import { fenceCompares, fenceRead, throwIfFenced } from './etcd-election.js';
import type { AppendLog, Leadership, LogEntry, LogSnapshot } from './journal.js';

const seqKey = 'log/seq';
const snapshotKey = 'log/snapshot';
const entriesPrefix = 'log/entries/';
const pageSize = 500;
const maxAttempts = 50;
/** How long after an unclear append its commit is looked for once more (an etcd call's deadline). */
const UNCLEAR_RECHECK_MS = 1000;
/** Entries per transaction (etcd allows 128 operations in one by default). */
const maxBatch = 100;
/** Bytes of entries per transaction, well below etcd's default 1.5 MiB request limit. */
const maxBatchBytes = 256 * 1024;

interface PendingAppend {
  entry: string;
  fence: Leadership | undefined;
  resolve(seq: number): void;
  reject(e: unknown): void;
}

function entryKey(seq: number): string {
  return `${entriesPrefix}${String(seq).padStart(16, '0')}`;
}

/**
 * The assignment log on etcd: entries under `log/entries/<seq, 16 digits>`, the last sequence
 * number under `log/seq`, the snapshot under `log/snapshot`. An append is one transaction that
 * bumps the counter (compared on its mod revision) and, when fenced, also compares the
 * election key's create revision with the leadership's epoch. Appends made concurrently through
 * one journal are queued and committed in batches, so they do not race each other.
 */
export class EtcdAppendLog implements AppendLog {
  private readonly pending: PendingAppend[] = [];
  private draining = false;

  constructor(private readonly root: Namespace) {}

  async append(entry: unknown, fence?: Leadership): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry: JSON.stringify(entry), fence, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  /** Commits queued appends in batches (one transaction each), one batch at a time. */
  private async drain(): Promise<void> {
    this.draining = true;
    while (this.pending.length > 0) {
      const fence = this.pending[0]!.fence;
      const batch: PendingAppend[] = [];
      let bytes = 0;
      while (batch.length < maxBatch && bytes < maxBatchBytes && this.pending.length > 0 && this.pending[0]!.fence === fence) {
        const next = this.pending.shift()!;
        bytes += next.entry.length;
        batch.push(next);
      }
      try {
        const first = await this.commitBatch(batch.map((b) => b.entry), fence);
        batch.forEach((b, i) => b.resolve(first + i));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.draining = false;
  }

  /** Appends `entries` in one transaction; resolves the first one's seq. */
  private async commitBatch(entries: string[], fence: Leadership | undefined): Promise<number> {
    const fenceCompare = fenceCompares(this.root, fence);
    // The sequence counter names the batch that last moved it: the etcd client retries a call on
    // another member when its member goes away, and a first attempt that committed would make the
    // retry's comparison fail on the batch's own write. Appending it again would duplicate it.
    const batchId = randomUUID();
    let tried: number | undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const counter = (await etcdCall('append', () => this.root.get(seqKey).exec())).kvs[0];
      const [last = '0', movedBy] = counter ? counter.value.toString().split(' ') : [];
      if (tried !== undefined && movedBy === batchId) return tried;
      const first = Number(last) + 1;
      const compare: ICompare[] = [{ key: keyIn(this.root, seqKey), target: 'Mod', result: 'Equal', mod_revision: counter?.mod_revision ?? 0 }];
      const puts = entries.map((e, i) => this.root.put(entryKey(first + i)).value(e));
      tried = first;
      const res = await commitTxn(
        'append', this.root, [...compare, ...fenceCompare],
        [this.root.put(seqKey).value(`${first + entries.length - 1} ${batchId}`), ...puts],
        fenceRead(this.root, fence),
      ).catch(async (err: unknown) => {
        // A call that failed (a deadline) may have committed all the same, or still commit: the
        // counter says, read now and once more after a call's deadline. (One that commits later
        // still is appended again by the caller's retry.)
        if (!(err instanceof StratusError && err.code === 'JournalUnavailable')) throw err;
        for (const wait of [0, UNCLEAR_RECHECK_MS]) {
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          if ((await this.movedBy().catch(() => undefined)) === batchId) return undefined;
        }
        throw err;
      });
      if (!res || res.succeeded) return first;
      throwIfFenced(fence, res);
    }
    throw new StratusError('JournalUnavailable', `etcd append lost the race for the log sequence ${maxAttempts} times`);
  }

  /** The batch that last moved the sequence counter. */
  private async movedBy(): Promise<string | undefined> {
    return (await etcdCall('append', () => this.root.get(seqKey).string()))?.split(' ')[1];
  }

  async readAfter(afterSeq: number, limit = 1000): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    let from = afterSeq + 1;
    while (out.length < limit) {
      const want = Math.min(pageSize, limit - out.length);
      const range = { start: entryKey(from), end: entryKey(Number.MAX_SAFE_INTEGER) };
      const res = await etcdCall('read', () => this.root.getAll().inRange(range).sort('Key', 'Ascend').limit(want).exec());
      for (const kv of res.kvs) {
        out.push({ seq: Number(kv.key.toString().slice(entriesPrefix.length)), entry: JSON.parse(kv.value.toString()) as unknown });
      }
      if (res.kvs.length < want) break;
      from = out.at(-1)!.seq + 1;
    }
    return out;
  }

  async readSnapshot(): Promise<LogSnapshot | undefined> {
    const value = await etcdCall('read snapshot', () => this.root.get(snapshotKey).string());
    return value === null ? undefined : (JSON.parse(value) as LogSnapshot);
  }

  async compact(snapshot: LogSnapshot, fence?: Leadership): Promise<void> {
    const covered = { start: entryKey(0), end: entryKey(snapshot.seq + 1) };
    const res = await commitTxn(
      'compact', this.root, fenceCompares(this.root, fence),
      [this.root.put(snapshotKey).value(JSON.stringify({ seq: snapshot.seq, state: snapshot.state })), this.root.delete().inRange(covered)],
      fenceRead(this.root, fence),
    );
    if (!res.succeeded) throwIfFenced(fence, res);
  }
}
