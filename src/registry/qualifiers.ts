import { StratusError } from '../shared/errors.js';
import type { AliasCatalog } from './aliases.js';
import type { FunctionRecord, FunctionVersion } from './model.js';
import type { VersionCatalog } from './versions.js';

/** What a qualifier names: $LATEST (also no qualifier), a published version, or an alias. */
export type Qualifier =
  | { kind: 'latest' }
  | { kind: 'version'; version: string }
  | { kind: 'alias'; alias: string };

/**
 * How an alias picks its version: `weighted` as an invoke does (by its routing weights, on every
 * call); `primary` as GetFunction and provisioned concurrency do (its FunctionVersion).
 */
export type AliasRouting = 'weighted' | 'primary';

const VERSION_NUMBER = /^[0-9]+$/;

export function parseQualifier(qualifier: string | undefined): Qualifier {
  if (qualifier === undefined || qualifier === '$LATEST') return { kind: 'latest' };
  if (VERSION_NUMBER.test(qualifier)) return { kind: 'version', version: qualifier };
  return { kind: 'alias', alias: qualifier };
}

export function isVersionNumber(qualifier: string): boolean {
  return VERSION_NUMBER.test(qualifier);
}

export interface QualifierResolverDeps {
  /** The function ($LATEST) exists. */
  has(name: string): boolean;
  versions: VersionCatalog;
  aliases: AliasCatalog;
  functionArn(name: string): string;
  qualifiedArn(name: string, qualifier?: string): string;
  /** Uniform in [0, 1): picks the version of a weighted alias. */
  random: () => number;
}

/**
 * The one place a qualifier becomes a version: `$LATEST`, a version number, or an alias (weighted
 * or primary). Memory only: an invoke resolves through here.
 */
export class QualifierResolver {
  constructor(private readonly deps: QualifierResolverDeps) {}

  /** "$LATEST" or a version number: the version a qualifier names, an alias followed. */
  versionOf(name: string, qualifier: string | undefined, routing: AliasRouting): string {
    const parsed = parseQualifier(qualifier);
    if (parsed.kind === 'latest') return '$LATEST';
    if (parsed.kind === 'version') return parsed.version;
    const alias = this.deps.aliases.get(name, parsed.alias);
    if (!alias) throw this.notFound(name, parsed.alias);
    return routing === 'weighted' ? this.deps.aliases.pick(alias, this.deps.random) : alias.functionVersion;
  }

  /** The function as the qualifier names it (404 for a version or alias that does not exist). */
  resolve(record: FunctionRecord, qualifier: string | undefined, routing: AliasRouting): FunctionVersion {
    return this.at(record, this.versionOf(record.name, qualifier, routing));
  }

  /** `version` is "$LATEST" or a version number. */
  at(record: FunctionRecord, version: string): FunctionVersion {
    if (version === '$LATEST') return this.latest(record);
    const published = this.deps.versions.get(record.name, version);
    if (!published) throw this.notFound(record.name, version);
    // Properties set on the rest's fresh copy: `{ ...copy, more }` costs several µs on every invoke.
    const { sourceRevisionId: _source, ...snapshot } = published;
    const fn = snapshot as FunctionVersion;
    if (record.tags) fn.tags = record.tags;
    fn.functionArn = this.deps.functionArn(record.name);
    return fn;
  }

  /** "$LATEST" (of an existing function) or a published version exists: what an alias may point to. */
  exists(name: string, version: string): boolean {
    return version === '$LATEST' ? this.deps.has(name) : this.deps.versions.get(name, version) !== undefined;
  }

  notFound(name: string, qualifier?: string): StratusError {
    return functionNotFound(this.deps.qualifiedArn(name, qualifier));
  }

  private latest(record: FunctionRecord & { lastVersion?: number }): FunctionVersion {
    const { lastVersion: _last, ...rest } = record;
    const fn = rest as FunctionVersion;
    fn.version = '$LATEST';
    fn.functionArn = this.deps.functionArn(record.name);
    return fn;
  }
}

/** Lambda's answer for a function, version or alias that does not exist. */
export function functionNotFound(arn: string): StratusError {
  return new StratusError('ResourceNotFound', `Function not found: ${arn}`);
}
