import { randomUUID } from 'node:crypto';
import type { DocumentStore, StoredDocument } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';
import type { FunctionUrlRecord } from './model.js';

export interface FunctionUrlCatalogDeps {
  store: DocumentStore;
  /** ARN of the function, qualified by the alias when there is one. */
  arn(name: string, qualifier?: string): string;
}

/** What UpdateFunctionUrlConfig may change. */
export type FunctionUrlPatch = Partial<Pick<FunctionUrlRecord, 'authType' | 'invokeMode' | 'cors'>>;

/**
 * Function URL configurations (one per function and one per alias at most), kept in the
 * journal's `functionUrls` collection and mirrored in memory for the URL request path.
 */
export class FunctionUrlCatalog {
  private readonly configs = new Map<string, FunctionUrlRecord>();
  private readonly revisions = new Map<string, string>();

  constructor(private readonly deps: FunctionUrlCatalogDeps) {}

  async load(functionExists: (name: string) => boolean): Promise<void> {
    for (const doc of await this.deps.store.list()) {
      const config = doc.value as FunctionUrlRecord;
      if (!functionExists(config.functionName)) {
        await this.deps.store.delete(doc.key);
        continue;
      }
      this.configs.set(doc.key, config);
      this.revisions.set(doc.key, doc.revision);
    }
  }

  /** Applies a change another process made (the journal's watch). */
  mirror(docKey: string, doc: StoredDocument | undefined): void {
    if (doc) {
      this.configs.set(docKey, doc.value as FunctionUrlRecord);
      this.revisions.set(docKey, doc.revision);
    } else {
      this.configs.delete(docKey);
      this.revisions.delete(docKey);
    }
  }

  get(name: string, qualifier?: string): FunctionUrlRecord | undefined {
    return this.configs.get(key(name, qualifier));
  }

  /** The function's own URL first, then its aliases' by name. */
  list(name: string): FunctionUrlRecord[] {
    return [...this.configs.values()]
      .filter((c) => c.functionName === name)
      .sort((a, b) => (a.qualifier ?? '') < (b.qualifier ?? '') ? -1 : 1);
  }

  async create(config: FunctionUrlRecord): Promise<FunctionUrlRecord> {
    const k = key(config.functionName, config.qualifier);
    const revision = randomUUID();
    if (this.configs.has(k) || !(await this.deps.store.create(k, config, revision))) {
      throw new StratusError('ResourceConflict', `Failed to create function url config for [functionArn = ${this.deps.arn(config.functionName, config.qualifier)}]. Error message:  FunctionUrlConfig exists for this Lambda function`);
    }
    this.configs.set(k, config);
    this.revisions.set(k, revision);
    return config;
  }

  async update(name: string, qualifier: string | undefined, patch: FunctionUrlPatch, nowMs: number): Promise<FunctionUrlRecord> {
    const k = key(name, qualifier);
    const current = this.configs.get(k);
    const revision = this.revisions.get(k);
    if (!current || revision === undefined) throw notFound();
    const next: FunctionUrlRecord = { ...current, ...definedOnly(patch), lastModifiedMs: nowMs };
    const nextRevision = randomUUID();
    if (!(await this.deps.store.replace(k, next, nextRevision, revision))) {
      throw new StratusError('ResourceConflict', `The operation cannot be performed at this time. An update is in progress for resource: ${this.deps.arn(name, qualifier)}`);
    }
    this.configs.set(k, next);
    this.revisions.set(k, nextRevision);
    return next;
  }

  async remove(name: string, qualifier?: string): Promise<boolean> {
    const k = key(name, qualifier);
    if (!this.configs.has(k)) return false;
    await this.deps.store.delete(k);
    this.configs.delete(k);
    this.revisions.delete(k);
    return true;
  }

  async removeAll(name: string): Promise<void> {
    for (const config of this.list(name)) await this.remove(name, config.qualifier);
  }
}

/** Lambda's answer for a URL configuration that does not exist. */
export function notFound(): StratusError {
  return new StratusError('ResourceNotFound', 'The resource you requested does not exist.');
}

function key(name: string, qualifier: string | undefined): string {
  return qualifier === undefined ? name : `${name}:${qualifier}`;
}

function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
