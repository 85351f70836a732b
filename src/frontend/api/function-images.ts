import type { ImportedImage } from '../../images/index.js';
import type { FunctionRecord, ImageConfigOverrides } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { Validator } from '../http/index.js';

/** What the function routes need of the image importer (pull, flatten, chunk, store). */
export interface ImageSourceImporter {
  import(uri: string): Promise<ImportedImage>;
}

export type PackageType = 'Zip' | 'Image';

const IMAGE_ONLY = "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.";

/** PackageType on CreateFunction (Zip when absent), Lambda's enum check. */
export function readPackageType(v: Validator): PackageType {
  return (v.string('PackageType', 'packageType', { enum: ['Zip', 'Image'] }) ?? 'Zip') as PackageType;
}

/** ImageConfig, as CreateFunction and UpdateFunctionConfiguration take it. */
export function readImageConfig(v: Validator): ImageConfigOverrides | undefined {
  const raw = v.object('ImageConfig', 'imageConfig');
  if (!raw) return undefined;
  const inner = new Validator(raw);
  const out: ImageConfigOverrides = {
    entryPoint: inner.stringList('EntryPoint', 'imageConfig.entryPoint', 1500),
    command: inner.stringList('Command', 'imageConfig.command', 1500),
    workingDirectory: inner.string('WorkingDirectory', 'imageConfig.workingDirectory', { max: 1000 }),
  };
  inner.done();
  return Object.fromEntries(Object.entries(out).filter(([, value]) => value !== undefined)) as ImageConfigOverrides;
}

/** Lambda's rules for mixing package types: what an Image function must not have, and the reverse. */
export function checkPackageFields(packageType: PackageType, body: Record<string, unknown>, code: Record<string, unknown> | undefined): void {
  if (packageType === 'Image') {
    if (body.Runtime !== undefined || body.Handler !== undefined || body.Layers !== undefined) throw new StratusError('InvalidParameterValue', IMAGE_ONLY);
    if (typeof code?.ImageUri !== 'string' || code.ImageUri === '' || code.ZipFile !== undefined) {
      throw new StratusError('InvalidParameterValue', 'Please provide a source for function code.');
    }
    return;
  }
  if (body.ImageConfig !== undefined) throw new StratusError('InvalidParameterValue', "Please don't provide ImageConfig when the intended function PackageType is Zip.");
  if (code?.ImageUri !== undefined) throw new StratusError('InvalidParameterValue', 'Please provide a source for function code.');
  if (body.Runtime === undefined || body.Handler === undefined) {
    throw new StratusError('InvalidParameterValue', 'Runtime and Handler are mandatory parameters for functions created with deployment packages.');
  }
}

/** UpdateFunctionCode must keep the function's package type. */
export function checkCodeUpdate(fn: FunctionRecord, body: Record<string, unknown>): void {
  if (fn.image && (body.ImageUri === undefined || body.ZipFile !== undefined || body.S3Bucket !== undefined)) {
    throw new StratusError('InvalidParameterValue', 'Please provide ImageUri when updating a function with packageType Image.');
  }
  if (!fn.image && body.ImageUri !== undefined) {
    throw new StratusError('InvalidParameterValue', "Please don't provide ImageUri when updating a function with packageType Zip.");
  }
}

/** UpdateFunctionConfiguration: Runtime and Handler stay off an image function, ImageConfig off a zip one. */
export function checkSettingsUpdate(fn: FunctionRecord, body: Record<string, unknown>): void {
  if (fn.image && (body.Runtime !== undefined || body.Handler !== undefined || body.Layers !== undefined)) throw new StratusError('InvalidParameterValue', IMAGE_ONLY);
  if (!fn.image && body.ImageConfig !== undefined) {
    throw new StratusError('InvalidParameterValue', "Please don't provide ImageConfig when the intended function PackageType is Zip.");
  }
}

/** The image as the registry stores it, pulled and chunked (or found already stored). */
export async function importImage(importer: ImageSourceImporter, uri: unknown) {
  if (typeof uri !== 'string' || uri.length === 0) throw new StratusError('InvalidParameterValue', 'Please provide a source for function code.');
  const imported = await importer.import(uri);
  const { manifest } = imported;
  return { image: { uri, resolvedUri: imported.resolvedUri, digest: manifest.digest, config: manifest.config }, size: manifest.size };
}

/** GetFunction's Code for an image function. */
export function imageCodeLocation(fn: FunctionRecord): Record<string, string> | undefined {
  return fn.image && { RepositoryType: 'ECR', ImageUri: fn.image.uri, ResolvedImageUri: fn.image.resolvedUri };
}
