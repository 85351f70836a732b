import { randomUUID } from 'node:crypto';
import type { DocumentStore, StoredDocument } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';
import type { FunctionRecord } from './model.js';
import { functionNotFound } from './qualifiers.js';
import { SortedNames } from './sorted-names.js';

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
  /** The names in ListFunctions' order. */
  private readonly names = new SortedNames();
  /** Kept as documents come and go, so no create or invoke sums over every function. */
  private readonly totals = { codeBytes: 0, reserved: 0 };

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

  /** Up to `max` functions after `marker` in name order (a binary search, not a sort). */
  page(marker: string | undefined, max: number): { functions: StoredFunction[]; more: boolean } {
    const { names, more } = this.names.page(marker, max);
    return { functions: names.map((name) => this.cache.get(name) as StoredFunction), more };
  }

  /** Bytes of code of every function's $LATEST. */
  get codeBytes(): number {
    return this.totals.codeBytes;
  }

  /** The sum of every function's reserved concurrency. */
  get reservedTotal(): number {
    return this.totals.reserved;
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
    const old = this.cache.get(name);
    if (old) this.count(old, -1);
    else this.names.add(name);
    this.cache.set(name, record);
    this.count(record, 1);
    this.docRevisions.set(name, revision);
  }

  private forget(name: string): boolean {
    this.docRevisions.delete(name);
    const old = this.cache.get(name);
    if (!old) return false;
    this.count(old, -1);
    this.names.delete(name);
    return this.cache.delete(name);
  }

  private count(record: StoredFunction, sign: 1 | -1): void {
    this.totals.codeBytes += sign * record.code.size;
    this.totals.reserved += sign * (record.reservedConcurrency ?? 0);
  }
}
