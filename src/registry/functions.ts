import { randomUUID } from 'node:crypto';
import type { Journal } from '../journal/index.js';
import { inspectZip, type CodeStore, type ZipLimits } from '../codestore/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { AliasCatalog } from './aliases.js';
import { FunctionUrlCatalog } from './function-urls.js';
import {
  isSupportedRuntime, SUPPORTED_RUNTIMES, type EventInvokeConfig, type FunctionRecord, type FunctionVersion, type ImageSource, type PublishedVersion, type VersionSnapshot,
} from './model.js';
import { VersionCatalog } from './versions.js';

/** The settable part of a function's configuration. */
export type FunctionSettings = Omit<FunctionRecord, 'name' | 'code' | 'image' | 'lastModifiedMs' | 'revisionId' | 'tags' | 'reservedConcurrency' | 'provisioned' | 'eventInvoke'>;

/** A function's code: a zip's bytes, or a container image already pulled into the chunk store. */
export type PackageSource = Buffer | { image: ImageSource; size: number };

export interface RegistryDeps {
  journal: Pick<Journal, 'functions' | 'versions' | 'aliases' | 'functionUrls'>;
  code: CodeStore;
  clock: Clock;
  zipLimits: ZipLimits;
  arnPrefix: string;
  reservedEnvKeys: readonly string[];
  /** Uniform in [0, 1): picks the version of a weighted alias. */
  random?: () => number;
}

/** What PublishVersion checks and sets. */
export interface PublishOptions {
  /** Base64 SHA-256 the caller expects $LATEST's code to have. */
  codeSha256?: string;
  description?: string;
  revisionId?: string;
}

/** A function as GetFunction sees it through a qualifier, with the ARN as the caller named it. */
export interface DescribedFunction {
  fn: FunctionVersion;
  arn: string;
}

/** Which environments a change makes stale: one version's, or (no version) all of the function's. */
type ChangeListener = (name: string, version?: string) => void;

/** The journal document: $LATEST plus the number of the last version ever published. */
interface StoredFunction extends FunctionRecord {
  lastVersion?: number;
}

const MAX_TAGS = 50;
const VERSION_NUMBER = /^[0-9]+$/;

/**
 * Function metadata: $LATEST, published versions, aliases and function URLs. The journal is the
 * source of truth; this keeps a read-through copy in memory so that invokes never touch it.
 */
export class FunctionRegistry {
  readonly versions: VersionCatalog;
  readonly aliases: AliasCatalog;
  readonly urls: FunctionUrlCatalog;
  private readonly cache = new Map<string, StoredFunction>();
  /** Journal revision of each function document (RevisionId is Lambda's, not the journal's). */
  private readonly docRevisions = new Map<string, string>();
  private readonly listeners: ChangeListener[] = [];
  private readonly snapshotListeners: ((version: PublishedVersion) => void)[] = [];
  private readonly random: () => number;

  constructor(private readonly deps: RegistryDeps) {
    this.random = deps.random ?? Math.random;
    const arn = (name: string, qualifier?: string) => this.qualifiedArn(name, qualifier);
    this.versions = new VersionCatalog(deps.journal.versions);
    this.aliases = new AliasCatalog({
      store: deps.journal.aliases, arn,
      versionExists: (name, version) => version === '$LATEST' ? this.cache.has(name) : this.versions.get(name, version) !== undefined,
    });
    this.urls = new FunctionUrlCatalog({ store: deps.journal.functionUrls, arn });
  }

  async load(): Promise<void> {
    for (const doc of await this.deps.journal.functions.list()) {
      this.cache.set(doc.key, doc.value as StoredFunction);
      this.docRevisions.set(doc.key, doc.revision);
    }
    const exists = (name: string) => this.cache.has(name);
    await this.versions.load(exists);
    await this.aliases.load(exists);
    await this.urls.load(exists);
  }

  /**
   * Keeps this copy coherent with changes other processes (other frontends of a cluster) make
   * to the journal. Call before load(). Resolves a function that stops following.
   */
  async follow(): Promise<() => void> {
    const { functions, versions, aliases, functionUrls } = this.deps.journal;
    const stops = await Promise.all([
      functions.watch((name, doc) => {
        if (doc?.revision === this.docRevisions.get(name)) return;
        if (doc) {
          this.cache.set(name, doc.value as StoredFunction);
          this.docRevisions.set(name, doc.revision);
          this.notify(name, '$LATEST');
        } else if (this.cache.delete(name)) {
          this.docRevisions.delete(name);
          this.notify(name);
        }
      }),
      versions.watch((key, doc) => {
        this.versions.mirror(key, doc);
        if (!doc) this.notify(key.split(':')[0] ?? '', key.split(':')[1]);
      }),
      aliases.watch((key, doc) => this.aliases.mirror(key, doc)),
      functionUrls.watch((key, doc) => this.urls.mirror(key, doc)),
    ]);
    return () => stops.forEach((stop) => stop());
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** SnapStart: told of each newly published version whose snapshot is to be made. */
  onSnapshotPending(listener: (version: PublishedVersion) => void): void {
    this.snapshotListeners.push(listener);
  }

  /** Records a version's SnapStart state (the only change a published version ever sees). */
  async setSnapshot(name: string, version: string, snapshot: VersionSnapshot): Promise<void> {
    await this.versions.update(name, version, (current) => ({ ...current, snapshot }));
  }

  functionArn(name: string): string {
    return `${this.deps.arnPrefix}${name}`;
  }

  qualifiedArn(name: string, qualifier?: string): string {
    return qualifier === undefined ? this.functionArn(name) : `${this.deps.arnPrefix}${name}:${qualifier}`;
  }

  has(name: string): boolean {
    return this.cache.has(name);
  }

  /** The function, or undefined (no error) if there is none. */
  find(name: string): FunctionRecord | undefined {
    return this.cache.get(name);
  }

  get(name: string): FunctionRecord {
    const record = this.cache.get(name);
    if (!record) throw this.notFound(name);
    return record;
  }

  list(): FunctionRecord[] {
    return [...this.cache.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * The version an invoke runs: $LATEST, a published version, or an alias's version (picked by
   * its weights). Memory only: this is on every invoke's path.
   */
  resolve(name: string, qualifier: string | undefined): FunctionVersion {
    const record = this.cache.get(name);
    if (!record) throw this.notFound(name, qualifier ?? '$LATEST');
    if (qualifier === undefined || qualifier === '$LATEST') return this.latestVersion(record);
    if (VERSION_NUMBER.test(qualifier)) return this.publishedVersion(record, qualifier);
    const alias = this.aliases.get(name, qualifier);
    if (!alias) throw this.notFound(name, qualifier);
    const version = this.aliases.pick(alias, this.random);
    return version === '$LATEST' ? this.latestVersion(record) : this.publishedVersion(record, version);
  }

  /**
   * The version provisioned concurrency applies to: a published version, or an alias's primary
   * version. $LATEST is refused as Lambda refuses it.
   */
  provisionedVersion(name: string, qualifier: string): FunctionVersion {
    const record = this.get(name);
    if (qualifier === '$LATEST') {
      throw new StratusError('InvalidParameterValue', 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
    }
    if (VERSION_NUMBER.test(qualifier)) return this.publishedVersion(record, qualifier);
    const alias = this.aliases.get(name, qualifier);
    if (!alias) throw this.notFound(name, qualifier);
    if (alias.functionVersion === '$LATEST') {
      throw new StratusError('InvalidParameterValue', 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
    }
    return this.publishedVersion(record, alias.functionVersion);
  }

  /** GetFunction / GetFunctionConfiguration: an alias shows its primary version under the alias's ARN. */
  describe(name: string, qualifier: string | undefined): DescribedFunction {
    const record = this.get(name);
    if (qualifier === undefined) return { fn: this.latestVersion(record), arn: this.functionArn(name) };
    const arn = this.qualifiedArn(name, qualifier);
    if (qualifier === '$LATEST') return { fn: this.latestVersion(record), arn };
    if (VERSION_NUMBER.test(qualifier)) return { fn: this.publishedVersion(record, qualifier), arn };
    const alias = this.aliases.get(name, qualifier);
    if (!alias) throw this.notFound(name, qualifier);
    const fn = alias.functionVersion === '$LATEST' ? this.latestVersion(record) : this.publishedVersion(record, alias.functionVersion);
    return { fn, arn };
  }

  /** What CreateFunction checks before any code is stored (an image pull is slow). */
  checkCreatable(name: string, settings: FunctionSettings, isImage: boolean): void {
    this.checkSettings(settings, isImage);
    if (this.cache.has(name)) throw this.exists(name);
  }

  async create(name: string, settings: FunctionSettings, source: PackageSource, tags: Record<string, string> = {}): Promise<FunctionRecord> {
    this.checkCreatable(name, settings, !Buffer.isBuffer(source));
    checkTagCount(tags);
    const code = await this.storeCode(source);
    const record: StoredFunction = { name, ...settings, ...code, ...this.stamp(), ...(Object.keys(tags).length > 0 ? { tags } : {}) };
    const revision = randomUUID();
    if (!(await this.deps.journal.functions.create(name, record, revision))) throw this.exists(name);
    this.cache.set(name, record);
    this.docRevisions.set(name, revision);
    return record;
  }

  async updateCode(name: string, source: PackageSource, expectedRevisionId?: string): Promise<FunctionRecord> {
    this.checkRevision(name, expectedRevisionId);
    const code = await this.storeCode(source);
    return this.replace(name, (current) => ({ ...current, ...code, ...this.stamp() }), '$LATEST');
  }

  async updateSettings(name: string, patch: Partial<FunctionSettings>, expectedRevisionId?: string): Promise<FunctionRecord> {
    const current = this.get(name);
    this.checkRevision(name, expectedRevisionId);
    this.checkSettings({ ...current, ...patch }, current.image !== undefined);
    return this.replace(name, (latest) => ({ ...latest, ...patch, ...this.stamp() }), '$LATEST');
  }

  /**
   * PublishVersion: snapshots $LATEST as the next version number. Nothing changed since the last
   * publish: that version is returned again. $LATEST gets a new RevisionId, as in Lambda.
   */
  async publish(name: string, opts: PublishOptions = {}): Promise<PublishedVersion> {
    const fn = this.cache.get(name);
    if (!fn) throw this.notFound(name);
    this.checkRevision(name, opts.revisionId);
    // CodeSha256 as GetFunctionConfiguration shows it: base64 for a zip, the hex image digest for an image.
    const currentSha = fn.image ? fn.code.sha256 : Buffer.from(fn.code.sha256, 'hex').toString('base64');
    if (opts.codeSha256 !== undefined && opts.codeSha256 !== currentSha) {
      throw new StratusError('InvalidParameterValue', `CodeSHA256 (${opts.codeSha256}) is different from current CodeSHA256 in $LATEST (${currentSha}). Please try again with the CodeSHA256 in $LATEST.`);
    }
    const latest = this.versions.latest(name);
    if (latest && latest.sourceRevisionId === fn.revisionId) return latest;
    const number = (fn.lastVersion ?? 0) + 1;
    const bumped = await this.replace(name, (current) => ({ ...current, lastVersion: number, revisionId: randomUUID() }), '$LATEST');
    const { tags: _tags, reservedConcurrency: _reserved, provisioned: _provisioned, eventInvoke: _eventInvoke, lastVersion: _last, ...snapshot } = fn;
    const version: PublishedVersion = {
      ...snapshot, version: String(number), description: opts.description ?? fn.description,
      ...this.stamp(), sourceRevisionId: bumped.revisionId,
      ...(fn.snapStart === 'PublishedVersions' ? { snapshot: { status: 'pending' as const } } : {}),
    };
    await this.versions.add(version);
    if (version.snapshot) for (const listener of this.snapshotListeners) listener(version);
    return version;
  }

  /** DeleteFunction: the whole function, or (with a version qualifier) one published version. */
  async delete(name: string, qualifier?: string): Promise<void> {
    this.get(name);
    if (qualifier === '$LATEST') throw new StratusError('InvalidParameterValue', '$LATEST version cannot be deleted without deleting the function.');
    if (qualifier !== undefined) return this.deleteVersion(name, qualifier);
    await this.urls.removeAll(name);
    await this.aliases.removeAll(name);
    await this.versions.removeAll(name);
    await this.deps.journal.functions.delete(name);
    this.cache.delete(name);
    this.docRevisions.delete(name);
    this.notify(name);
  }

  /** DeleteAlias: the alias and its function URL, if any. Idempotent, as in Lambda. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.urls.remove(name, alias);
    await this.aliases.remove(name, alias);
    await this.dropEventInvokeConfig(name, alias);
  }

  /** TagResource: merges, at most 50 tags. Every environment of the function is retired. */
  async tag(name: string, tags: Record<string, string>): Promise<void> {
    const current = this.get(name).tags ?? {};
    const merged = { ...current, ...tags };
    checkTagCount(merged);
    if (Object.entries(tags).every(([k, v]) => current[k] === v)) return;
    await this.replace(name, (fn) => ({ ...fn, tags: merged }));
  }

  /** UntagResource: keys that are not there are ignored. */
  async untag(name: string, keys: readonly string[]): Promise<void> {
    const rest = { ...this.get(name).tags };
    const before = Object.keys(rest).length;
    for (const key of keys) delete rest[key];
    if (Object.keys(rest).length === before) return;
    await this.replace(name, ({ tags: _old, ...fn }) => (Object.keys(rest).length > 0 ? { ...fn, tags: rest } : fn));
  }

  /** PutFunctionConcurrency / DeleteFunctionConcurrency: no new RevisionId, environments stay warm. */
  async setReservedConcurrency(name: string, value: number | undefined): Promise<void> {
    await this.replace(name, ({ reservedConcurrency: _old, ...fn }) => (value === undefined ? fn : { ...fn, reservedConcurrency: value }), 'none');
  }

  /** PutProvisionedConcurrencyConfig / Delete…: per qualifier; environments are the assignment's business. */
  async setProvisionedConcurrency(name: string, qualifier: string, requested: number | undefined): Promise<void> {
    await this.replace(name, ({ provisioned, ...fn }) => {
      const next = { ...provisioned };
      if (requested === undefined) delete next[qualifier];
      else next[qualifier] = { requested, lastModifiedMs: this.deps.clock.now() };
      return Object.keys(next).length > 0 ? { ...fn, provisioned: next } : fn;
    }, 'none');
  }

  /** Put/Update/DeleteFunctionEventInvokeConfig, per qualifier; environments stay warm. */
  async setEventInvokeConfig(name: string, qualifier: string, config: EventInvokeConfig | undefined): Promise<void> {
    await this.replace(name, ({ eventInvoke, ...fn }) => {
      const next = { ...eventInvoke };
      if (config === undefined) delete next[qualifier];
      else next[qualifier] = config;
      return Object.keys(next).length > 0 ? { ...fn, eventInvoke: next } : fn;
    }, 'none');
  }

  /** The sum of every function's reserved concurrency, optionally leaving one function out. */
  reservedConcurrencyTotal(except?: string): number {
    let total = 0;
    for (const fn of this.cache.values()) if (fn.name !== except) total += fn.reservedConcurrency ?? 0;
    return total;
  }

  /** Size of a stored code package that $LATEST or a version still uses. */
  codeSize(sha256: string): number | undefined {
    for (const fn of this.cache.values()) if (fn.code.sha256 === sha256) return fn.code.size;
    for (const v of this.versions.all()) if (v.code.sha256 === sha256) return v.code.size;
    return undefined;
  }

  private async deleteVersion(name: string, version: string): Promise<void> {
    if (!VERSION_NUMBER.test(version)) throw new StratusError('InvalidParameterValue', 'Deletion of aliases is not currently supported.');
    const users = this.aliases.referencing(name, version);
    if (users.length > 0) {
      throw new StratusError('ResourceConflict', `Unable to delete version because the following aliases reference it: [${users.join(', ')}]`);
    }
    if (await this.versions.remove(name, version)) this.notify(name, version);
    await this.dropEventInvokeConfig(name, version);
  }

  /** A deleted version or alias takes its event invoke config with it. */
  private async dropEventInvokeConfig(name: string, qualifier: string): Promise<void> {
    if (this.cache.get(name)?.eventInvoke?.[qualifier]) await this.setEventInvokeConfig(name, qualifier, undefined);
  }

  private latestVersion(record: StoredFunction): FunctionVersion {
    const { lastVersion: _last, ...fn } = record;
    return { ...fn, version: '$LATEST', functionArn: this.functionArn(record.name) };
  }

  private publishedVersion(record: FunctionRecord, version: string): FunctionVersion {
    const published = this.versions.get(record.name, version);
    if (!published) throw this.notFound(record.name, version);
    const { sourceRevisionId: _source, ...snapshot } = published;
    return { ...snapshot, ...(record.tags ? { tags: record.tags } : {}), functionArn: this.functionArn(record.name) };
  }

  /**
   * Writes a new $LATEST document. `scope` '$LATEST' retires only $LATEST's environments (its code
   * or configuration changed); without it every environment of the function goes (tags).
   */
  /** Writes a changed record; `scope` says which environments it retires ('none': none). */
  private async replace(name: string, change: (current: StoredFunction) => StoredFunction, scope?: '$LATEST' | 'none'): Promise<StoredFunction> {
    const current = this.cache.get(name);
    const expected = this.docRevisions.get(name);
    if (!current || expected === undefined) throw this.notFound(name);
    const next = change(current);
    const revision = randomUUID();
    if (!(await this.deps.journal.functions.replace(name, next, revision, expected))) {
      throw new StratusError('ResourceConflict', `The operation cannot be performed at this time. An update is in progress for resource: ${this.functionArn(name)}`);
    }
    this.cache.set(name, next);
    this.docRevisions.set(name, revision);
    if (scope !== 'none') this.notify(name, scope);
    return next;
  }

  /** A zip is checked and stored; an image is already in the chunk store (its manifest digest names it). */
  private async storeCode(source: PackageSource): Promise<Pick<FunctionRecord, 'code' | 'image'>> {
    if (!Buffer.isBuffer(source)) return { code: { sha256: source.image.digest.slice('sha256:'.length), size: source.size }, image: source.image };
    await inspectZip(source, this.deps.zipLimits);
    return { code: await this.deps.code.put(source) };
  }

  private checkSettings(s: FunctionSettings, isImage = false): void {
    if (!isImage && (s.runtime === undefined || !isSupportedRuntime(s.runtime))) {
      throw new StratusError(
        'InvalidParameterValue',
        `The runtime parameter of ${s.runtime} is not supported by this Stratus installation. Supported runtimes: ${SUPPORTED_RUNTIMES.join(', ')}.`,
      );
    }
    const reserved = Object.keys(s.environment).filter((k) => this.deps.reservedEnvKeys.includes(k));
    if (reserved.length > 0) {
      throw new StratusError(
        'InvalidParameterValue',
        `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
      );
    }
    if (Buffer.byteLength(JSON.stringify(s.environment)) > 4096) {
      throw new StratusError(
        'InvalidParameterValue',
        'Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.',
      );
    }
  }

  private checkRevision(name: string, expected: string | undefined): void {
    const current = this.get(name);
    if (expected !== undefined && expected !== current.revisionId) {
      throw new StratusError('PreconditionFailed', 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
    }
  }

  private stamp(): Pick<FunctionRecord, 'lastModifiedMs' | 'revisionId'> {
    return { lastModifiedMs: this.deps.clock.now(), revisionId: randomUUID() };
  }

  private notify(name: string, version?: string): void {
    for (const listener of this.listeners) listener(name, version);
  }

  private notFound(name: string, qualifier?: string): StratusError {
    return new StratusError('ResourceNotFound', `Function not found: ${this.qualifiedArn(name, qualifier)}`);
  }

  private exists(name: string): StratusError {
    return new StratusError('ResourceConflict', `Function already exist: ${name}`);
  }
}

function checkTagCount(tags: Record<string, string>): void {
  if (Object.keys(tags).length > MAX_TAGS) throw new StratusError('InvalidParameterValue', 'Number of tags exceeds resource tag limit.');
}
