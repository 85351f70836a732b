import type { LogStore } from './log-store.js';

/**
 * The Journal: the durable state of Stratus behind one interface. Engines: SQLite (the
 * single-machine default), etcd (a cluster) and an in-memory fake. Values are JSON documents;
 * the components that own them (registry, assignment, placement) define their shapes.
 */

/**
 * A named collection of JSON documents with optimistic concurrency on a revision string. A write
 * given a `fence` commits only while that leadership is still the current one (on etcd: in one
 * transaction with a comparison on its election key), and otherwise rejects with StratusError
 * 'Fenced', writing nothing: a deposed leader's write in flight fails instead of landing.
 */
export interface DocumentStore {
  get(key: string): Promise<StoredDocument | undefined>;
  /** All documents, ordered by key; with `prefix`, those whose key starts with it. */
  list(prefix?: string): Promise<StoredDocument[]>;
  /** Insert; resolves false (and writes nothing) if the key exists. */
  create(key: string, value: unknown, revision: string, fence?: Leadership): Promise<boolean>;
  /** Replace if the stored revision equals `expectedRevision`; resolves false otherwise. */
  replace(key: string, value: unknown, revision: string, expectedRevision: string, fence?: Leadership): Promise<boolean>;
  /** Resolves false if there was nothing to delete. */
  delete(key: string, fence?: Leadership): Promise<boolean>;
  /**
   * Calls `listener` for every change committed after the returned promise resolves, by this
   * process or any other sharing the journal: the new document, or undefined once deleted.
   * Resolves a function that stops watching.
   */
  watch(listener: (key: string, doc: StoredDocument | undefined) => void): Promise<() => void>;
}

export interface StoredDocument {
  key: string;
  value: unknown;
  revision: string;
}

/** The append-only log the assignment leader writes environment state changes to. */
export interface AppendLog {
  /**
   * Appends an entry and resolves its sequence number (strictly increasing). With `fence`, the
   * append commits only while that leadership is still the current one; otherwise it rejects
   * with StratusError 'Fenced' and writes nothing.
   */
  append(entry: unknown, fence?: Leadership): Promise<number>;
  /** Entries with seq > afterSeq, in order, at most `limit`. */
  readAfter(afterSeq: number, limit?: number): Promise<LogEntry[]>;
  /** The latest snapshot, if any: the state a reader had after applying entries up to `seq`. */
  readSnapshot(): Promise<LogSnapshot | undefined>;
  /**
   * Stores `snapshot` and drops the entries it covers (seq <= snapshot.seq), so a new reader
   * starts from the snapshot instead of replaying the log from the beginning. Fenced like append.
   */
  compact(snapshot: LogSnapshot, fence?: Leadership): Promise<void>;
}

export interface LogEntry {
  seq: number;
  entry: unknown;
}

export interface LogSnapshot {
  seq: number;
  state: unknown;
}

/** Who stands for (or holds) a leadership, as other processes see it. */
export interface Candidate {
  id: string;
  /** Where the leader serves its API (e.g. http://host:port). */
  address: string;
}

/**
 * Leader election over the journal with a time-bounded lease. At most one leadership of a
 * name is current at a time; a successor is elected only after its predecessor's lease ran
 * out or it resigned.
 */
export interface LeaderElection {
  /**
   * Campaigns until elected (resolves), or until `signal` aborts (rejects). The lease is renewed
   * in the background until it is lost or resigned.
   */
  campaign(candidate: Candidate, signal?: AbortSignal): Promise<Leadership>;
  /** The current leader as recorded in the journal, if any. */
  leader(): Promise<Candidate | undefined>;
  /** Calls `listener` on each change of leader (undefined: none); resolves an unsubscribe. */
  watchLeader(listener: (leader: Candidate | undefined) => void): Promise<() => void>;
}

/**
 * Whether a leader may act:
 * - held: the lease was renewed less than its TTL ago (by the local clock, measured from when
 *   the renewal was sent, so it ends no later than the journal's own view of the lease).
 * - no-quorum: renewal fails because the journal itself has no quorum (the members reached
 *   report no raft leader), so no successor can be elected either; the lease is not lost.
 * - lost: the lease ran out (or may have), was revoked, or was resigned. Final.
 */
export type LeadershipStanding = 'held' | 'no-quorum' | 'lost';

export interface Leadership {
  readonly candidate: Candidate;
  /** Strictly greater than every earlier leadership's epoch of the same name: a fencing token. */
  readonly epoch: number;
  standing(): LeadershipStanding;
  /** Resolves (with a reason) once the standing is 'lost'. */
  readonly lost: Promise<string>;
  /** Gives the leadership up at once (a successor can be elected without waiting for the TTL). */
  resign(): Promise<void>;
}

/**
 * The durable queue of asynchronous (Event) invocations. Any number of consumers share it: an
 * item is handed to one owner at a time under a time-bounded claim, and an owner that dies
 * leaves a claim that expires, after which another consumer (or the restarted one) takes the
 * item. Delivery is therefore at least once. Every operation touches one item at a time, so an
 * engine needs no more than a compare-and-swap on one key.
 */
export interface EventQueue {
  /**
   * Adds an unclaimed item. Resolves true once it is durably committed (it survives a crash of
   * the process or the machine from then on); false, writing nothing, if the id is queued already.
   * The other operations need only survive a crash of the process: if a machine crash undoes a
   * claim, renewal, reschedule or removal, the item is run again, which at-least-once allows.
   */
  put(item: QueuedEvent): Promise<boolean>;
  /**
   * Claims up to `limit` items that are due (dueAtMs <= nowMs) and unclaimed or whose claim has
   * expired (claim until <= nowMs), for `owner` until nowMs + claimMs, earliest due first. Two
   * owners never hold the same item at the same moment.
   */
  claim(owner: string, nowMs: number, claimMs: number, limit: number): Promise<ClaimedEvent[]>;
  /**
   * Renews `owner`'s claim to last until nowMs + claimMs, only if `owner` still holds it (its
   * claim has not expired); false otherwise.
   */
  extend(id: string, owner: string, nowMs: number, claimMs: number): Promise<boolean>;
  /**
   * Stores the item's new dueAtMs and value and ends the claim, only if `owner` still holds
   * it (claim not expired and not taken by another owner); false otherwise, writing nothing.
   */
  reschedule(item: QueuedEvent, owner: string, nowMs: number): Promise<boolean>;
  /** Deletes a finished item, only if `owner` still holds it; false otherwise. */
  remove(id: string, owner: string, nowMs: number): Promise<boolean>;
  /** Items queued, claimed or not. */
  count(): Promise<number>;
}

export interface QueuedEvent {
  id: string;
  dueAtMs: number;
  /** A JSON document; the async invoker defines its shape. */
  value: unknown;
}

export interface ClaimedEvent extends QueuedEvent {
  /** The claim lasts until this time unless extended. */
  claimUntilMs: number;
}

/**
 * Schedules (EventBridge Scheduler) with the time each next fires. The scheduler defines the
 * value; the store keeps beside it `dueAtMs`, indexed so that due schedules are found without a
 * scan, and fires a schedule by advancing it and queueing its event in one atomic commit.
 */
export interface ScheduleStore {
  get(key: string): Promise<StoredSchedule | undefined>;
  /** Every schedule whose key starts with `prefix`, ordered by key. */
  list(prefix: string): Promise<StoredSchedule[]>;
  /** Inserts; resolves false (writing nothing) if the key exists. */
  create(key: string, write: ScheduleWrite): Promise<boolean>;
  /** Replaces if the stored revision is `expectedRevision`; false otherwise, writing nothing. */
  replace(key: string, write: ScheduleWrite, expectedRevision: string): Promise<boolean>;
  /** Deletes (if given, only at `expectedRevision`); false if there was nothing to delete. */
  delete(key: string, expectedRevision?: string): Promise<boolean>;
  /** Schedules whose dueAtMs <= nowMs, earliest first, at most `limit`. */
  due(nowMs: number, limit: number): Promise<StoredSchedule[]>;
  /**
   * One firing, atomically: only if the schedule is still at `expectedRevision`, stores `next`
   * (or deletes the schedule when `next` is undefined) and puts `event` (whose id is new: each
   * firing has its own) into the journal's event queue. Resolves false, writing nothing,
   * otherwise: so of two firings of the same due time (a restart, a leader and its successor)
   * exactly one commits. `event` is durable once this resolves true.
   */
  fire(key: string, expectedRevision: string, next: ScheduleWrite | undefined, event: QueuedEvent): Promise<boolean>;
}

export interface ScheduleWrite {
  value: unknown;
  revision: string;
  /** When it fires next; undefined: not (disabled, or no time left). */
  dueAtMs?: number;
}

export interface StoredSchedule extends ScheduleWrite {
  key: string;
}

export interface Journal {
  /** $LATEST of every function, keyed `<account id>/<name>` (the registry's keys below are under that account prefix too). */
  readonly functions: DocumentStore;
  /** Published versions (immutable snapshots), keyed `<name>:<version>`. */
  readonly versions: DocumentStore;
  /** Aliases, keyed `<name>:<alias>`. */
  readonly aliases: DocumentStore;
  /** Function URL configurations, keyed `<name>` or `<name>:<alias>`. */
  readonly functionUrls: DocumentStore;
  /** Lambda layers and their versions, one document per layer keyed `<account id>/<name>` (see layers/). */
  readonly layers: DocumentStore;
  /** Accounts (tenants), keyed by account id. */
  readonly accounts: DocumentStore;
  /** Access keys (SigV4 credentials), keyed by access key id. */
  readonly accessKeys: DocumentStore;
  /** Worker agents in the cluster, keyed by worker id (written by placement). */
  readonly workers: DocumentStore;
  /** The cluster's CA and control-plane credential (one document, `authority`; see docs/cluster-security.md). */
  readonly clusterSecrets: DocumentStore;
  /** Each worker's credential (a hash of its secret; revoked or not), keyed by worker id. */
  readonly workerCredentials: DocumentStore;
  readonly assignmentLog: AppendLog;
  /** Accepted asynchronous invocations not yet finished. */
  readonly eventQueue: EventQueue;
  /** Function logs, per account (CloudWatch Logs' groups, streams and events). */
  readonly logs: LogStore;
  /** EventBridge Scheduler schedule groups, keyed `<account id>/<group>`. */
  readonly scheduleGroups: DocumentStore;
  /** EventBridge Scheduler schedules, keyed `<account id>/<group>/<name>`, each with its next due time; firing queues into `eventQueue`. */
  readonly schedules: ScheduleStore;
  /** The election of `name` (e.g. "assignment") with a lease of `ttlMs`. */
  election(name: string, ttlMs: number): LeaderElection;
  close(): Promise<void>;
}
