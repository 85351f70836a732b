import { z } from 'zod';
import { CHUNK_NAME, IMAGE_DIGEST } from '../codestore/index.js';

/** The runtimes a worker can launch for a zip function (each has a recipe in launch/zip.ts). */
export const RUNTIMES = ['nodejs20.x', 'python3.11', 'provided.al2023', 'provided.al2'] as const;
export type RuntimeId = (typeof RUNTIMES)[number];

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

/**
 * Everything a worker needs to run one execution environment of a function, and nothing else:
 * the worker's own input (built by assignment from a function version, validated when it
 * crosses the network).
 */
export const environmentSpecSchema = z.object({
  /** AWS_LAMBDA_FUNCTION_NAME (and the log group); the name in log lines. */
  functionName: z.string().min(1),
  /** AWS_LAMBDA_FUNCTION_VERSION: `$LATEST` or a published version. */
  version: z.string().min(1),
  package: z.discriminatedUnion('type', [zipPackage, imagePackage]),
  memoryMb: z.number().int().positive(),
  timeoutSec: z.number().int().positive(),
  /** Size of the sandbox's /tmp. */
  ephemeralStorageMb: z.number().int().positive(),
  /** The function's own environment variables. */
  environment: z.record(z.string(), z.string()),
  /** The installation's sandbox driver, or gVisor (a function can only ask for the stronger one). */
  sandboxDriver: z.enum(['default', 'gvisor']),
  /** Outbound network through NAT, or only `lo`. */
  network: z.enum(['none', 'outbound']),
  /** SnapStart: the version's checkpoint (a tar in the code store) to restore clones from. */
  snapshot: codeRef.optional(),
});

export type EnvironmentSpec = z.infer<typeof environmentSpecSchema>;
export type ZipPackage = z.infer<typeof zipPackage>;
export type ImagePackage = z.infer<typeof imagePackage>;

