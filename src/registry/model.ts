import type { CodeRef, ImageRunConfig } from '../codestore/index.js';

import type { RuntimeId } from '../shared/runtimes.js';
import type { LoggingConfig } from './logging.js';
import type { FunctionPolicy } from './policies.js';

/** Runtimes this installation can run (the worker launches the same list). */
export { RUNTIMES as SUPPORTED_RUNTIMES, isRuntimeId as isSupportedRuntime, type RuntimeId } from '../shared/runtimes.js';

/** A function's mutable ($LATEST) definition, as stored in the journal. */
export interface FunctionRecord {
  /** The account that owns the function (12 digits). */
  accountId: string;
  name: string;
  /** Absent for a container-image function (PackageType Image): the image brings its runtime. */
  runtime?: RuntimeId;
  role: string;
  handler: string;
  description: string;
  timeoutSec: number;
  memoryMb: number;
  ephemeralStorageMb: number;
  environment: Record<string, string>;
  /** Environment was given (even as an empty map): Lambda then shows `Environment: { Variables: {} }`. */
  environmentShown?: boolean;
  /** DeadLetterConfig.TargetArn: a Stratus function that gets the event of an Event invoke whose retries ran out. */
  deadLetterTargetArn?: string;
  /** A zip's sha256 and size; for an image, the image manifest's digest and the filesystem image's size. */
  code: CodeRef;
  /** PackageType Image: the image the function runs (see docs/container-images.md). */
  image?: ImageSource;
  /** ImageConfig: overrides of the image's own entry point, command and working directory. */
  imageConfig?: ImageConfigOverrides;
  lastModifiedMs: number;
  revisionId: string;
  /**
   * Resource tags, function-wide (every version sees the current ones); `stratus:network=outbound`
   * gives the function's sandboxes outbound network. Absent or empty: no tags.
   */
  tags?: Record<string, string>;
  /** PutFunctionConcurrency: executions reserved for (and capping) this function, function-wide. */
  reservedConcurrency?: number;
  /** PutProvisionedConcurrencyConfig, per qualifier (a version or an alias). */
  provisioned?: Record<string, ProvisionedConfig>;
  /** PutFunctionEventInvokeConfig, per qualifier ('$LATEST', a version or an alias). */
  eventInvoke?: Record<string, EventInvokeConfig>;
  /** AddPermission / RemovePermission: resource policies per qualifier ('$LATEST' is the function-wide one, see policies.ts). */
  policies?: Record<string, FunctionPolicy>;
  /** SnapStart.ApplyOn: 'PublishedVersions' snapshots each published version. Absent: None. */
  snapStart?: 'PublishedVersions' | 'None';
  /** LoggingConfig (a published version keeps its own). Absent: stored before it existed, read as the default (see logging.ts). */
  loggingConfig?: LoggingConfig;
  /** Layers, in order (a later one's files over an earlier one's under /opt); a published version keeps its own. Absent: none. */
  layers?: FunctionLayer[];
}

/** A layer version a function uses: checked when set (see layers/), kept even if the version is deleted later. */
export interface FunctionLayer {
  /** The layer version's ARN. */
  arn: string;
  /** Its zip in the code store (Layers[].CodeSize is its size). */
  code: CodeRef;
  unzippedBytes: number;
}

/** How Event invocations of one qualifier are retried and where their records go. Absent: Lambda's defaults. */
export interface EventInvokeConfig {
  maximumRetryAttempts?: number;
  maximumEventAgeInSeconds?: number;
  /** Destination ARNs (Stratus functions). */
  onSuccess?: string;
  onFailure?: string;
  lastModifiedMs: number;
}

/** The image of a PackageType Image function, as pulled at create/update time. */
export interface ImageSource {
  /** ImageUri as given (a tag or a digest). */
  uri: string;
  /** `<registry>/<repository>@sha256:...`: what the tag pointed at when it was pulled. */
  resolvedUri: string;
  /** The image manifest digest; the chunk store keeps the image's chunk list under it. */
  digest: string;
  /** The image's own Entrypoint, Cmd, Env and WorkingDir. */
  config: ImageRunConfig;
}

/** Lambda's ImageConfig; an absent field leaves the image's own value. */
export interface ImageConfigOverrides {
  entryPoint?: string[];
  command?: string[];
  workingDirectory?: string;
}

/** SnapStart state of a published version (see docs/snapstart.md). */
export interface VersionSnapshot {
  /** pending: being made (State Pending); ready: clones restore from `image`; off: cold starts boot. */
  status: 'pending' | 'ready' | 'off' | 'failed';
  /** The checkpoint: a tar, its sha256 and size. */
  image?: CodeRef;
  /**
   * The tar is stored in the chunk store, in chunks under the manifest `sha256:<image.sha256>`
   * (`putChunkedBlob`); absent: one code-store blob (snapshots made before chunking).
   */
  chunked?: boolean;
  /** Why SnapStart is off or failed (StateReasonCode, StateReason). */
  reasonCode?: string;
  reason?: string;
}

export interface ProvisionedConfig {
  requested: number;
  lastModifiedMs: number;
}

/** The part of a function that a published version freezes. */
export type FunctionSnapshot = Omit<FunctionRecord, 'tags' | 'reservedConcurrency' | 'provisioned' | 'eventInvoke' | 'policies'>;

/** A published version: an immutable snapshot of $LATEST's code and configuration. */
export interface PublishedVersion extends FunctionSnapshot {
  /** "1", "2", ...: never reused, even after a version is deleted. */
  version: string;
  /** $LATEST's RevisionId right after this version was published: unchanged means nothing to publish. */
  sourceRevisionId: string;
  snapshot?: VersionSnapshot;
}

/** An alias: a name for one version, optionally sharing traffic with a second one. */
export interface AliasRecord {
  functionName: string;
  name: string;
  /** "$LATEST" or a published version. */
  functionVersion: string;
  description: string;
  /** RoutingConfig.AdditionalVersionWeights: at most one other version and its share (0..1). */
  additionalVersionWeights: Record<string, number>;
  revisionId: string;
}

export type UrlAuthType = 'NONE' | 'AWS_IAM';
export type UrlInvokeMode = 'BUFFERED' | 'RESPONSE_STREAM';

export interface UrlCors {
  AllowCredentials?: boolean;
  AllowHeaders?: string[];
  AllowMethods?: string[];
  AllowOrigins?: string[];
  ExposeHeaders?: string[];
  MaxAge?: number;
}

/** A function URL: plain HTTP requests to it invoke the function (or one of its aliases). */
export interface FunctionUrlRecord {
  functionName: string;
  /** The alias it serves; undefined for the unqualified function ($LATEST). */
  qualifier?: string;
  authType: UrlAuthType;
  invokeMode: UrlInvokeMode;
  cors?: UrlCors;
  creationTimeMs: number;
  lastModifiedMs: number;
}

/** An invocable version of a function: what assignment and workers are given. */
export interface FunctionVersion extends FunctionRecord {
  version: string;
  /** Unqualified function ARN. */
  functionArn: string;
  /** A published version's SnapStart state. */
  snapshot?: VersionSnapshot;
}

/**
 * Environments are never shared across accounts, code or configuration changes, versions, or
 * tag sets (tags can change how a sandbox is built, e.g. its network).
 */
export function environmentKey(fn: FunctionVersion): string {
  const base = `${fn.accountId}/${fn.name}:${fn.version}:${fn.revisionId}`;
  return fn.tags ? `${base}${tagsFingerprint(fn.tags)}` : base;
}

function tagsFingerprint(tags: Record<string, string>): string {
  let out = '';
  for (const key of Object.keys(tags).sort()) out += `:${JSON.stringify(key)}=${JSON.stringify(tags[key])}`;
  return out;
}
