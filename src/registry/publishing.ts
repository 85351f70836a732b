import { randomUUID } from 'node:crypto';
import { StratusError } from '../shared/errors.js';
import type { FunctionDocuments, StoredFunction } from './function-documents.js';
import type { PublishedVersion } from './model.js';
import { checkRevision, stamp } from './settings.js';
import type { VersionCatalog } from './versions.js';

/** What PublishVersion checks and sets. */
export interface PublishOptions {
  /** Base64 SHA-256 the caller expects $LATEST's code to have. */
  codeSha256?: string;
  description?: string;
  revisionId?: string;
}

export interface PublishDeps {
  documents: FunctionDocuments;
  versions: VersionCatalog;
  now(): number;
  notFound(name: string): StratusError;
  /** Throws if a new version of `bytes` of code would pass the account's code storage quota. */
  checkCodeStorage(bytes: number): Promise<void>;
  /** SnapStart: a version whose snapshot is to be made was published. */
  snapshotPending(version: PublishedVersion): void;
}

/**
 * PublishVersion: snapshots $LATEST as the next version number. Nothing changed since the last
 * publish: that version is returned again. $LATEST gets a new RevisionId, as in Lambda.
 */
export async function publishVersion(deps: PublishDeps, name: string, opts: PublishOptions): Promise<PublishedVersion> {
  const fn = deps.documents.get(name);
  if (!fn) throw deps.notFound(name);
  const latest = deps.versions.latest(name);
  const unchanged = latest !== undefined && latest.sourceRevisionId === fn.revisionId;
  if (!unchanged) await deps.checkCodeStorage(fn.code.size);
  checkRevision(fn, opts.revisionId);
  checkCodeSha256(fn, opts.codeSha256);
  if (unchanged) return latest;
  const number = (fn.lastVersion ?? 0) + 1;
  const bumped = await deps.documents.replace(name, (current) => ({ ...current, lastVersion: number, revisionId: randomUUID() }), '$LATEST');
  const { tags: _tags, reservedConcurrency: _reserved, provisioned: _provisioned, eventInvoke: _eventInvoke, policies: _policies, lastVersion: _last, ...snapshot } = fn;
  const version: PublishedVersion = {
    ...snapshot, version: String(number), description: opts.description ?? fn.description,
    ...stamp(deps.now()), sourceRevisionId: bumped.revisionId,
    ...(fn.snapStart === 'PublishedVersions' ? { snapshot: { status: 'pending' as const } } : {}),
  };
  await deps.versions.add(version);
  if (version.snapshot) deps.snapshotPending(version);
  return version;
}

/** CodeSha256 as GetFunctionConfiguration shows it: base64 for a zip, the hex image digest for an image. */
function checkCodeSha256(fn: StoredFunction, expected: string | undefined): void {
  const current = fn.image ? fn.code.sha256 : Buffer.from(fn.code.sha256, 'hex').toString('base64');
  if (expected !== undefined && expected !== current) {
    throw new StratusError('InvalidParameterValue', `CodeSHA256 (${expected}) is different from current CodeSHA256 in $LATEST (${current}). Please try again with the CodeSHA256 in $LATEST.`);
  }
}
