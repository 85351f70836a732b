import type { Journal, StoredDocument } from '../journal/index.js';
import type { CodeStore, ZipLimits } from '../codestore/index.js';
import { functionArn } from '../shared/arns.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { AliasCatalog } from './aliases.js';
import { FunctionDocuments, type ChangeListener, type StoredFunction } from './function-documents.js';
import { FunctionUrlCatalog } from './function-urls.js';
import type { EventInvokeConfig, FunctionRecord, FunctionVersion, PublishedVersion, VersionSnapshot } from './model.js';
import { FUNCTION_POLICY, policyTargetNotFound, withPolicy, type FunctionPolicy } from './policies.js';
import { publishVersion, type PublishOptions } from './publishing.js';
import { isVersionNumber, QualifierResolver } from './qualifiers.js';
import { checkRevision, checkSettings, stamp, storeCode, type FunctionSettings, type PackageSource } from './settings.js';
import { checkTagCount, mergeTags, removeTags } from './tags.js';
import { VersionCatalog } from './versions.js';

/** The journal collections a registry keeps its documents in. */
export type RegistryCollection = 'functions' | 'versions' | 'aliases' | 'functionUrls';

export interface RegistryDeps {
  /** This account's documents only (see FunctionRegistries: each account's are under its own key prefix). */
  journal: Pick<Journal, RegistryCollection>;
  code: CodeStore;
  clock: Clock;
  zipLimits: ZipLimits;
  /** The account whose functions this registry keeps; its ARNs carry this id. */
  accountId: string;
  region: string;
  reservedEnvKeys: readonly string[];
  /** The account's quotas, read at each check (they can be changed while the registry is up). */
  quota(): RegistryQuota;
  /** Bytes of the account's code kept outside its functions (its layer versions), counted against the same quota. */
  otherCodeBytes?(): Promise<number>;
  /** Uniform in [0, 1): picks the version of a weighted alias. */
  random?: () => number;
}

/** What an account may keep: functions, and bytes of code over $LATEST and every version. */
export interface RegistryQuota {
  maxFunctions: number;
  totalCodeBytes: number;
}

/** A function as GetFunction sees it through a qualifier, with the ARN as the caller named it. */
export interface DescribedFunction {
  fn: FunctionVersion;
  arn: string;
}

/**
 * One account's function metadata: $LATEST, published versions, aliases and function URLs. The
 * journal is the source of truth; each part keeps a read-through copy in memory so that invokes
 * never touch it.
 */
export class FunctionRegistry {
  readonly accountId: string;
  readonly versions: VersionCatalog;
  readonly aliases: AliasCatalog;
  readonly urls: FunctionUrlCatalog;
  private readonly documents: FunctionDocuments;
  private readonly qualifiers: QualifierResolver;
  private readonly listeners: ChangeListener[] = [];
  private readonly snapshotListeners: ((version: PublishedVersion) => void)[] = [];

  constructor(private readonly deps: RegistryDeps) {
    this.accountId = deps.accountId;
    const arn = (name: string, qualifier?: string) => this.qualifiedArn(name, qualifier);
    this.documents = new FunctionDocuments({
      store: deps.journal.functions, functionArn: (name) => this.functionArn(name), notify: (name, version) => this.notify(name, version),
    });
    this.versions = new VersionCatalog(deps.journal.versions);
    this.aliases = new AliasCatalog({ store: deps.journal.aliases, arn, versionExists: (name, version) => this.qualifiers.exists(name, version) });
    this.urls = new FunctionUrlCatalog({ store: deps.journal.functionUrls, arn });
    this.qualifiers = new QualifierResolver({
      has: (name) => this.documents.has(name), versions: this.versions, aliases: this.aliases,
      functionArn: (name) => this.functionArn(name), qualifiedArn: arn, random: deps.random ?? Math.random,
    });
  }

  async load(): Promise<void> {
    await this.documents.load();
    const exists = (name: string) => this.documents.has(name);
    await this.versions.load(exists);
    await this.aliases.load(exists);
    await this.urls.load(exists);
  }

  /** Applies a change another process (another frontend of a cluster) made to one of this account's documents. */
  mirror(collection: RegistryCollection, key: string, doc: StoredDocument | undefined): void {
    if (collection === 'functions') return this.documents.mirror(key, doc);
    if (collection === 'aliases') return this.aliases.mirror(key, doc);
    if (collection === 'functionUrls') return this.urls.mirror(key, doc);
    this.versions.mirror(key, doc);
    if (!doc) this.notify(key.split(':')[0] ?? '', key.split(':')[1]);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** SnapStart: told of each newly published version whose snapshot is to be made. */
  onSnapshotPending(listener: (version: PublishedVersion) => void): void {
    this.snapshotListeners.push(listener);
  }

  /**
   * Records the outcome of a Pending version's snapshot (the only change a published version
   * ever sees), once: resolves false, writing nothing, if the version is no longer Pending (another
   * frontend recorded it first) or is gone.
   */
  async setSnapshot(name: string, version: string, snapshot: VersionSnapshot): Promise<boolean> {
    return this.versions.update(name, version, (current) => (current.snapshot?.status === 'pending' ? { ...current, snapshot } : undefined));
  }

  functionArn(name: string): string {
    return functionArn(this.deps.region, this.accountId, name);
  }

  qualifiedArn(name: string, qualifier?: string): string {
    return functionArn(this.deps.region, this.accountId, name, qualifier);
  }

  has(name: string): boolean {
    return this.documents.has(name);
  }

  /** The function, or undefined (no error) if there is none. */
  find(name: string): FunctionRecord | undefined {
    return this.documents.get(name);
  }

  get(name: string): FunctionRecord {
    const record = this.documents.get(name);
    if (!record) throw this.qualifiers.notFound(name);
    return record;
  }

  list(): FunctionRecord[] {
    return this.documents.page(undefined, this.documents.size).functions;
  }

  /** How many functions the account has. */
  get count(): number {
    return this.documents.size;
  }

  /** ListFunctions: up to `max` functions after `marker` in name order, in time independent of the page's position. */
  page(marker: string | undefined, max: number): { functions: FunctionRecord[]; more: boolean } {
    return this.documents.page(marker, max);
  }

  /**
   * The version an invoke runs: $LATEST, a published version, or an alias's version (picked by
   * its weights). Memory only: this is on every invoke's path.
   */
  resolve(name: string, qualifier: string | undefined): FunctionVersion {
    const record = this.documents.get(name);
    if (!record) throw this.qualifiers.notFound(name, qualifier ?? '$LATEST');
    return this.qualifiers.resolve(record, qualifier, 'weighted');
  }

  /**
   * The version provisioned concurrency applies to: a published version, or an alias's primary
   * version. $LATEST is refused as Lambda refuses it.
   */
  provisionedVersion(name: string, qualifier: string): FunctionVersion {
    const record = this.get(name);
    const version = this.qualifiers.versionOf(name, qualifier, 'primary');
    if (version === '$LATEST') {
      throw new StratusError('InvalidParameterValue', 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
    }
    return this.qualifiers.at(record, version);
  }

  /** GetFunction / GetFunctionConfiguration: an alias shows its primary version under the alias's ARN. */
  describe(name: string, qualifier: string | undefined): DescribedFunction {
    const record = this.get(name);
    return { fn: this.qualifiers.resolve(record, qualifier, 'primary'), arn: this.qualifiedArn(name, qualifier) };
  }

  /** What CreateFunction checks before any code is stored (an image pull is slow). */
  checkCreatable(name: string, settings: FunctionSettings, isImage: boolean): void {
    checkSettings(settings, isImage, this.deps.reservedEnvKeys);
    if (this.documents.has(name)) throw exists(name);
    const { maxFunctions } = this.deps.quota();
    if (this.documents.size >= maxFunctions) {
      throw new StratusError('QuotaExceeded', `The account has reached its quota of ${maxFunctions} functions; delete one first.`);
    }
  }

  /** Bytes of code the account keeps: $LATEST and every published version of every function. */
  codeUsage(): number {
    return this.documents.codeBytes + this.versions.codeBytes;
  }

  /** CodeStorageExceededException when `adding` more bytes would pass the account's code storage quota (its layers included). */
  private async checkCodeStorage(adding: number): Promise<void> {
    const other = this.deps.otherCodeBytes ? await this.deps.otherCodeBytes() : 0;
    if (this.codeUsage() + other + adding > this.deps.quota().totalCodeBytes) throw new StratusError('CodeStorageExceeded', 'Code storage limit exceeded.');
  }

  async create(name: string, settings: FunctionSettings, source: PackageSource, tags: Record<string, string> = {}): Promise<FunctionRecord> {
    this.checkCreatable(name, settings, !Buffer.isBuffer(source));
    checkTagCount(tags);
    await this.checkCodeStorage(packageSize(source));
    const code = await storeCode(source, this.deps.code, this.deps.zipLimits);
    const record: StoredFunction = { accountId: this.deps.accountId, name, ...settings, ...code, ...this.stamp(), ...(Object.keys(tags).length > 0 ? { tags } : {}) };
    if (!(await this.documents.create(record))) throw exists(name);
    return record;
  }

  async updateCode(name: string, source: PackageSource, expectedRevisionId?: string): Promise<FunctionRecord> {
    const current = this.get(name);
    checkRevision(current, expectedRevisionId);
    await this.checkCodeStorage(packageSize(source) - current.code.size);
    const code = await storeCode(source, this.deps.code, this.deps.zipLimits);
    return this.documents.replace(name, (current) => ({ ...current, ...code, ...this.stamp() }), '$LATEST');
  }

  async updateSettings(name: string, patch: Partial<FunctionSettings>, expectedRevisionId?: string): Promise<FunctionRecord> {
    const current = this.get(name);
    checkRevision(current, expectedRevisionId);
    checkSettings({ ...current, ...patch }, current.image !== undefined, this.deps.reservedEnvKeys);
    return this.documents.replace(name, (latest) => ({ ...latest, ...patch, ...this.stamp() }), '$LATEST');
  }

  /** PublishVersion (see publishing.ts): the next version number, or the last one if nothing changed. */
  async publish(name: string, opts: PublishOptions = {}): Promise<PublishedVersion> {
    return publishVersion({
      documents: this.documents, versions: this.versions, now: () => this.deps.clock.now(),
      notFound: (fn) => this.qualifiers.notFound(fn), checkCodeStorage: (bytes) => this.checkCodeStorage(bytes),
      snapshotPending: (version) => { for (const listener of this.snapshotListeners) listener(version); },
    }, name, opts);
  }

  /** DeleteFunction: the whole function, or (with a version qualifier) one published version. */
  async delete(name: string, qualifier?: string): Promise<void> {
    this.get(name);
    if (qualifier === '$LATEST') throw new StratusError('InvalidParameterValue', '$LATEST version cannot be deleted without deleting the function.');
    if (qualifier !== undefined) return this.deleteVersion(name, qualifier);
    await this.urls.removeAll(name);
    await this.aliases.removeAll(name);
    await this.versions.removeAll(name);
    await this.documents.delete(name);
  }

  /** DeleteAlias: the alias and its function URL, if any. Idempotent, as in Lambda. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.urls.remove(name, alias);
    await this.aliases.remove(name, alias);
    await this.dropEventInvokeConfig(name, alias);
  }

  /** TagResource: merges, at most 50 tags. Every environment of the function is retired. */
  async tag(name: string, tags: Record<string, string>): Promise<void> {
    const merged = mergeTags(this.get(name).tags ?? {}, tags);
    if (merged) await this.documents.replace(name, (fn) => ({ ...fn, tags: merged }), 'all');
  }

  /** UntagResource: keys that are not there are ignored. */
  async untag(name: string, keys: readonly string[]): Promise<void> {
    const rest = removeTags(this.get(name).tags ?? {}, keys);
    if (!rest) return;
    await this.documents.replace(name, ({ tags: _old, ...fn }) => (Object.keys(rest).length > 0 ? { ...fn, tags: rest } : fn), 'all');
  }

  /** PutFunctionConcurrency / DeleteFunctionConcurrency: no new RevisionId, environments stay warm. */
  async setReservedConcurrency(name: string, value: number | undefined): Promise<void> {
    await this.documents.replace(name, ({ reservedConcurrency: _old, ...fn }) => (value === undefined ? fn : { ...fn, reservedConcurrency: value }), 'none');
  }

  /** PutProvisionedConcurrencyConfig / Delete…: per qualifier; environments are the assignment's business. */
  async setProvisionedConcurrency(name: string, qualifier: string, requested: number | undefined): Promise<void> {
    await this.documents.replace(name, ({ provisioned, ...fn }) => {
      const next = { ...provisioned };
      if (requested === undefined) delete next[qualifier];
      else next[qualifier] = { requested, lastModifiedMs: this.deps.clock.now() };
      return Object.keys(next).length > 0 ? { ...fn, provisioned: next } : fn;
    }, 'none');
  }

  /** Put/Update/DeleteFunctionEventInvokeConfig, per qualifier; environments stay warm. */
  async setEventInvokeConfig(name: string, qualifier: string, config: EventInvokeConfig | undefined): Promise<void> {
    await this.documents.replace(name, ({ eventInvoke, ...fn }) => {
      const next = { ...eventInvoke };
      if (config === undefined) delete next[qualifier];
      else next[qualifier] = config;
      return Object.keys(next).length > 0 ? { ...fn, eventInvoke: next } : fn;
    }, 'none');
  }

  /**
   * AddPermission / RemovePermission on one qualifier's resource policy (FUNCTION_POLICY: the
   * function-wide one; a version or an alias must exist). `change` turns the current policy into
   * the next (undefined: none left); if it throws, nothing changes. Environments stay warm.
   */
  async updatePolicy(name: string, qualifier: string, change: (current: FunctionPolicy | undefined) => FunctionPolicy | undefined): Promise<FunctionPolicy | undefined> {
    this.get(name);
    if (qualifier !== FUNCTION_POLICY) {
      const found = isVersionNumber(qualifier) ? this.versions.get(name, qualifier) : this.aliases.get(name, qualifier);
      if (!found) throw policyTargetNotFound(this.qualifiedArn(name, qualifier), /^[a-zA-Z0-9_-]+$/.test(qualifier) && !isVersionNumber(qualifier));
    }
    let next: FunctionPolicy | undefined;
    await this.documents.replace(name, (fn) => withPolicy(fn, qualifier, (next = change(fn.policies?.[qualifier]))), 'none');
    return next;
  }

  /** The sum of every function's reserved concurrency, optionally leaving one function out (a running total: this is on every invoke's path). */
  reservedConcurrencyTotal(except?: string): number {
    const left = except === undefined ? 0 : (this.documents.get(except)?.reservedConcurrency ?? 0);
    return this.documents.reservedTotal - left;
  }

  /** Size of a stored code package that $LATEST or a version still uses. */
  codeSize(sha256: string): number | undefined {
    for (const fn of this.documents.values()) if (fn.code.sha256 === sha256) return fn.code.size;
    for (const v of this.versions.all()) if (v.code.sha256 === sha256) return v.code.size;
    return undefined;
  }

  private async deleteVersion(name: string, version: string): Promise<void> {
    if (!isVersionNumber(version)) throw new StratusError('InvalidParameterValue', 'Deletion of aliases is not currently supported.');
    const users = this.aliases.referencing(name, version);
    if (users.length > 0) {
      throw new StratusError('ResourceConflict', `Unable to delete version because the following aliases reference it: [${users.join(', ')}]`);
    }
    if (await this.versions.remove(name, version)) this.notify(name, version);
    await this.dropEventInvokeConfig(name, version);
  }

  /** A deleted version or alias takes its event invoke config and its resource policy with it. */
  private async dropEventInvokeConfig(name: string, qualifier: string): Promise<void> {
    if (this.documents.get(name)?.eventInvoke?.[qualifier]) await this.setEventInvokeConfig(name, qualifier, undefined);
    if (this.documents.get(name)?.policies?.[qualifier]) await this.documents.replace(name, (fn) => withPolicy(fn, qualifier, undefined), 'none');
  }

  private stamp(): Pick<FunctionRecord, 'lastModifiedMs' | 'revisionId'> {
    return stamp(this.deps.clock.now());
  }

  private notify(name: string, version?: string): void {
    for (const listener of this.listeners) listener(name, version);
  }
}

/** Bytes a package adds to the account's code storage (a zip's size; an image's filesystem). */
function packageSize(source: PackageSource): number {
  return Buffer.isBuffer(source) ? source.length : source.size;
}

function exists(name: string): StratusError {
  return new StratusError('ResourceConflict', `Function already exist: ${name}`);
}
