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
  close(): Promise<void>;
}
