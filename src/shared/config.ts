import { z } from 'zod';
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The one typed configuration of Stratus. It is parsed once at start-up; each component is
 * handed only its own slice. Nothing reads process.env after this point.
 */
const defaultWorkerMemoryMb = Math.max(1024, Math.floor((totalmem() / 1024 / 1024) * 0.75));

export const configSchema = z.object({
  dataDir: z.string().default('.stratus'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  identity: z
    .object({
      region: z.string().default('us-east-1'),
      accountId: z.string().regex(/^\d{12}$/).default('000000000000'),
    })
    .default({}),
  frontend: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(9001),
      maxSyncPayloadBytes: z.number().int().positive().default(6 * 1024 * 1024),
      maxAsyncPayloadBytes: z.number().int().positive().default(1024 * 1024),
      maxZipBytes: z.number().int().positive().default(50 * 1024 * 1024),
      maxUnzippedBytes: z.number().int().positive().default(250 * 1024 * 1024),
      signatureMaxSkewMs: z.number().int().positive().default(15 * 60 * 1000),
    })
    .default({}),
  credentials: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).optional(),
  assignment: z
    .object({
      keepAliveMs: z.number().int().positive().default(5 * 60 * 1000),
      sweepIntervalMs: z.number().int().positive().default(1000),
      /** How long a cold start waits for room on a worker before 429. */
      capacityWaitMs: z.number().int().nonnegative().default(10_000),
      /** Lambda's scaling rate: new environments per function per window (1,000 per 10 s). */
      scalingBurst: z.number().int().positive().default(1000),
      scalingWindowMs: z.number().int().positive().default(10_000),
    })
    .default({}),
  concurrency: z
    .object({
      /** The account's concurrent executions (Lambda's default quota). */
      accountLimit: z.number().int().positive().default(1000),
      /** What reserved concurrency must leave unreserved (Lambda: 100). */
      minUnreserved: z.number().int().nonnegative().default(100),
    })
    .default({}),
  asyncInvoke: z
    .object({
      maxRetryAttempts: z.number().int().min(0).max(2).default(2),
      retryDelaysMs: z.array(z.number().int().nonnegative()).default([60_000, 120_000]),
      concurrency: z.number().int().positive().default(Math.max(2, availableParallelism() * 2)),
    })
    .default({}),
  worker: z
    .object({
      memoryMb: z.number().int().positive().default(defaultWorkerMemoryMb),
      /** Sandboxes booting at once; more wait their turn (their init timeout starts when they boot). */
      maxConcurrentBoots: z.number().int().positive().default(Math.max(2, availableParallelism() * 2)),
      /** Warm pool: runtimes booted ahead of any function ("stem cells"), for Node.js functions of warmPoolMemoryMb. */
      warmPoolSize: z.number().int().nonnegative().default(0),
      warmPoolMemoryMb: z.number().int().min(128).default(128),
      /** Where function output goes besides the invoke's log tail. */
      functionLogs: z.enum(['stdout', 'off']).default('stdout'),
    })
    .default({}),
  cluster: z
    .object({
      /** Shared by the control plane and `stratus worker` processes (STRATUS_CLUSTER_TOKEN). */
      token: z.string().min(16).optional(),
      /** A remote worker that has not renewed its lease for this long is gone. */
      leaseMs: z.number().int().positive().default(3000),
      heartbeatMs: z.number().int().positive().default(1000),
    })
    .default({}),
  sandbox: z
    .object({
      bwrapPath: z.string().default('/usr/bin/bwrap'),
      nodePath: z.string().default(process.execPath),
      pythonPath: z.string().default('/usr/bin/python3'),
      slirpPath: z.string().default('/usr/bin/slirp4netns'),
      /** uid/gid the function runs as inside its sandbox (Lambda: sbx_user1051, 993). */
      uid: z.number().int().positive().default(993),
      gid: z.number().int().positive().default(990),
      /** Floor of a sandbox's CPU cap, in cores. Lambda's cap is memoryMb / 1769; 0 applies it strictly. */
      minCpuCores: z.number().min(0).default(1),
      /** Processes and threads per sandbox (Lambda: 1,024). */
      pidsMax: z.number().int().positive().default(1024),
      /** SnapStart: 'criu' checkpoints published versions with criuPath; 'off' reports OptimizationStatus Off. */
      snapStart: z.enum(['criu', 'off']).default('criu'),
      /** scripts/install-criu.sh installs criu 4.1 here. */
      criuPath: z.string().default(fileURLToPath(new URL('../../../.cache/criu/bin/criu', import.meta.url))),
    })
    .default({}),
});

export type StratusConfig = z.infer<typeof configSchema>;
export type FrontendConfig = StratusConfig['frontend'];
export type AssignmentConfig = StratusConfig['assignment'];
export type WorkerConfig = StratusConfig['worker'];
export type SandboxConfig = StratusConfig['sandbox'];
export type Identity = StratusConfig['identity'];
export type AsyncInvokeConfig = StratusConfig['asyncInvoke'];

/** Parse a partial config (from the CLI, a file or a test) into the resolved config. */
export function resolveConfig(input: unknown): StratusConfig {
  const config = configSchema.parse(input ?? {});
  return { ...config, dataDir: resolve(config.dataDir) };
}
