import { z } from 'zod';
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The one typed configuration of Stratus. It is parsed once at start-up; each component is
 * handed only its own slice. Nothing reads process.env after this point.
 */
const defaultWorkerMemoryMb = Math.max(1024, Math.floor((totalmem() / 1024 / 1024) * 0.75));

/** The least `codeCollector.graceMs` accepted: 0 would delete a blob whose upload has not written its document yet. */
export const MIN_CODE_GC_GRACE_MS = 1000;

/**
 * How long an idle environment is kept (src/assignment/keep-alive.ts). 'fixed': assignment's
 * keepAliveMs after every invoke. 'histogram': Shahrad et al.'s hybrid histogram policy (ATC'20):
 * per function version, a histogram of idle times in `bins` bins of `binMs`; when it is
 * representative (at least minSamples idle times, the coefficient of variation of its bin counts
 * at least minCv, its tail within range), the environment is unloaded after an invoke and one is
 * pre-warmed at the head percentile (less the margin) and kept to the tail percentile (plus the
 * margin); otherwise the fixed keep-alive. At most maxFunctions histograms are kept (and
 * maxFunctionsPerAccount per account), least recently invoked forgotten first.
 */
export const keepAliveSchema = z.object({
  policy: z.enum(['fixed', 'histogram']).default('fixed'),
  binMs: z.number().int().positive().default(60_000),
  bins: z.number().int().min(2).max(1440).default(240),
  minSamples: z.number().int().positive().default(10),
  minCv: z.number().min(0).default(2),
  headPercentile: z.number().min(0).max(100).default(5),
  tailPercentile: z.number().min(0).max(100).default(99),
  marginPercent: z.number().min(0).max(100).default(10),
  maxFunctions: z.number().int().positive().default(10_000),
  maxFunctionsPerAccount: z.number().int().positive().default(1000),
});

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
      /** How far a request's signing time may be from now (AWS: 5 minutes); older requests, replays included, are refused. */
      signatureMaxSkewMs: z.number().int().positive().default(5 * 60 * 1000),
      /**
       * SnapStart: a snapshot not made within the init timeout (10 s) plus this long (boot queue,
       * checkpoint, transfer) is given up; the version turns Active with OptimizationStatus Off.
       */
      snapStartDumpBudgetMs: z.number().int().positive().default(120_000),
      /** SnapStart in a cluster: a version Pending this long with no frontend holding its election is made by another frontend. */
      snapStartOrphanMs: z.number().int().positive().default(15_000),
    })
    .default({}),
  /**
   * The metrics listener (`GET /metrics`, Prometheus exposition): an operator's port of its own,
   * never the Lambda API's, since it names every account's functions. Cluster roles and
   * `stratus worker` default to an ephemeral port (printed at start).
   */
  metrics: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(9464),
    })
    .default({}),
  /**
   * Traces: with an OTLP/HTTP traces endpoint (a collector's `http://HOST:4318/v1/traces`), each
   * process exports spans of every invoke there with OpenTelemetry's SDK; without one (the
   * default) no tracer is built and the invoke path pays nothing.
   */
  observability: z
    .object({
      otlpTracesEndpoint: z.string().url().refine((u) => /^https?:\/\//.test(u), 'an http:// or https:// URL').optional(),
    })
    .default({}),
  credentials: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).optional(),
  assignment: z
    .object({
      keepAliveMs: z.number().int().positive().default(5 * 60 * 1000),
      sweepIntervalMs: z.number().int().positive().default(1000),
      /** How long a cold start waits for room on a worker before 429. */
      capacityWaitMs: z.number().int().nonnegative().default(10_000),
      /** After a takeover, how long a cold start waits for an environment the old leader had busy. */
      takeoverReleaseWaitMs: z.number().int().nonnegative().default(2000),
      /** Lambda's scaling rate: new environments per function per window (1,000 per 10 s). */
      scalingBurst: z.number().int().positive().default(1000),
      scalingWindowMs: z.number().int().positive().default(10_000),
      /** The keep-alive policy (absent: fixed, keepAliveMs). */
      keepAlive: keepAliveSchema.optional(),
    })
    .default({}),
  concurrency: z
    .object({
      /** An account's concurrent executions, unless the account sets its own (Lambda's default quota). */
      accountLimit: z.number().int().positive().default(1000),
      /** What reserved concurrency must leave unreserved (Lambda: 100). */
      minUnreserved: z.number().int().nonnegative().default(100),
    })
    .default({}),
  accounts: z
    .object({
      /** Functions an account may have, unless it sets its own quota. */
      maxFunctions: z.number().int().positive().default(100_000),
      /** Code an account may store over $LATEST and all versions, unless it sets its own (Lambda: 75 GB). */
      totalCodeBytes: z.number().int().positive().default(80_530_636_800),
    })
    .default({}),
  asyncInvoke: z
    .object({
      /** Lambda's back-off before the first and the second retry after a function error. */
      retryDelaysMs: z.array(z.number().int().nonnegative()).default([60_000, 120_000]),
      /** After a throttle or a platform error: doubling from base to max, until the event's maximum age. */
      platformRetryBaseMs: z.number().int().positive().default(1000),
      platformRetryMaxMs: z.number().int().positive().default(5 * 60 * 1000),
      /** Events this process runs at once (each may hold an environment, like a synchronous invoke). */
      concurrency: z.number().int().positive().default(Math.max(4, availableParallelism() * 8)),
      /** A claim on a queued event lasts this long and is renewed at a third of it while the event runs. */
      claimMs: z.number().int().positive().default(15_000),
      /** How often the queue is polled for due events (besides wake-ups on local enqueue). */
      pollMs: z.number().int().positive().default(1000),
    })
    .default({}),
  /** Function logs in the journal (the CloudWatch Logs API's store). See docs/observability.md. */
  logs: z
    .object({
      /**
       * Each account's stored log bytes (message bytes plus 26 per event); beyond it the account's
       * earliest-appended events go. Default: 1 GiB on one machine (SQLite), 64 MiB in a cluster (etcd).
       */
      maxBytesPerAccount: z.number().int().positive().optional(),
      /** How often retention and the cap are applied (by `stratus up`, or a cluster's placement process). */
      expireIntervalMs: z.number().int().positive().default(60_000),
    })
    .default({}),
  /** Code garbage collection (src/collector/, run by `stratus up` or a cluster's placement process). See docs/storage-lifecycle.md. */
  codeCollector: z
    .object({
      /**
       * Nothing is deleted within this long of its last upload or of when it stopped being used
       * (when the collector first saw it unused). It must exceed the longest upload or image
       * import (whose document is written after its blobs) and the longest copy of a reference
       * between documents; at least 1 s.
       */
      graceMs: z.number().int().min(MIN_CODE_GC_GRACE_MS, `codeCollector.graceMs must be at least ${MIN_CODE_GC_GRACE_MS} ms (longer than any upload or image import)`).default(60 * 60 * 1000),
      /** The periodic sweep, besides the one at start and those after changes. */
      intervalMs: z.number().int().positive().default(10 * 60 * 1000),
      /** A change of functions, versions or layers asks for a sweep this much later. */
      debounceMs: z.number().int().nonnegative().default(2000),
    })
    .default({}),
  worker: z
    .object({
      memoryMb: z.number().int().positive().default(defaultWorkerMemoryMb),
      /** The worker's zone label: placement spreads each function's environments across zones. */
      zone: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).default('zone-a'),
      /** Sandboxes booting at once; more wait their turn (their init timeout starts when they boot). */
      maxConcurrentBoots: z.number().int().positive().default(Math.max(2, availableParallelism() * 2)),
      /** Warm pool: runtimes booted ahead of any function ("stem cells"), warmPoolSize of each of warmPoolRuntimes, for functions of warmPoolMemoryMb. */
      warmPoolSize: z.number().int().nonnegative().default(0),
      warmPoolRuntimes: z.array(z.enum(['nodejs20.x', 'python3.11'])).min(1).default(['nodejs20.x']),
      warmPoolMemoryMb: z.number().int().min(128).default(128),
      /** SnapStart: clones kept restored (frozen) per version once it has been restored, taken by its next cold starts (0: none). */
      snapStartClones: z.number().int().nonnegative().default(1),
      /**
       * Where function output goes besides the invoke's log tail: the log store (the CloudWatch
       * Logs API), the log store and this process's stdout, or nowhere.
       */
      functionLogs: z.enum(['store', 'stdout', 'off']).default('stdout'),
      /** Function output waits this long to be stored with more (a batch per environment's stream). */
      logFlushMs: z.number().int().positive().default(200),
      /** Function output a worker holds while the log store is unreachable; beyond, the oldest is dropped. */
      logBufferBytes: z.number().int().positive().default(64 * 1024 * 1024),
      /**
       * Lambda freezes an environment between invocations: an idle one (its runtime waiting for
       * work) is frozen this long after it went idle and thawed by its next invocation (-1: never).
       */
      freezeIdleAfterMs: z.number().int().min(-1).default(50),
      /** Function output per environment beyond which it is dropped (with a marker line). */
      logBytesPerSecond: z.number().int().positive().default(4 * 1024 * 1024),
      logBurstBytes: z.number().int().positive().default(8 * 1024 * 1024),
      logBytesPerInvoke: z.number().int().positive().default(32 * 1024 * 1024),
      /**
       * The worker's caches of built code (code and layer images, layer sets, image mounts,
       * unpacked snapshots): an entry no environment has used for cacheIdleMs is unmounted and
       * deleted; beyond cacheBytes, unused ones go earlier, least recently used first.
       */
      cacheIdleMs: z.number().int().positive().default(10 * 60 * 1000),
      cacheBytes: z.number().int().positive().default(20 * 1024 * 1024 * 1024),
    })
    .default({}),
  cluster: z
    .object({
      /**
       * `stratus up`'s internal API (TLS), where `stratus worker` processes join with their own
       * credentials, on the Lambda API's host (0: an ephemeral port, printed at start).
       */
      internalPort: z.number().int().min(0).max(65535).default(0),
      /** A remote worker that has not renewed its lease for this long is gone. */
      leaseMs: z.number().int().positive().default(3000),
      heartbeatMs: z.number().int().positive().default(1000),
      /** The etcd cluster a multi-process Stratus keeps its journal in (empty: one machine, SQLite). */
      etcdEndpoints: z.array(z.string().url()).default([]),
      /** Key prefix of this Stratus in etcd (several can share one etcd). */
      etcdPrefix: z.string().default('/stratus/'),
      /** etcd over TLS: the CA of its members' certificates and this process's client certificate (PEM files). */
      etcdTls: z.object({ caFile: z.string(), certFile: z.string().optional(), keyFile: z.string().optional() }).optional(),
      /** Deadline of every unary etcd call: a raft re-election must not stall a request for long. */
      etcdCallTimeoutMs: z.number().int().positive().default(1500),
      /** The assignment leader's lease (etcd rounds it up to whole seconds, at least its minimum TTL). */
      leaderTtlMs: z.number().int().positive().default(2000),
      /** How often a follower reads the assignment log. */
      followIntervalMs: z.number().int().positive().default(200),
      /** How long a frontend waits for an assignment leader during a failover before 503. */
      failoverWaitMs: z.number().int().positive().default(10_000),
    })
    .default({}),
  /** Placement's fleet: who starts workers (`static`: they join by themselves) and how it scales with traffic. */
  fleet: z
    .object({
      provider: z.enum(['static', 'local-hosts']).default('static'),
      minWorkers: z.number().int().min(0).default(1),
      maxWorkers: z.number().int().min(1).default(4),
      zones: z.array(z.string().regex(/^[a-z0-9-]{1,32}$/)).min(1).default(['zone-a']),
      scaleOutAbove: z.number().gt(0).max(1).default(0.75),
      scaleInBelow: z.number().min(0).lt(1).default(0.25),
      sustainMs: z.number().int().min(0).default(30_000),
      intervalMs: z.number().int().positive().default(1000),
      joinTimeoutMs: z.number().int().positive().default(60_000),
      drainMaxMs: z.number().int().positive().default(300_000),
    })
    .default({}),
  images: z
    .object({
      /**
       * Registries (host, or host:port) pulled from over plain HTTP; every other registry over
       * HTTPS. Default: loopback only, where a test or local registry runs.
       */
      plainHttpRegistries: z.array(z.string()).default(['127.0.0.1', 'localhost', '[::1]']),
      /** Lambda's limit on an image's uncompressed size (10 GB). */
      maxUncompressedBytes: z.number().int().positive().default(10 * 1024 * 1024 * 1024),
      mkfsErofsPath: z.string().default('/usr/bin/mkfs.erofs'),
      /** The worker's local chunk cache (least recently used chunks are evicted beyond it). */
      chunkCacheBytes: z.number().int().positive().default(4 * 1024 * 1024 * 1024),
      /** Chunks the FUSE image server fetches ahead when reads are sequential. */
      prefetchChunks: z.number().int().nonnegative().default(4),
    })
    .default({}),
  sandbox: z
    .object({
      /** The installation's sandbox driver; a function tagged stratus:sandbox=gvisor runs in gVisor either way. */
      driver: z.enum(['bubblewrap', 'gvisor']).default('bubblewrap'),
      bwrapPath: z.string().default('/usr/bin/bwrap'),
      /** gVisor's runsc (Debian's package); without it, only bubblewrap sandboxes are available. */
      runscPath: z.string().default('/usr/bin/runsc'),
      /**
       * Added to a gVisor sandbox's memory limit for the sentry and gofer, which share its cgroup:
       * they add ~21 MB to its charge (measured), so a function gets about what it gets in bubblewrap.
       */
      gvisorMemoryAllowanceMb: z.number().int().nonnegative().default(32),
      nodePath: z.string().default(process.execPath),
      pythonPath: z.string().default('/usr/bin/python3'),
      slirpPath: z.string().default('/usr/bin/slirp4netns'),
      /** uid/gid the function runs as inside its sandbox (Lambda: sbx_user1051, 993). */
      uid: z.number().int().positive().max(65533).default(993),
      gid: z.number().int().positive().max(65533).default(990),
      /** Sandbox ids 1-65535 are host ids hostIdBase+1 .. hostIdBase+65535 (unused by anything on the host). */
      hostIdBase: z.number().int().positive().default(200_000),
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
export type KeepAliveConfig = z.infer<typeof keepAliveSchema>;
export type WorkerConfig = StratusConfig['worker'];
export type SandboxConfig = StratusConfig['sandbox'];
export type ImagesConfig = StratusConfig['images'];
export type Identity = StratusConfig['identity'];
export type AsyncInvokeConfig = StratusConfig['asyncInvoke'];
export type ObservabilityConfig = StratusConfig['observability'];
export type LogsConfig = StratusConfig['logs'];

/** Parse a partial config (from the CLI, a file or a test) into the resolved config. */
export function resolveConfig(input: unknown): StratusConfig {
  const config = configSchema.parse(input ?? {});
  return { ...config, dataDir: resolve(config.dataDir) };
}
