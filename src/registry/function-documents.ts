import { randomUUID } from 'node:crypto';
import type { DocumentStore, StoredDocument } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';
import type { FunctionRecord } from './model.js';
import { functionNotFound } from './qualifiers.js';

/** The journal document: $LATEST plus the number of the last version ever published. */
export interface StoredFunction extends FunctionRecord {
  lastVersion?: number;
}

/** Which environments a change makes stale: one version's, or (no version) all of the function's. */
export type ChangeListener = (name: string, version?: string) => void;

/**
 * Which environments a write retires: '$LATEST' only $LATEST's (its code or configuration
 * changed); 'all' every environment of the function (tags); 'none' none.
 */
export type ChangeScope = '$LATEST' | 'all' | 'none';

export interface FunctionDocumentsDeps {
  store: DocumentStore;
  functionArn(name: string): string;
  /** Told which environments a write (here or, followed, in another process) made stale. */
  notify: ChangeListener;
}

/**
 * The journal's `functions` collection ($LATEST of every function) with its read-through copy
 * in memory. Writes are checked against the journal revision this copy last saw.
 */
export class FunctionDocuments {
  private readonly cache = new Map<string, StoredFunction>();
  /** Journal revision of each function document (RevisionId is Lambda's, not the journal's). */
  private readonly docRevisions = new Map<string, string>();

  constructor(private readonly deps: FunctionDocumentsDeps) {}

  async load(): Promise<void> {
    for (const doc of await this.deps.store.list()) this.put(doc.key, doc.value as StoredFunction, doc.revision);
  }

  /** Applies a change another process made (the journal's watch). */
  mirror(name: string, doc: StoredDocument | undefined): void {
    if (doc?.revision === this.docRevisions.get(name)) return;
    if (doc) {
      this.put(name, doc.value as StoredFunction, doc.revision);
      this.deps.notify(name, '$LATEST');
    } else if (this.forget(name)) {
      this.deps.notify(name);
    }
  }

  has(name: string): boolean {
    return this.cache.has(name);
  }

  get(name: string): StoredFunction | undefined {
    return this.cache.get(name);
  }

  get size(): number {
    return this.cache.size;
  }

  values(): Iterable<StoredFunction> {
    return this.cache.values();
  }

  /** Resolves false if the function exists already. */
  async create(record: StoredFunction): Promise<boolean> {
    const revision = randomUUID();
    if (!(await this.deps.store.create(record.name, record, revision))) return false;
    this.put(record.name, record, revision);
    return true;
  }

  /** Writes a changed record; `scope` says which environments it retires. */
  async replace(name: string, change: (current: StoredFunction) => StoredFunction, scope: ChangeScope): Promise<StoredFunction> {
    const current = this.cache.get(name);
    const expected = this.docRevisions.get(name);
    if (!current || expected === undefined) throw functionNotFound(this.deps.functionArn(name));
    const next = change(current);
    const revision = randomUUID();
    if (!(await this.deps.store.replace(name, next, revision, expected))) {
      throw new StratusError('ResourceConflict', `The operation cannot be performed at this time. An update is in progress for resource: ${this.deps.functionArn(name)}`);
    }
    this.put(name, next, revision);
    if (scope !== 'none') this.deps.notify(name, scope === 'all' ? undefined : scope);
    return next;
  }

  async delete(name: string): Promise<void> {
    await this.deps.store.delete(name);
    this.forget(name);
    this.deps.notify(name);
  }

  private put(name: string, record: StoredFunction, revision: string): void {
    this.cache.set(name, record);
    this.docRevisions.set(name, revision);
  }

  private forget(name: string): boolean {
    this.docRevisions.delete(name);
    return this.cache.delete(name);
  }
}
