import type { Etcd3, Namespace } from 'etcd3';
import { systemClock, type Clock } from '../shared/clock.js';
import { createEtcdClient, defaultCallTimeoutMs, type EtcdConnection } from '../shared/etcd.js';
import { EtcdDocumentStore } from './etcd-documents.js';
import { EtcdElection, type EtcdLeadership } from './etcd-election.js';
import { EtcdEventQueue } from './etcd-event-queue.js';
import { EtcdLogStore } from './etcd-log-store.js';
import { EtcdScheduleStore } from './etcd-schedule-store.js';
import { EtcdAppendLog } from './etcd-log.js';
import { EtcdQuorumProbe } from './etcd-probe.js';
import type { AppendLog, DocumentStore, EventQueue, Journal, LeaderElection, ScheduleStore } from './journal.js';
import type { LogStore } from './log-store.js';

export interface EtcdJournalOptions extends EtcdConnection {
  /** Every key of this journal lives under this prefix (e.g. "stratus/"), so clusters can share etcd. */
  prefix: string;
  clock?: Clock;
}

/**
 * The cluster Journal on etcd 3.4. Under the prefix: `docs/<collection>/<key>` documents,
 * `log/…` the assignment log, `queue/<id>` queued Event invokes, `elections/<name>` leader keys,
 * `logs/…` function logs (see etcd-log-store.ts), `schedules/…` schedules (etcd-schedule-store.ts). See docs/journal-and-failover.md.
 */
export class EtcdJournal implements Journal {
  readonly functions: DocumentStore;
  readonly versions: DocumentStore;
  readonly aliases: DocumentStore;
  readonly functionUrls: DocumentStore;
  readonly layers: DocumentStore;
  readonly accounts: DocumentStore;
  readonly accessKeys: DocumentStore;
  readonly workers: DocumentStore;
  readonly clusterSecrets: DocumentStore;
  readonly workerCredentials: DocumentStore;
  /** A cluster's one: the assignment leader's count of cold starts that found no room, for placement's fleet scaler. */
  readonly fleetDemand: DocumentStore;
  readonly assignmentLog: AppendLog;
  readonly eventQueue: EventQueue;
  readonly logs: LogStore;
  readonly scheduleGroups: DocumentStore;
  readonly schedules: ScheduleStore;
  private readonly client: Etcd3;
  private readonly root: Namespace;
  private readonly probe: EtcdQuorumProbe;
  private readonly callTimeoutMs: number;
  private readonly leaderships = new Set<EtcdLeadership>();

  constructor(private readonly options: EtcdJournalOptions) {
    this.callTimeoutMs = options.callTimeoutMs ?? defaultCallTimeoutMs;
    this.client = createEtcdClient(options);
    this.root = this.client.namespace(options.prefix);
    this.probe = new EtcdQuorumProbe(options);
    const docs = (collection: string) => new EtcdDocumentStore(this.root, `docs/${collection}`, this.callTimeoutMs);
    this.functions = docs('functions');
    this.versions = docs('versions');
    this.aliases = docs('aliases');
    this.functionUrls = docs('function-urls');
    this.layers = docs('layers');
    this.accounts = docs('accounts');
    this.accessKeys = docs('access-keys');
    this.workers = docs('workers');
    this.clusterSecrets = docs('cluster-secrets');
    this.workerCredentials = docs('worker-credentials');
    this.fleetDemand = docs('fleet-demand');
    this.assignmentLog = new EtcdAppendLog(this.root);
    this.eventQueue = new EtcdEventQueue(this.root);
    this.logs = new EtcdLogStore(this.root);
    this.scheduleGroups = docs('schedule-groups');
    this.schedules = new EtcdScheduleStore(this.root);
  }

  election(name: string, ttlMs: number): LeaderElection {
    const deps = {
      client: this.client, root: this.root, probe: this.probe, clock: this.options.clock ?? systemClock,
      callTimeoutMs: this.callTimeoutMs, active: this.leaderships,
    };
    return new EtcdElection(deps, name, ttlMs);
  }

  /**
   * Closes the connections. Leaderships are not resigned: from etcd's view this is a crash, and
   * their keys go when their leases run out (resign first to hand over at once). Their standing
   * becomes 'lost' ('journal closed').
   */
  async close(): Promise<void> {
    for (const leadership of [...this.leaderships]) leadership.abandon();
    this.probe.close();
    this.client.close();
  }
}
