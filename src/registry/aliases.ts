import { randomUUID } from 'node:crypto';
import type { DocumentStore, StoredDocument } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';
import type { AliasRecord } from './model.js';

export interface AliasCatalogDeps {
  store: DocumentStore;
  /** Qualified ARN of a function, for Lambda's messages. */
  arn(name: string, qualifier: string): string;
  /** "$LATEST" or a published version of the function exists. */
  versionExists(name: string, version: string): boolean;
}

/** What CreateAlias / UpdateAlias set; `undefined` leaves a field as it is (on update). */
export interface AliasInput {
  functionVersion?: string;
  description?: string;
  additionalVersionWeights?: Record<string, number>;
}

/**
 * Aliases of every function, kept in the journal's `aliases` collection and mirrored in memory:
 * resolving an alias (weighted routing included) on an invoke touches only this map.
 */
export class AliasCatalog {
  private readonly byFunction = new Map<string, Map<string, AliasRecord>>();

  constructor(private readonly deps: AliasCatalogDeps) {}

  async load(functionExists: (name: string) => boolean): Promise<void> {
    for (const doc of await this.deps.store.list()) {
      const alias = doc.value as AliasRecord;
      if (functionExists(alias.functionName)) this.put(alias);
      else await this.deps.store.delete(doc.key);
    }
  }

  /** Applies a change another process made (the journal's watch). */
  mirror(docKey: string, doc: StoredDocument | undefined): void {
    if (doc) return this.put(doc.value as AliasRecord);
    const [name = '', alias = ''] = docKey.split(':');
    this.byFunction.get(name)?.delete(alias);
  }

  get(name: string, alias: string): AliasRecord | undefined {
    return this.byFunction.get(name)?.get(alias);
  }

  /** GetAlias's error when it is missing. */
  require(name: string, alias: string): AliasRecord {
    const record = this.get(name, alias);
    if (!record) throw new StratusError('ResourceNotFound', `Cannot find alias arn: ${this.deps.arn(name, alias)}`);
    return record;
  }

  /** By name; with `functionVersion`, only the aliases whose primary version it is. */
  list(name: string, functionVersion?: string): AliasRecord[] {
    return [...(this.byFunction.get(name)?.values() ?? [])]
      .filter((a) => functionVersion === undefined || a.functionVersion === functionVersion)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Aliases that send any traffic to `version`. */
  referencing(name: string, version: string): string[] {
    return this.list(name).filter((a) => a.functionVersion === version || version in a.additionalVersionWeights).map((a) => a.name);
  }

  /** The version one invocation through `alias` runs; `random` is uniform in [0, 1). */
  pick(alias: AliasRecord, random: () => number): string {
    for (const [version, weight] of Object.entries(alias.additionalVersionWeights)) {
      if (random() < weight) return version;
    }
    return alias.functionVersion;
  }

  async create(name: string, aliasName: string, input: AliasInput): Promise<AliasRecord> {
    const record: AliasRecord = {
      functionName: name, name: aliasName, functionVersion: input.functionVersion ?? '$LATEST',
      description: input.description ?? '', additionalVersionWeights: input.additionalVersionWeights ?? {}, revisionId: randomUUID(),
    };
    this.checkTargets(record);
    const exists = () => new StratusError('ResourceConflict', `Alias already exists: ${this.deps.arn(name, aliasName)}`);
    if (this.get(name, aliasName)) throw exists();
    if (!(await this.deps.store.create(key(name, aliasName), record, record.revisionId))) throw exists();
    this.put(record);
    return record;
  }

  async update(name: string, aliasName: string, input: AliasInput, expectedRevisionId?: string): Promise<AliasRecord> {
    const current = this.get(name, aliasName);
    if (!current) throw new StratusError('ResourceNotFound', `Alias not found: ${this.deps.arn(name, aliasName)}`);
    if (expectedRevisionId !== undefined && expectedRevisionId !== current.revisionId) {
      throw new StratusError('PreconditionFailed', 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
    }
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as AliasInput;
    const next: AliasRecord = { ...current, ...defined, revisionId: randomUUID() };
    this.checkTargets(next);
    if (!(await this.deps.store.replace(key(name, aliasName), next, next.revisionId, current.revisionId))) {
      throw new StratusError('ResourceConflict', `The operation cannot be performed at this time. An update is in progress for resource: ${this.deps.arn(name, aliasName)}`);
    }
    this.put(next);
    return next;
  }

  /** Resolves false if there was no such alias (DeleteAlias is idempotent). */
  async remove(name: string, aliasName: string): Promise<boolean> {
    const aliases = this.byFunction.get(name);
    if (!aliases?.has(aliasName)) return false;
    await this.deps.store.delete(key(name, aliasName));
    aliases.delete(aliasName);
    return true;
  }

  async removeAll(name: string): Promise<void> {
    for (const alias of this.list(name)) await this.remove(name, alias.name);
    this.byFunction.delete(name);
  }

  /** Lambda's checks on what an alias points to, in Lambda's order. */
  private checkTargets(alias: AliasRecord): void {
    const extra = Object.keys(alias.additionalVersionWeights);
    const invalid = (message: string) => new StratusError('InvalidParameterValue', message);
    if (extra.length > 1) throw invalid('Number of items in AdditionalVersionWeights cannot be greater than 1');
    if (extra.length > 0 && alias.functionVersion === '$LATEST') throw invalid('$LATEST is not supported for an alias pointing to more than 1 version');
    if (extra.includes(alias.functionVersion)) {
      throw invalid(`Invalid function version ${alias.functionVersion}. Function version ${alias.functionVersion} is already included in routing configuration.`);
    }
    for (const version of [alias.functionVersion, ...extra]) {
      if (!this.deps.versionExists(alias.functionName, version)) {
        throw new StratusError('ResourceNotFound', `Function not found: ${this.deps.arn(alias.functionName, version)}`);
      }
    }
  }

  private put(alias: AliasRecord): void {
    let aliases = this.byFunction.get(alias.functionName);
    if (!aliases) this.byFunction.set(alias.functionName, (aliases = new Map()));
    aliases.set(alias.name, alias);
  }
}

function key(name: string, alias: string): string {
  return `${name}:${alias}`;
}
