import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BubblewrapSandboxDriver, CriuSnapshots, detectCgroups, GvisorSandboxDriver, loadSeccompFilter, type CgroupManager, type SeccompFilter } from '../sandbox/index.js';
import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { DiskSpace } from '../shared/disk-space.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';
import type { Tracer } from '../shared/tracing.js';
import { workerMetrics } from './metrics.js';
import {
  CacheLeases, ChunkCache, type PeerChunkSource, FencedWorkerAgent, FunctionFiles, LayerMounts, LazyImageMounts, LocalWorkerAgent, openRunRoot, removeStaleRunDirs, SnapshotCache, ZipCodeMounts, type CodeSource, type FunctionLogSink,
  LogShipper, type ShipLogs,
} from '../worker/index.js';

export interface HostWorker {
  /** The host's agent, fenced: calls of a deposed assignment leadership are refused. */
  agent: FencedWorkerAgent;
  cgroups: CgroupManager;
  images: LazyImageMounts;
  /** Its image chunk cache (what it serves its zone peers). */
  chunks: ChunkCache;
  stop(): Promise<void>;
}

/**
 * The worker agent of this host, as both `stratus up` (in-process) and `stratus worker` (its
 * own process) run it: bubblewrap (or gVisor) sandboxes in this process's cgroup subtree, each
 * zip as a read-only EROFS image mounted under `<dataDir>/worker/code` from `code`, images mounted
 * lazily under `<dataDir>/worker/images` with their chunks cached in `<dataDir>/worker/chunks`;
 * what no environment uses is removed after `worker.cacheIdleMs` (`CacheLeases`).
 * On start it reconciles with what a killed predecessor left: empty cgroup subtrees, mounts,
 * socket directories and runsc state of dead Stratus processes. It
 * fails if the sandboxes' seccomp filter cannot be made: no sandbox runs without it.
 */
export async function startHostWorker(
  config: StratusConfig, opts: { id: string; code: CodeSource; peers?: PeerChunkSource; shipLogs: ShipLogs; clock: Clock; log: Logger; metrics?: Metrics; tracer?: Tracer; disk?: DiskSpace },
): Promise<HostWorker> {
  const seccomp = await loadSeccompFilter();
  const cgroups = detectCgroups(`stratus-${process.pid}`);
  await cgroups.cleanup();
  await removeStaleRunDirs();
  const disk = opts.disk;
  const caches = new CacheLeases(opts.clock, { idleMs: config.worker.cacheIdleMs, maxBytes: config.worker.cacheBytes }, opts.log.child({ component: 'worker' }), disk && (() => disk.admit()));
  const chunkCache = new ChunkCache(join(config.dataDir, 'worker', 'chunks'), config.images.chunkCacheBytes, opts.code, opts.peers);
  const images = new LazyImageMounts({
    root: join(config.dataDir, 'worker', 'images'),
    cache: chunkCache,
    source: opts.code,
    prefetchChunks: config.images.prefetchChunks,
    nodePath: process.execPath,
    log: opts.log.child({ component: 'images' }),
    caches,
  });
  await images.cleanup();
  const zips = new ZipCodeMounts(join(config.dataDir, 'worker', 'code'), opts.code, {
    maxUnzippedBytes: config.frontend.maxUnzippedBytes, mkfsErofsPath: config.images.mkfsErofsPath,
  }, caches);
  await zips.cleanup();
  const layers = new LayerMounts(join(config.dataDir, 'worker', 'layers'), opts.code, {
    maxUnzippedBytes: config.frontend.maxUnzippedBytes, mkfsErofsPath: config.images.mkfsErofsPath,
  }, caches);
  await layers.cleanup();
  opts.log.info({ cgroups: cgroups.version, seccompInstructions: seccomp.bpf.length / 8 }, 'sandbox resource limits and seccomp filter');
  const gvisor = await gvisorDriver(config, cgroups);
  const bubblewrap = bubblewrapDriver(config, cgroups, seccomp);
  const snapshotCache = new SnapshotCache(join(config.dataDir, 'worker', 'snapshots'), opts.code, caches, chunkCache);
  await snapshotCache.removeScratch();
  const shipper = new LogShipper({
    ship: opts.shipLogs, clock: opts.clock, log: opts.log.child({ component: 'logs' }), flushAfterMs: config.worker.logFlushMs, maxBufferedBytes: config.worker.logBufferBytes,
  });
  const logSink = functionLogSink(config.worker.functionLogs, shipper);
  const local = new LocalWorkerAgent({
    id: opts.id,
    zone: config.worker.zone,
    memoryMb: config.worker.memoryMb,
    maxConcurrentBoots: config.worker.maxConcurrentBoots,
    snapStartClones: config.worker.snapStartClones,
    warmPool: config.worker.warmPoolSize > 0 ? { size: config.worker.warmPoolSize, memoryMb: config.worker.warmPoolMemoryMb, runtimes: config.worker.warmPoolRuntimes } : undefined,
    freezeIdleAfterMs: config.worker.freezeIdleAfterMs >= 0 ? config.worker.freezeIdleAfterMs : undefined,
    logLimits: { bytesPerSecond: config.worker.logBytesPerSecond, burstBytes: config.worker.logBurstBytes, bytesPerInvoke: config.worker.logBytesPerInvoke },
    region: config.identity.region,
    nodePath: config.sandbox.nodePath,
    pythonPath: config.sandbox.pythonPath,
    runRoot: await openRunRoot(opts.log.child({ component: 'worker' })),
    driver: config.sandbox.driver === 'gvisor' && gvisor ? gvisor : bubblewrap,
    gvisorDriver: gvisor,
    snapshotCache,
    taskFiles: new FunctionFiles(zips, images, layers),
    clock: opts.clock,
    log: opts.log.child({ component: 'worker' }),
    logSink,
    metrics: opts.metrics,
    tracer: opts.tracer,
  });
  if (opts.metrics) workerMetrics(opts.metrics, local, chunkCache, caches);
  local.fillWarmPool();
  const agent = new FencedWorkerAgent(local);
  return {
    agent,
    cgroups,
    images,
    chunks: chunkCache,
    async stop() {
      await agent.shutdown();
      await shipper.flush();
      caches.close();
      await images.shutdown();
      await layers.shutdown();
      await zips.shutdown();
      await gvisor?.cleanup();
      await cgroups.cleanup();
    },
  };
}

/** The bubblewrap driver, with CRIU for SnapStart snapshots (unless turned off on this host). */
function bubblewrapDriver(config: StratusConfig, cgroups: CgroupManager, seccomp: SeccompFilter): BubblewrapSandboxDriver {
  const bubblewrap = new BubblewrapSandboxDriver({ ...config.sandbox, cgroups, seccomp });
  bubblewrap.snapshots = new CriuSnapshots({
    criuPath: config.sandbox.criuPath,
    sandbox: { ...config.sandbox, cgroups },
    disabledReason: config.sandbox.snapStart === 'off' ? 'SnapStart is turned off on this host (--snapstart off)' : undefined,
    stateDir: join(config.dataDir, 'worker', 'criu'),
  });
  return bubblewrap;
}

/** gVisor, when runsc is installed (required when it is the installation's driver); leftovers of dead workers removed. */
async function gvisorDriver(config: StratusConfig, cgroups: CgroupManager): Promise<GvisorSandboxDriver | undefined> {
  if (!existsSync(config.sandbox.runscPath)) {
    if (config.sandbox.driver === 'gvisor') throw new Error(`The gvisor sandbox driver needs runsc at ${config.sandbox.runscPath} (scripts/setup.sh installs it)`);
    return undefined;
  }
  const driver = new GvisorSandboxDriver({
    ...config.sandbox, cgroups, root: join(config.dataDir, 'worker', 'gvisor'), memoryAllowanceMb: config.sandbox.gvisorMemoryAllowanceMb,
  });
  await driver.cleanup();
  return driver;
}

/** The log store, with a copy on stdout (`[name] line`) when asked for, or nowhere. */
function functionLogSink(mode: StratusConfig['worker']['functionLogs'], store: LogShipper): FunctionLogSink {
  if (mode === 'off') return { enabled: false, write: () => {} };
  if (mode === 'store') return store;
  return {
    enabled: true,
    write(to, text, source) {
      store.write(to, text, source);
      const lines = text.endsWith('\n') ? text.slice(0, -1) : text;
      process.stdout.write(`[${to.functionName}] ${lines.replaceAll('\n', `\n[${to.functionName}] `)}\n`);
    },
  };
}
