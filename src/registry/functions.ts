import { randomUUID } from 'node:crypto';
import type { DocumentStore } from '../journal/index.js';
import { inspectZip, type CodeStore, type ZipLimits } from '../codestore/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { isSupportedRuntime, SUPPORTED_RUNTIMES, type FunctionRecord, type FunctionVersion } from './model.js';

/** The settable part of a function's configuration. */
export type FunctionSettings = Omit<FunctionRecord, 'name' | 'code' | 'lastModifiedMs' | 'revisionId'>;

export interface RegistryDeps {
  store: DocumentStore;
  code: CodeStore;
  clock: Clock;
  zipLimits: ZipLimits;
  arnPrefix: string;
  reservedEnvKeys: readonly string[];
}

type ChangeListener = (name: string) => void;

/**
 * Function metadata: the journal is the source of truth; this keeps a read-through copy in
 * memory so that invokes never touch the journal.
 */
export class FunctionRegistry {
  private readonly cache = new Map<string, FunctionRecord>();
  private readonly listeners: ChangeListener[] = [];

  constructor(private readonly deps: RegistryDeps) {}

  async load(): Promise<void> {
    for (const doc of await this.deps.store.list()) this.cache.set(doc.key, doc.value as FunctionRecord);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  functionArn(name: string): string {
    return `${this.deps.arnPrefix}${name}`;
  }

  get(name: string): FunctionRecord {
    const record = this.cache.get(name);
    if (!record) throw this.notFound(name);
    return record;
  }

  list(): FunctionRecord[] {
    return [...this.cache.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** The version an invoke runs. Only $LATEST exists until versions are published. */
  resolve(name: string, qualifier: string | undefined): FunctionVersion {
    const record = this.cache.get(name);
    if (!record || (qualifier !== undefined && qualifier !== '$LATEST')) throw this.notFound(`${name}:${qualifier ?? '$LATEST'}`);
    return { ...record, version: '$LATEST', functionArn: this.functionArn(name) };
  }

  async create(name: string, settings: FunctionSettings, zip: Buffer): Promise<FunctionRecord> {
    this.checkSettings(settings);
    if (this.cache.has(name)) throw this.exists(name);
    const code = await this.storeZip(zip);
    const record: FunctionRecord = { name, ...settings, code, ...this.stamp() };
    if (!(await this.deps.store.create(name, record, record.revisionId))) throw this.exists(name);
    this.cache.set(name, record);
    return record;
  }

  async updateCode(name: string, zip: Buffer, expectedRevisionId?: string): Promise<FunctionRecord> {
    this.checkRevision(name, expectedRevisionId);
    const code = await this.storeZip(zip);
    return this.replace(name, (current) => ({ ...current, code }));
  }

  async updateSettings(name: string, patch: Partial<FunctionSettings>, expectedRevisionId?: string): Promise<FunctionRecord> {
    const current = this.get(name);
    this.checkRevision(name, expectedRevisionId);
    this.checkSettings({ ...current, ...patch });
    return this.replace(name, (latest) => ({ ...latest, ...patch }));
  }

  async delete(name: string): Promise<void> {
    this.get(name);
    await this.deps.store.delete(name);
    this.cache.delete(name);
    this.notify(name);
  }

  private async replace(name: string, change: (current: FunctionRecord) => FunctionRecord): Promise<FunctionRecord> {
    const current = this.get(name);
    const next = { ...change(current), ...this.stamp() };
    if (!(await this.deps.store.replace(name, next, next.revisionId, current.revisionId))) {
      throw new StratusError('ResourceConflict', `The operation cannot be performed at this time. An update is in progress for resource: ${this.functionArn(name)}`);
    }
    this.cache.set(name, next);
    this.notify(name);
    return next;
  }

  private async storeZip(zip: Buffer): Promise<FunctionRecord['code']> {
    await inspectZip(zip, this.deps.zipLimits);
    return this.deps.code.put(zip);
  }

  private checkSettings(s: FunctionSettings): void {
    if (!isSupportedRuntime(s.runtime)) {
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

  private notify(name: string): void {
    for (const listener of this.listeners) listener(name);
  }

  private notFound(name: string): StratusError {
    return new StratusError('ResourceNotFound', `Function not found: ${this.functionArn(name)}`);
  }

  private exists(name: string): StratusError {
    return new StratusError('ResourceConflict', `Function already exist: ${name}`);
  }
}
