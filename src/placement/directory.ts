import { randomUUID } from 'node:crypto';
import type { DocumentStore } from '../journal/index.js';
import type { Logger } from '../shared/log.js';
import type { WorkerDocument } from './membership.js';

/**
 * The placement process's side of the membership: every worker that holds a lease is a
 * document in the journal's `workers` store (with its latest reported status); a worker whose
 * lease runs out is deleted, which every assignment leader sees as that worker lost.
 */
export class WorkerDirectory {
  /** Serialises the writes of one worker's document. */
  private readonly writes = new Map<string, Promise<void>>();

  /**
   * `mayWrite`: a replicated placement's fence (PlacementLeader.mayAct), checked just before each
   * write, so a deposed leader neither deletes nor rewrites entries its successor now keeps.
   */
  constructor(private readonly store: DocumentStore, private readonly log: Logger, private readonly mayWrite: () => boolean = () => true) {}

  /** Workers recorded by an earlier placement process. */
  async recorded(): Promise<WorkerDocument[]> {
    return (await this.store.list()).map((d) => d.value as WorkerDocument);
  }

  publish(doc: WorkerDocument): void {
    this.serial(doc.id, async () => {
      const current = await this.store.get(doc.id);
      // The drain mark is the fleet scaler's, and the record is its truth (a new leader continues the
      // drains it finds): an entry that carries none (a heartbeat's) keeps the recorded one.
      const value = doc.draining === undefined && (current?.value as WorkerDocument | undefined)?.draining === true ? { ...doc, draining: true } : doc;
      const ok = current
        ? await this.store.replace(doc.id, value, randomUUID(), current.revision)
        : await this.store.create(doc.id, value, randomUUID());
      if (!ok) this.log.warn({ worker: doc.id }, 'worker document changed underneath; the next heartbeat writes it again');
    });
  }

  remove(id: string): void {
    this.serial(id, async () => {
      await this.store.delete(id);
    });
  }

  private serial(id: string, write: () => Promise<void>): void {
    const fenced = async () => {
      if (this.mayWrite()) return write();
      this.log.warn({ worker: id }, 'not writing the worker directory: this placement replica no longer leads');
    };
    const next = (this.writes.get(id) ?? Promise.resolve())
      .then(fenced)
      .catch((err: unknown) => this.log.warn({ err, worker: id }, 'writing the worker directory failed'));
    this.writes.set(id, next);
    void next.finally(() => {
      if (this.writes.get(id) === next) this.writes.delete(id);
    });
  }
}
