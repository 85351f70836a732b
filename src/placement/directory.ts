import { writeOver, type DocumentStore, type Leadership } from '../journal/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { isStratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { WorkerDocument } from './membership.js';

/** A replicated placement's fence on the directory's writes, and when deferred deletes are tried again. */
export interface DirectoryFencing {
  /** The placement leadership this replica holds (PlacementLeader.fence), whatever its standing; undefined while it does not lead. */
  leadership(): Leadership | undefined;
  clock: Clock;
  /** How long after a delete was deferred (etcd without quorum) it is tried again: the lease sweep's period, say. */
  retryMs: number;
}

/**
 * The placement process's side of the membership: every worker that holds a lease is a
 * document in the journal's `workers` store (with its latest reported status); a worker whose
 * lease runs out is deleted, which every assignment leader sees as that worker lost.
 *
 * Fencing (a replicated placement): a write is made only while the leadership's standing is
 * 'held' by the local clock, and is made fenced by it, so the journal commits it only while the
 * leadership is still the current one (on etcd, a comparison on its election key in the same
 * transaction): a deposed leader neither deletes nor rewrites entries its successor now keeps, not
 * even with a write already in flight when it was paused or cut off. A delete that cannot be made
 * while the leadership stands without quorum (or that etcd fails) is kept and tried again every
 * `retryMs`, until it is made, the worker registers again, or the leadership it was due under ends.
 */
export class WorkerDirectory {
  /** Serialises the writes of one worker's document. */
  private readonly writes = new Map<string, Promise<void>>();
  /** Deferred deletes: worker id → the epoch of the leadership they are due under. */
  private readonly pending = new Map<string, number>();
  private retryTimer: TimerHandle | undefined;

  constructor(private readonly store: DocumentStore, private readonly log: Logger, private readonly fencing?: DirectoryFencing) {}

  /** Workers recorded by an earlier placement process. */
  async recorded(): Promise<WorkerDocument[]> {
    return (await this.store.list()).map((d) => d.value as WorkerDocument);
  }

  publish(doc: WorkerDocument): void {
    this.pending.delete(doc.id);
    this.serial(doc.id, async () => {
      // Registered again: a delete deferred before (and re-deferred by an attempt queued ahead of this write) is void.
      this.pending.delete(doc.id);
      const fence = this.fence(doc.id);
      if (fence === false) return;
      const current = await this.store.get(doc.id);
      // The drain mark is the fleet scaler's, and the record is its truth (a new leader continues the
      // drains it finds): an entry that carries none (a heartbeat's) keeps the recorded one.
      const value = doc.draining === undefined && (current?.value as WorkerDocument | undefined)?.draining === true ? { ...doc, draining: true } : doc;
      if (!(await writeOver(this.store, doc.id, current, value, fence))) this.log.warn({ worker: doc.id }, 'worker document changed underneath; the next heartbeat writes it again');
    });
  }

  remove(id: string): void {
    this.serial(id, () => this.tryRemove(id));
  }

  /** Workers whose directory entry is still to be deleted (etcd had no quorum when their lease ran out). */
  pendingRemovals(): string[] {
    return [...this.pending.keys()];
  }

  /** Tries every deferred delete again now (the retry timer does this every `retryMs`); resolves once they were tried. */
  async retryRemovals(): Promise<void> {
    const epoch = this.leadershipEpoch();
    for (const [id, due] of [...this.pending]) {
      if (due !== epoch) {
        this.pending.delete(id);
        this.log.info({ worker: id }, 'a deferred directory delete dropped: the leadership it was due under ended (a successor adopts and expires the worker)');
      } else if (!this.writes.has(id)) {
        // (A write of this worker still under way settles the delete itself: made, deferred again, or void by a registration.)
        this.remove(id);
      }
    }
    await this.idle();
  }

  /** Resolves once every write asked for so far was made (or failed, or was fenced). */
  async idle(): Promise<void> {
    await Promise.all([...this.writes.values()]);
  }

  stop(): void {
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
  }

  /** One attempt at deleting a lost worker's entry: made (or fenced, or not this replica's to make any more), or deferred. */
  private async tryRemove(id: string): Promise<void> {
    const leadership = this.fencing?.leadership();
    if (leadership?.standing() === 'no-quorum') return this.defer(id, leadership, 'etcd has no quorum');
    const fence = this.fence(id);
    if (fence === false) return void this.pending.delete(id);
    try {
      await this.store.delete(id, fence);
      this.pending.delete(id);
    } catch (err) {
      if (!leadership || (isStratusError(err) && err.code === 'Fenced')) {
        this.pending.delete(id);
        throw err;
      }
      this.defer(id, leadership, err instanceof Error ? err.message : String(err));
    }
  }

  private defer(id: string, leadership: Leadership, why: string): void {
    if (!this.pending.has(id)) this.log.warn({ worker: id, why }, 'deleting the worker directory entry deferred; tried again on the next sweep');
    this.pending.set(id, leadership.epoch);
    if (this.retryTimer || !this.fencing) return;
    this.retryTimer = this.fencing.clock.setTimer(this.fencing.retryMs, () => {
      this.retryTimer = undefined;
      void this.retryRemovals();
    });
  }

  /** The leadership a write is fenced by (undefined: unfenced, a single placement process), or false: not to be written. */
  private fence(id: string): Leadership | undefined | false {
    if (!this.fencing) return undefined;
    const leadership = this.fencing.leadership();
    if (leadership?.standing() === 'held') return leadership;
    this.log.warn({ worker: id }, 'not writing the worker directory: this placement replica no longer leads');
    return false;
  }

  private leadershipEpoch(): number | undefined {
    const leadership = this.fencing?.leadership();
    return leadership && leadership.standing() !== 'lost' ? leadership.epoch : undefined;
  }

  private serial(id: string, write: () => Promise<void>): void {
    const next = (this.writes.get(id) ?? Promise.resolve())
      .then(write)
      .catch((err: unknown) => {
        if (isStratusError(err) && err.code === 'Fenced') this.log.warn({ worker: id }, 'a worker directory write was fenced: this placement replica was deposed');
        else this.log.warn({ err, worker: id }, 'writing the worker directory failed');
      });
    this.writes.set(id, next);
    void next.finally(() => {
      if (this.writes.get(id) === next) this.writes.delete(id);
    });
  }
}
