import { z } from 'zod';
import { CHUNK_NAME, IMAGE_DIGEST } from '../codestore/index.js';
import { RUNTIMES, type RuntimeId } from '../shared/runtimes.js';

export type { RuntimeId };

/** Variables Lambda reserves; a function may not set them (the registry refuses them; a worker refuses a spec that sets one). */
export const RESERVED_ENV_KEYS = [
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR', 'TZ',
];

/** A function's own variables: Lambda's names, no reserved one, no NUL (the environ file is NUL-separated). */
const variables = z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]+$/), z.string().regex(/^[^\0]*$/))
  .refine((vars) => !Object.keys(vars).some((k) => RESERVED_ENV_KEYS.includes(k)), { message: 'a reserved variable is set' });

/** A package in the code store: its sha256 (hex) and size. */
const codeRef = z.object({ sha256: z.string().regex(CHUNK_NAME), size: z.number().int().nonnegative() });

/** A zip function: its runtime starts `handler` from the unpacked code at /var/task. */
const zipPackage = z.object({
  type: z.literal('Zip'),
  code: codeRef,
  runtime: z.enum(RUNTIMES),
  handler: z.string(),
});

/** A container-image function: the image brings its runtime; ImageConfig overrides its own settings. */
const imagePackage = z.object({
  type: z.literal('Image'),
  /** The image's digest as placement knows it (sha256 hex of the manifest, size of its filesystem). */
  code: codeRef,
  /** The image manifest's digest (`sha256:...`): the worker mounts the image by it. */
  digest: z.string().regex(IMAGE_DIGEST),
  /** The image's own ENTRYPOINT, CMD, ENV and WORKDIR. */
  config: z.object({ entrypoint: z.array(z.string()), cmd: z.array(z.string()), env: z.array(z.string()), workingDir: z.string() }),
  /** Lambda's ImageConfig; an absent field leaves the image's own value. */
  overrides: z.object({ entryPoint: z.array(z.string()).optional(), command: z.array(z.string()).optional(), workingDirectory: z.string().optional() }).optional(),
});

/** Lambda's LoggingConfig levels (the worker's own copy: it never sees the registry). */
export const APPLICATION_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export const SYSTEM_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN'] as const;

/**
 * LoggingConfig: the format of the function's log lines (its runtime's and the platform's) and
 * their levels (JSON only); `logGroup` is the log group its lines go to.
 */
const logging = z.object({
  format: z.enum(['Text', 'JSON']),
  applicationLogLevel: z.enum(APPLICATION_LOG_LEVELS).optional(),
  systemLogLevel: z.enum(SYSTEM_LOG_LEVELS).optional(),
  logGroup: z.string().regex(/^[.\-_/#A-Za-z0-9]{1,512}$/),
  /** The grant (`shared/log-grants.ts`) under which this worker may post the group's logs to the control plane. */
  grant: z.string().max(128).optional(),
});

/**
 * Everything a worker needs to run one execution environment of a function, and nothing else:
 * the worker's own input (built by assignment from a function version, validated when it
 * crosses the network).
 */
export const environmentSpecSchema = z.object({
  /** The account that owns the function: environments, stems, caches and snapshots of different accounts never mix. */
  accountId: z.string().regex(/^\d{12}$/),
  /** AWS_LAMBDA_FUNCTION_NAME (and the log group); the name in log lines. */
  functionName: z.string().min(1),
  /** AWS_LAMBDA_FUNCTION_VERSION: `$LATEST` or a published version. */
  version: z.string().min(1),
  package: z.discriminatedUnion('type', [zipPackage, imagePackage]),
  /** Lambda's bounds: 128-10,240 MB of memory, 1-900 s, 512-10,240 MB of /tmp. */
  memoryMb: z.number().int().min(128).max(10_240),
  timeoutSec: z.number().int().min(1).max(900),
  /** Size of the sandbox's /tmp. */
  ephemeralStorageMb: z.number().int().min(512).max(10_240),
  /** The function's own environment variables. */
  environment: variables,
  /** The installation's sandbox driver, or gVisor (a function can only ask for the stronger one). */
  sandboxDriver: z.enum(['default', 'gvisor']),
  /** Outbound network through NAT, or only `lo`. */
  network: z.enum(['none', 'outbound']),
  logging,
  /** A zip function's layers in order (at most 5), merged read-only at /opt. */
  layers: z.array(codeRef).min(1).max(5).optional(),
  /** SnapStart: the version's checkpoint (a tar in the code store) to restore clones from. */
  snapshot: codeRef.optional(),
});

export type EnvironmentSpec = z.infer<typeof environmentSpecSchema>;
export type ZipPackage = z.infer<typeof zipPackage>;
export type ImagePackage = z.infer<typeof imagePackage>;
export type LoggingSpec = z.infer<typeof logging>;

