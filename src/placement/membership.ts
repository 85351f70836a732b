import type { DocumentStore, StoredDocument } from '../journal/index.js';
import type { WorkerStatus } from '../worker/index.js';
import type { ConnectedWorker, WorkerConnector } from './connector.js';
import type { PlacementService } from './placement.js';

/** A worker as the placement process records it in the journal's `workers` store. */
export interface WorkerDocument {
  id: string;
  url: string;
  status: WorkerStatus;
  /** The fleet scaler drains it: no new environment goes there (absent: false). */
  draining?: boolean;
}

export interface MembershipDeps {
  store: DocumentStore;
  placement: PlacementService;
  connector: WorkerConnector;
  /** A worker appeared after the membership was first read. */
  onJoined?(agent: ConnectedWorker): void;
}

/**
 * The assignment leader's view of the workers: the journal's `workers` store, which the
 * placement process keeps (it holds the workers' leases), mirrored into a PlacementService.
 * A worker whose document goes away is lost.
 */
export class WorkerMembership {
  private unwatch: (() => void) | undefined;
  /** The workers this membership connected: where each serves and the handle on it. */
  private readonly members = new Map<string, { url: string; agent: ConnectedWorker }>();

  constructor(private readonly deps: MembershipDeps) {}

  async start(): Promise<void> {
    // A change that arrives before the first full listing is read (a heartbeat, typically) is
    // not a worker joining: the workers listed at start are the ones a takeover surveys.
    let listed = false;
    this.unwatch = await this.deps.store.watch((id, doc) => this.apply(id, doc, listed));
    for (const doc of await this.deps.store.list()) this.apply(doc.key, doc, false);
    listed = true;
  }

  url(workerId: string): string | undefined {
    return this.members.get(workerId)?.url;
  }

  stop(): void {
    this.unwatch?.();
    for (const id of this.members.keys()) {
      const agent = this.deps.placement.worker(id);
      this.deps.placement.deregister(id);
      void agent?.shutdown();
    }
  }

  private apply(id: string, doc: StoredDocument | undefined, live: boolean): void {
    if (!doc) {
      this.members.delete(id);
      this.deps.placement.remove(id);
      return;
    }
    const { url, status, draining } = doc.value as WorkerDocument;
    const known = this.deps.placement.worker(id);
    const mine = this.members.get(id);
    if (known && known === mine?.agent && mine.url === url) {
      mine.agent.report(status);
      return this.deps.placement.setDraining(id, draining === true);
    }
    if (known) this.deps.placement.remove(id);
    const agent = this.deps.connector.connect({ id, url, status });
    this.members.set(id, { url, agent });
    this.deps.placement.register(agent);
    this.deps.placement.setDraining(id, draining === true);
    if (live) this.deps.onJoined?.(agent);
  }
}
