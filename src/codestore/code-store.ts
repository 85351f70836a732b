/**
 * Function code, stored content-addressed by sha256. Today a code package is one blob (the
 * uploaded zip); the chunk store for lazily loaded images will sit behind the same interface.
 */
export interface CodeRef {
  /** Lower-case hex sha256 of the package bytes. */
  sha256: string;
  size: number;
}

export interface CodeStore {
  /** Stores the bytes (idempotent) and returns their reference. */
  put(bytes: Buffer): Promise<CodeRef>;
  /** The bytes of a stored package; rejects with ResourceNotFound if absent. */
  get(ref: CodeRef): Promise<Buffer>;
  has(ref: CodeRef): Promise<boolean>;
  delete(ref: CodeRef): Promise<void>;
}
