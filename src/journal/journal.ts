/**
 * The Journal: the durable state of Stratus behind one interface. Engines: SQLite (the
 * single-machine default) and, later, etcd for a cluster. Values are JSON documents; the
 * components that own them (registry, assignment) define their shapes.
 */

/** A named collection of JSON documents with optimistic concurrency on a revision string. */
export interface DocumentStore {
  get(key: string): Promise<StoredDocument | undefined>;
  /** All documents, ordered by key. */
  list(): Promise<StoredDocument[]>;
  /** Insert; resolves false (and writes nothing) if the key exists. */
  create(key: string, value: unknown, revision: string): Promise<boolean>;
  /** Replace if the stored revision equals `expectedRevision`; resolves false otherwise. */
  replace(key: string, value: unknown, revision: string, expectedRevision: string): Promise<boolean>;
  /** Resolves false if there was nothing to delete. */
  delete(key: string): Promise<boolean>;
}

export interface StoredDocument {
  key: string;
  value: unknown;
  revision: string;
}

/** The append-only log the assignment leader writes environment state changes to. */
export interface AppendLog {
  /** Appends an entry and resolves its sequence number (strictly increasing). */
  append(entry: unknown): Promise<number>;
  /** Entries with seq > afterSeq, in order, at most `limit`. */
  readAfter(afterSeq: number, limit?: number): Promise<LogEntry[]>;
  /** Drops entries with seq <= uptoSeq (after a snapshot has been taken). */
  truncate(uptoSeq: number): Promise<void>;
}

export interface LogEntry {
  seq: number;
  entry: unknown;
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

export interface Journal {
  /** $LATEST of every function, keyed by name. */
  readonly functions: DocumentStore;
  /** Published versions (immutable snapshots), keyed `<name>:<version>`. */
  readonly versions: DocumentStore;
  /** Aliases, keyed `<name>:<alias>`. */
  readonly aliases: DocumentStore;
  /** Function URL configurations, keyed `<name>` or `<name>:<alias>`. */
  readonly functionUrls: DocumentStore;
  readonly assignmentLog: AppendLog;
  /** Accepted asynchronous invocations not yet finished. */
  readonly eventQueue: EventQueue;
  close(): Promise<void>;
}
