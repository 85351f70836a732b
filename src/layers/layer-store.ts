import { randomUUID } from 'node:crypto';
import { inspectZip, type CodeStore, type ZipLimits } from '../codestore/index.js';
import type { DocumentStore } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { layerVersionArn, parseLayerVersionArn, type LayerRef } from './arns.js';
import type { FunctionLayerRef, LayerDocument, LayerStatement, LayerVersionRecord } from './model.js';
import { layerAllows, withoutStatement, withStatement } from './policy.js';
import { untilWon } from '../shared/races.js';

export interface LayerStoreDeps {
  /** The journal's `layers` collection. */
  store: DocumentStore;
  code: CodeStore;
  clock: Clock;
  region: string;
  zipLimits: ZipLimits;
  /** The account's code storage quota and the bytes its functions keep; its layer versions count against the same quota. */
  codeStorage(accountId: string): { functionBytes: number; quotaBytes: number };
}

export interface PublishInput {
  zip: Buffer;
  description: string;
  compatibleRuntimes?: string[];
  compatibleArchitectures?: string[];
  licenseInfo?: string;
}

/** Lambda's limit on a function's layers. */
export const MAX_FUNCTION_LAYERS = 5;

/**
 * Every account's layers, in the journal (read there on each call: layers are read at publish,
 * create and update, never on an invoke). An account changes only its own layers; another
 * account's layer version is visible (GetLayerVersion) and usable (a function's Layers) only as
 * that version's policy allows, and is otherwise answered as AWS answers a refused access.
 */
export class LayerStore {
  constructor(private readonly deps: LayerStoreDeps) {}

  get region(): string {
    return this.deps.region;
  }

  /** PublishLayerVersion: the zip is checked (no link, no path out of its root, Lambda's sizes) and stored; the next number is the layer's. */
  async publish(accountId: string, name: string, input: PublishInput): Promise<{ doc: LayerDocument; version: LayerVersionRecord }> {
    const { unzippedBytes } = await inspectZip(input.zip, this.deps.zipLimits);
    const { functionBytes, quotaBytes } = this.deps.codeStorage(accountId);
    if (functionBytes + (await this.codeBytes(accountId)) + input.zip.length > quotaBytes) throw new StratusError('CodeStorageExceeded', 'Code storage limit exceeded.');
    const code = await this.deps.code.put(input.zip);
    let published: LayerVersionRecord | undefined;
    const doc = await this.update(accountId, name, (current) => {
      const base = current ?? { accountId, name, lastVersion: 0, versions: {} };
      const version = base.lastVersion + 1;
      published = {
        version, description: input.description, createdMs: this.deps.clock.now(), code, unzippedBytes,
        ...(input.compatibleRuntimes ? { compatibleRuntimes: input.compatibleRuntimes } : {}),
        ...(input.compatibleArchitectures ? { compatibleArchitectures: input.compatibleArchitectures } : {}),
        ...(input.licenseInfo !== undefined ? { licenseInfo: input.licenseInfo } : {}),
      };
      return { ...base, lastVersion: version, versions: { ...base.versions, [String(version)]: published } };
    });
    if (!published) throw new StratusError('Internal', 'a publish stored no version');
    return { doc, version: published };
  }

  /** One account's layers that have a version, by name. */
  async list(accountId: string): Promise<LayerDocument[]> {
    return listLayers(this.deps.store, accountId);
  }

  /** Bytes of the account's layer versions' zips (its code storage counts them, and TotalCodeSize shows them). */
  async codeBytes(accountId: string): Promise<number> {
    return layerCodeBytes(this.deps.store, accountId);
  }

  /** A layer's versions, newest first (none for a layer that does not exist). */
  async versions(ref: LayerRef): Promise<LayerVersionRecord[]> {
    const doc = await this.read(ref);
    return Object.values(doc?.versions ?? {}).sort((a, b) => b.version - a.version);
  }

  /** A version as `caller` may see it: its own, or another account's that grants it (else AccessDenied, as AWS). */
  async version(caller: string, ref: LayerRef, version: number): Promise<LayerVersionRecord> {
    const found = await this.find(ref, version);
    if (ref.accountId !== caller) {
      if (!found || !layerAllows(found.policy, caller)) throw denied(caller, 'GetLayerVersion', layerVersionArn(ref.region, ref.accountId, ref.name, version));
      return found;
    }
    if (!found) throw new StratusError('ResourceNotFound', 'The resource you requested does not exist.');
    return found;
  }

  /** DeleteLayerVersion: idempotent. Functions that use the version keep their copy (the code stays stored). */
  async deleteVersion(ref: LayerRef, version: number): Promise<void> {
    if (!(await this.find(ref, version))) return;
    await this.update(ref.accountId, ref.name, (current) => {
      const versions = { ...(current?.versions ?? {}) };
      delete versions[String(version)];
      return { accountId: ref.accountId, name: ref.name, lastVersion: current?.lastVersion ?? version, versions };
    });
  }

  async addPermission(ref: LayerRef, version: number, statement: LayerStatement, revisionId?: string): Promise<LayerVersionRecord> {
    return this.changeVersion(ref, version, (v) => ({ ...v, policy: withStatement(v.policy, statement, this.arn(ref, version), revisionId) }));
  }

  async removePermission(ref: LayerRef, version: number, sid: string, revisionId?: string): Promise<void> {
    await this.changeVersion(ref, version, (v) => ({ ...v, policy: withoutStatement(v.policy, sid, revisionId) }));
  }

  /** The version itself, for its owner's policy operations (ResourceNotFound naming it otherwise). */
  async owned(ref: LayerRef, version: number): Promise<LayerVersionRecord> {
    const found = await this.find(ref, version);
    if (!found) throw new StratusError('ResourceNotFound', `Layer version ${this.arn(ref, version)} does not exist.`);
    return found;
  }

  /**
   * A function's Layers, checked as Lambda checks them: at most 5, each a version ARN, in this
   * region, existing, the caller's own or granted to it, and no layer twice.
   */
  async forFunction(caller: string, arns: string[]): Promise<FunctionLayerRef[]> {
    if (arns.length > MAX_FUNCTION_LAYERS) throw new StratusError('InvalidParameterValue', 'Cannot reference more than 5 layers.');
    const seen = new Map<string, string>();
    const out: FunctionLayerRef[] = [];
    for (const arn of arns) {
      const ref = parseLayerVersionArn(arn);
      if (!ref) throw invalidLayers(arns);
      const layer = arn.slice(0, arn.lastIndexOf(':'));
      const earlier = seen.get(layer);
      if (earlier !== undefined) {
        throw new StratusError('InvalidParameterValue', `Two different versions of the same layer are not allowed to be referenced in the same function. ${earlier} and ${arn} are versions of the same layer.`);
      }
      seen.set(layer, arn);
      const found = ref.region === this.deps.region ? await this.find(ref, ref.version) : undefined;
      if (ref.accountId === caller) {
        if (ref.region !== this.deps.region) {
          throw new StratusError('InvalidParameterValue', `Layers are not in the same region as the function. Layers are expected to be in region ${this.deps.region}.`);
        }
        if (!found) throw new StratusError('InvalidParameterValue', `Layer version ${arn} does not exist.`);
      } else if (!found || !layerAllows(found.policy, caller)) {
        throw new StratusError('Forbidden', `${deniedPrefix(caller, 'GetLayerVersion', arn)} because no resource-based policy allows the lambda:GetLayerVersion action`);
      }
      out.push({ arn, code: found.code, unzippedBytes: found.unzippedBytes });
    }
    return out;
  }

  arn(ref: LayerRef, version: number): string {
    return layerVersionArn(ref.region, ref.accountId, ref.name, version);
  }

  private async find(ref: LayerRef, version: number): Promise<LayerVersionRecord | undefined> {
    if (ref.region !== this.deps.region) return undefined;
    return (await this.read(ref))?.versions[String(version)];
  }

  private async read(ref: LayerRef): Promise<LayerDocument | undefined> {
    if (ref.region !== this.deps.region) return undefined;
    return (await this.deps.store.get(`${ref.accountId}/${ref.name}`))?.value as LayerDocument | undefined;
  }

  private async changeVersion(ref: LayerRef, version: number, change: (v: LayerVersionRecord) => LayerVersionRecord): Promise<LayerVersionRecord> {
    let changed: LayerVersionRecord | undefined;
    await this.update(ref.accountId, ref.name, (current) => {
      const v = current?.versions[String(version)];
      if (!current || !v) throw new StratusError('ResourceNotFound', `Layer version ${this.arn(ref, version)} does not exist.`);
      changed = change(v);
      return { ...current, versions: { ...current.versions, [String(version)]: changed } };
    });
    if (!changed) throw new StratusError('Internal', 'a layer version change stored nothing');
    return changed;
  }

  /** Read, change, write with the revision read (again on a concurrent change). */
  private async update(accountId: string, name: string, change: (current: LayerDocument | undefined) => LayerDocument): Promise<LayerDocument> {
    const key = `${accountId}/${name}`;
    return untilWon(20, async () => {
      const stored = await this.deps.store.get(key);
      const next = change(stored?.value as LayerDocument | undefined);
      const revision = randomUUID();
      const written = stored ? await this.deps.store.replace(key, next, revision, stored.revision) : await this.deps.store.create(key, next, revision);
      return written ? next : undefined;
    }, () => new StratusError('ResourceConflict', 'The layer is being changed by another request. Try again.'));
  }
}

function deniedPrefix(caller: string, action: string, resource: string): string {
  return `User: arn:aws:iam::${caller}:root is not authorized to perform: lambda:${action} on resource: ${resource}`;
}

/** AccessDeniedException for an action on another account's layer. */
export function denied(caller: string, action: string, resource: string): StratusError {
  return new StratusError('Forbidden', deniedPrefix(caller, action, resource));
}

function invalidLayers(arns: string[]): StratusError {
  return new StratusError('Validation', `1 validation error detected: Value '[${arns.join(', ')}]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]`);
}

async function listLayers(store: DocumentStore, accountId: string): Promise<LayerDocument[]> {
  return (await store.list(`${accountId}/`))
    .map((d) => d.value as LayerDocument)
    .filter((d) => Object.keys(d.versions).length > 0);
}

/** Bytes of an account's layer versions' zips in the journal's `layers` collection: they count against its code storage. */
export async function layerCodeBytes(store: DocumentStore, accountId: string): Promise<number> {
  return (await listLayers(store, accountId)).reduce((sum, d) => sum + Object.values(d.versions).reduce((n, v) => n + v.code.size, 0), 0);
}
