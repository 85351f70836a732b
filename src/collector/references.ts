import { chunkedBlobDigest } from '../codestore/index.js';
import type { DocumentStore, Journal } from '../journal/index.js';
import type { LayerDocument } from '../layers/index.js';
import type { FunctionLayer, FunctionRecord, PublishedVersion } from '../registry/index.js';
import { StratusError } from '../shared/errors.js';

/** The journal collections whose documents hold code references, of every account. */
export type ReferenceCollections = Pick<Journal, 'functions' | 'versions' | 'layers'>;

/** What a mark reads: the documents of those collections (a live journal's, or a backup's snapshot of one). */
export type ReferenceSources = { [C in keyof ReferenceCollections]: Pick<DocumentStore, 'list'> };

/** What the documents refer to: code-store blobs (sha256 hex) and image manifests (`sha256:` digests). */
export interface References {
  code: Set<string>;
  images: Set<string>;
}

/**
 * Marks every reference that any document of any account holds: $LATEST's zip or image, a
 * published version's zip or image and its SnapStart snapshot (a chunked one by its manifest,
 * which keeps its chunks), the layer copies both keep (`FunctionLayer`: the code stays while a
 * function uses it, even once the layer version is deleted), and every layer version's zip. A document whose references cannot be read stops
 * the mark: deleting on a partial one would lose code something still runs.
 */
export async function markReferences(journal: ReferenceSources): Promise<References> {
  const refs: References = { code: new Set(), images: new Set() };
  for (const doc of await journal.functions.list()) markFunction(refs, doc.value as FunctionRecord, doc.key);
  for (const doc of await journal.versions.list()) {
    const version = doc.value as PublishedVersion;
    markFunction(refs, version, doc.key);
    const image = version.snapshot?.image;
    if (image && version.snapshot?.chunked) refs.images.add(chunkedBlobDigest(digestOf(image.sha256, doc.key)));
    else if (image) refs.code.add(digestOf(image.sha256, doc.key));
  }
  for (const doc of await journal.layers.list()) {
    for (const version of Object.values((doc.value as LayerDocument).versions ?? {})) refs.code.add(digestOf(version.code?.sha256, doc.key));
  }
  return refs;
}

/** A function's or a version's own package and its layers' copies. */
function markFunction(refs: References, fn: Pick<FunctionRecord, 'code' | 'image' | 'layers'>, key: string): void {
  if (fn.image) refs.images.add(fn.image.digest);
  else refs.code.add(digestOf(fn.code?.sha256, key));
  for (const layer of fn.layers ?? ([] as FunctionLayer[])) refs.code.add(digestOf(layer.code?.sha256, key));
}

function digestOf(sha256: string | undefined, key: string): string {
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new StratusError('Internal', `document ${key} names no readable code digest: nothing is collected until it does`);
  }
  return sha256;
}
