/**
 * Function code, stored content-addressed by sha256. Today a code package is one blob (the
 * uploaded zip); the chunk store for lazily loaded images will sit behind the same interface.
 */
export interface CodeRef {
  /** Lower-case hex sha256 of the package bytes. */
  sha256: string;
  size: number;
}

/** A stored blob as the garbage collector sees it: what it is, and when it was last put. */
export interface StoredBlob extends CodeRef {
  /**
   * Wall-clock ms (the store's Clock) of the last `put` of these bytes, a repeated put included;
   * undefined when the store has none (stored by a version that kept none): its age is unknown,
   * and the collector goes only by when it first saw it unused.
   */
  lastPutMs: number | undefined;
}

export interface CodeStore {
  /**
   * Stores the bytes (idempotent) and returns their reference. Putting bytes already stored
   * refreshes their last-put time: a blob is put before the document that refers to it is
   * written, and the collector spares blobs put within its grace period.
   */
  put(bytes: Buffer): Promise<CodeRef>;
  /** The bytes of a stored package; rejects with ResourceNotFound if absent. */
  get(ref: CodeRef): Promise<Buffer>;
  has(ref: CodeRef): Promise<boolean>;
  /** Every stored blob, complete ones only (an interrupted write is not listed); rejects if the store cannot be read whole. */
  list(): Promise<StoredBlob[]>;
  /**
   * Deletes the blob only if it was last put before `putBeforeMs`, atomically with respect to a
   * concurrent `put` of the same bytes (which then either refreshes it first, so it stays, or
   * stores it again). Resolves whether it was deleted.
   */
  deleteIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean>;
}
