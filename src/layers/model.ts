import type { CodeRef } from '../codestore/index.js';

/** Lambda's instruction set architectures (CompatibleArchitectures). */
export const LAYER_ARCHITECTURES = ['x86_64', 'arm64'] as const;

/** The only action a layer version's policy grants (AddLayerVersionPermission). */
export const GET_LAYER_VERSION = 'lambda:GetLayerVersion';

/** One statement of a layer version's policy: who may use (GetLayerVersion) it. */
export interface LayerStatement {
  sid: string;
  /** An account id, or `*` (every account). */
  principal: string;
  /** With principal `*`: only accounts of this organization (Stratus has none, so it never matches). */
  organizationId?: string;
}

export interface LayerPolicy {
  revisionId: string;
  statements: LayerStatement[];
}

/** A published layer version: immutable but for its policy. */
export interface LayerVersionRecord {
  version: number;
  description: string;
  createdMs: number;
  compatibleRuntimes?: string[];
  compatibleArchitectures?: string[];
  licenseInfo?: string;
  /** The zip in the code store: its sha256 (hex) and zipped size. */
  code: CodeRef;
  /** The sum of its files' sizes (Lambda's 250 MB counts the function and its layers unzipped). */
  unzippedBytes: number;
  policy?: LayerPolicy;
}

/**
 * One layer of one account, as stored in the journal's `layers` collection under
 * `<account id>/<name>`: its versions and the last number given (numbers are never reused, even
 * once every version is deleted).
 */
export interface LayerDocument {
  accountId: string;
  name: string;
  lastVersion: number;
  versions: Record<string, LayerVersionRecord>;
}

/** What a function keeps of each of its layers (a published version keeps its own copy). */
export interface FunctionLayerRef {
  /** The layer version's ARN, as Layers[].Arn shows it. */
  arn: string;
  /** The zip's sha256 and size (Layers[].CodeSize): the worker mounts it under /opt. */
  code: CodeRef;
  unzippedBytes: number;
}
