import { randomUUID } from 'node:crypto';
import type { DocumentStore, StoredDocument } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';
import type { PublishedVersion } from './model.js';

/**
 * Published versions of every function: immutable snapshots, kept in the journal's `versions`
 * collection and mirrored in memory so that resolving `fn:3` on an invoke is a map lookup.
 */
export class VersionCatalog {
  private readonly byFunction = new Map<string, Map<string, PublishedVersion>>();
  /** Bytes of code of every version, kept as versions come and go. */
  private readonly totals = { codeBytes: 0 };

  constructor(private readonly store: DocumentStore) {}

  /** Loads every version; ones whose function is gone (a delete cut short) are removed. */
  async load(functionExists: (name: string) => boolean): Promise<void> {
    for (const doc of await this.store.list()) {
      const version = doc.value as PublishedVersion;
      if (functionExists(version.name)) this.put(version);
      else await this.store.delete(doc.key);
    }
  }

  /** Applies a change another process made (the journal's watch). */
  mirror(docKey: string, doc: StoredDocument | undefined): void {
    if (doc) return this.put(doc.value as PublishedVersion);
    const [name = '', version = ''] = docKey.split(':');
    this.drop(name, version);
  }

  /** Bytes of code of every published version of every function. */
  get codeBytes(): number {
    return this.totals.codeBytes;
  }

  get(name: string, version: string): PublishedVersion | undefined {
    return this.byFunction.get(name)?.get(version);
  }

  /** In publication order (1, 2, ..., 10). */
  list(name: string): PublishedVersion[] {
    return [...(this.byFunction.get(name)?.values() ?? [])].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** The version as the journal has it now (the in-memory copy may lag another process's change); undefined if gone. */
  async read(name: string, version: string): Promise<PublishedVersion | undefined> {
    return (await this.store.get(key(name, version)))?.value as PublishedVersion | undefined;
  }

  latest(name: string): PublishedVersion | undefined {
    return this.list(name).at(-1);
  }

  async add(version: PublishedVersion): Promise<void> {
    if (!(await this.store.create(key(version.name, version.version), version, version.revisionId))) {
      throw new StratusError('ResourceConflict', `The operation cannot be performed at this time. Version ${version.version} of ${version.name} is being published.`);
    }
    this.put(version);
  }

  /**
   * Replaces a version's document (SnapStart state) by `change` of the stored one (undefined:
   * no change), compared on its revision: resolves whether it was written. A version that is
   * gone, or that another process changed meanwhile, is left alone.
   */
  async update(name: string, version: string, change: (current: PublishedVersion) => PublishedVersion | undefined): Promise<boolean> {
    const doc = await this.store.get(key(name, version));
    if (!doc || !this.get(name, version)) return false;
    const next = change(doc.value as PublishedVersion);
    if (!next || !(await this.store.replace(key(name, version), next, randomUUID(), doc.revision))) return false;
    this.put(next);
    return true;
  }

  /** Resolves false if there was no such version. */
  async remove(name: string, version: string): Promise<boolean> {
    const versions = this.byFunction.get(name);
    if (!versions?.has(version)) return false;
    await this.store.delete(key(name, version));
    this.drop(name, version);
    return true;
  }

  async removeAll(name: string): Promise<void> {
    for (const version of this.list(name)) await this.remove(name, version.version);
    this.byFunction.delete(name);
  }

  /** Every code digest a version still runs (code downloads, account usage). */
  *all(): Iterable<PublishedVersion> {
    for (const versions of this.byFunction.values()) yield* versions.values();
  }

  private put(version: PublishedVersion): void {
    let versions = this.byFunction.get(version.name);
    if (!versions) this.byFunction.set(version.name, (versions = new Map()));
    this.totals.codeBytes += version.code.size - (versions.get(version.version)?.code.size ?? 0);
    versions.set(version.version, version);
  }

  private drop(name: string, version: string): void {
    const versions = this.byFunction.get(name);
    const gone = versions?.get(version);
    if (!versions || !gone) return;
    this.totals.codeBytes -= gone.code.size;
    versions.delete(version);
  }
}

function key(name: string, version: string): string {
  return `${name}:${version}`;
}
