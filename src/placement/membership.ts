import type { DocumentStore, StoredDocument } from '../journal/index.js';
import type { Logger } from '../shared/log.js';
import { RemoteWorkerAgent, type WorkerStatus } from '../worker/index.js';
import type { PlacementService } from './placement.js';

/** A worker as the placement process records it in the journal's `workers` store. */
export interface WorkerDocument {
  id: string;
  url: string;
  status: WorkerStatus;
}

export interface MembershipDeps {
  store: DocumentStore;
  placement: PlacementService;
  token: string;
  /** Sent with every call to a worker: the fencing epoch of the leadership acting. */
  epoch: number;
  log: Logger;
  /** A worker appeared after the membership was first read. */
  onJoined?(agent: RemoteWorkerAgent): void;
}

/**
 * The assignment leader's view of the workers: the journal's `workers` store, which the
 * placement process keeps (it holds the workers' leases), mirrored into a PlacementService.
 * A worker whose document goes away is lost.
 */
export class WorkerMembership {
  private unwatch: (() => void) | undefined;
  private readonly urls = new Map<string, string>();

  constructor(private readonly deps: MembershipDeps) {}

  async start(): Promise<void> {
    this.unwatch = await this.deps.store.watch((id, doc) => this.apply(id, doc, true));
    for (const doc of await this.deps.store.list()) this.apply(doc.key, doc, false);
  }

  url(workerId: string): string | undefined {
    return this.urls.get(workerId);
  }

  stop(): void {
    this.unwatch?.();
    for (const id of this.urls.keys()) {
      const agent = this.deps.placement.worker(id);
      this.deps.placement.deregister(id);
      void agent?.shutdown();
    }
  }

  private apply(id: string, doc: StoredDocument | undefined, live: boolean): void {
    if (!doc) {
      this.urls.delete(id);
      this.deps.placement.remove(id);
      return;
    }
    const { url, status } = doc.value as WorkerDocument;
    const known = this.deps.placement.worker(id);
    if (known instanceof RemoteWorkerAgent && this.urls.get(id) === url) return known.report(status);
    if (known) this.deps.placement.remove(id);
    const agent = new RemoteWorkerAgent(id, url, this.deps.token, status, this.deps.log.child({ worker: id }));
    agent.fencingEpoch = this.deps.epoch;
    this.urls.set(id, url);
    this.deps.placement.register(agent);
    if (live) this.deps.onJoined?.(agent);
  }
}
