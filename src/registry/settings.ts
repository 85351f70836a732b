import { randomUUID } from 'node:crypto';
import { inspectZip, type CodeStore, type ZipLimits } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';
import { isSupportedRuntime, SUPPORTED_RUNTIMES, type FunctionRecord, type ImageSource } from './model.js';

/** The settable part of a function's configuration. */
export type FunctionSettings = Omit<FunctionRecord, 'accountId' | 'name' | 'code' | 'image' | 'lastModifiedMs' | 'revisionId' | 'tags' | 'reservedConcurrency' | 'provisioned' | 'eventInvoke' | 'policies'>;

/** A function's code: a zip's bytes, or a container image already pulled into the chunk store. */
export type PackageSource = Buffer | { image: ImageSource; size: number };

/** Lambda's checks on $LATEST's settings (CreateFunction, UpdateFunctionConfiguration). */
export function checkSettings(s: FunctionSettings, isImage: boolean, reservedEnvKeys: readonly string[]): void {
  if (!isImage && (s.runtime === undefined || !isSupportedRuntime(s.runtime))) {
    throw new StratusError(
      'InvalidParameterValue',
      `The runtime parameter of ${s.runtime} is not supported by this Stratus installation. Supported runtimes: ${SUPPORTED_RUNTIMES.join(', ')}.`,
    );
  }
  const reserved = Object.keys(s.environment).filter((k) => reservedEnvKeys.includes(k));
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

/** A write that names the RevisionId it expects fails once $LATEST has moved on. */
export function checkRevision(current: FunctionRecord, expected: string | undefined): void {
  if (expected !== undefined && expected !== current.revisionId) {
    throw new StratusError('PreconditionFailed', 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
  }
}

/** A zip is checked and stored; an image is already in the chunk store (its manifest digest names it). */
export async function storeCode(source: PackageSource, code: CodeStore, zipLimits: ZipLimits): Promise<Pick<FunctionRecord, 'code' | 'image'>> {
  if (!Buffer.isBuffer(source)) return { code: { sha256: source.image.digest.slice('sha256:'.length), size: source.size }, image: source.image };
  await inspectZip(source, zipLimits);
  return { code: await code.put(source) };
}

/** What every change to $LATEST's code or configuration sets: when, and a new RevisionId. */
export function stamp(nowMs: number): Pick<FunctionRecord, 'lastModifiedMs' | 'revisionId'> {
  return { lastModifiedMs: nowMs, revisionId: randomUUID() };
}
