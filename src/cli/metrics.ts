import type { AssignmentService } from '../assignment/index.js';
import type { EventQueue } from '../journal/index.js';
import { functionOfArn } from '../shared/arns.js';
import type { Metrics, Reading } from '../shared/metrics.js';
import type { CacheLeases, CacheStats, ChunkCache, LocalWorkerAgent } from '../worker/index.js';

/**
 * The gauges read at each scrape, wired here because they read several components: nothing is
 * recorded on the invoke path for them.
 */

/** Assignment (the leader's table): concurrent executions and provisioned concurrency per function version. */
export function assignmentMetrics(metrics: Metrics, assignment: () => AssignmentService | undefined): void {
  const labels = ['account', 'function', 'version'];
  const tally = () => {
    const perVersion = new Map<string, { arn: string; version: string; busy: number; provisioned: number; provisionedBusy: number }>();
    for (const env of assignment()?.snapshot() ?? []) {
      const key = `${env.functionArn}\0${env.version}`;
      const t = perVersion.get(key) ?? { arn: env.functionArn, version: env.version, busy: 0, provisioned: 0, provisionedBusy: 0 };
      perVersion.set(key, t);
      // Busy, or initializing for an invocation waiting on it (a cold start).
      const executing = env.state.kind === 'busy' || (env.state.kind === 'initializing' && env.grant !== undefined);
      if (executing) t.busy++;
      if (env.provisioned && env.state.kind !== 'initializing') t.provisioned++;
      if (env.provisioned && env.state.kind === 'busy') t.provisionedBusy++;
    }
    return [...perVersion.values()].map((t) => ({ ...t, labels: { ...functionLabels(t.arn), version: t.version } }));
  };
  metrics.gauge('stratus_concurrent_executions', 'Environments running an invocation (or initializing for one) now', labels,
    () => tally().map((t): Reading => [t.labels, t.busy]));
  metrics.gauge('stratus_provisioned_concurrent_executions', 'Provisioned environments initialized and ready (busy or idle)', labels,
    () => tally().filter((t) => t.provisioned > 0).map((t): Reading => [t.labels, t.provisioned]));
  metrics.gauge('stratus_provisioned_concurrency_utilization', 'Busy provisioned environments over initialized ones (0..1)', labels,
    () => tally().filter((t) => t.provisioned > 0).map((t): Reading => [t.labels, t.provisionedBusy / t.provisioned]));
}

/** A worker: its environments by state, memory, its image chunk cache and its caches of built code. */
export function workerMetrics(metrics: Metrics, worker: LocalWorkerAgent, cache: ChunkCache, caches: CacheLeases): void {
  const id = { worker: worker.id };
  metrics.gauge('stratus_worker_environments', 'Environments on the worker by state (initializing, idle, busy, frozen, dead, warm-pool)', ['worker', 'state'],
    () => [...worker.usage().states].map(([state, n]): Reading => [{ ...id, state }, n]));
  metrics.gauge('stratus_worker_memory_bytes', "The worker's memory for environments", ['worker'], () => [[id, worker.status().memoryMb * 1024 * 1024]]);
  metrics.gauge('stratus_worker_memory_reserved_bytes', 'Memory reserved by its environments (their MemorySize)', ['worker'],
    () => [[id, worker.status().memoryReservedMb * 1024 * 1024]]);
  metrics.gauge('stratus_worker_memory_used_bytes', "Memory its sandboxes used: the sum of each live sandbox's peak (cgroup memory.peak)", ['worker'],
    () => [[id, worker.usage().peakBytes]]);
  metrics.counterReadOnScrape('stratus_chunk_cache_hits_total', "Image chunk reads served from the worker's chunk cache", ['worker'], () => [[id, cache.counters.localHits]]);
  metrics.counterReadOnScrape('stratus_chunk_cache_misses_total', 'Image chunk reads the local cache missed (fetched from a zone peer or the code store)', ['worker'], () => [[id, cache.counters.localMisses]]);
  // The tiers: local hits, then zone peers, then the code store; chunks and bytes by the tier that served them.
  const c = cache.counters;
  metrics.counterReadOnScrape('stratus_chunk_fetches_total', 'Image chunk reads by the tier that served them (local, peer, store)', ['worker', 'tier'],
    () => [[{ ...id, tier: 'local' }, c.localHits], [{ ...id, tier: 'peer' }, c.peerHits], [{ ...id, tier: 'store' }, c.storeFetches]]);
  metrics.counterReadOnScrape('stratus_chunk_fetched_bytes_total', 'Bytes of image chunks fetched, by tier (peer, store)', ['worker', 'tier'],
    () => [[{ ...id, tier: 'peer' }, c.peerBytes], [{ ...id, tier: 'store' }, c.storeBytes]]);
  metrics.counterReadOnScrape('stratus_chunk_peer_rejected_total', 'Chunks a zone peer sent that did not match their sha256 (refused)', ['worker'], () => [[id, c.peerRejected]]);
  metrics.counterReadOnScrape('stratus_chunk_served_to_peers_bytes_total', 'Bytes of image chunks this worker served to its zone peers', ['worker'], () => [[id, c.servedToPeersBytes]]);
  // The chunk cache (an LRU by bytes alone: nothing holds a chunk) beside the caches of built code.
  const chunks = (): CacheStats => {
    const c = cache.stats();
    return { entries: c.cachedChunks, inUse: 0, bytes: c.cachedBytes, evicted: { idle: 0, budget: c.evictions }, evictedBytes: c.evictedBytes };
  };
  const each = <T>(read: (name: string, s: CacheStats) => T[]) => [...caches.stats(), ['chunks', chunks()] as const].flatMap(([name, s]) => read(name, s));
  metrics.gauge('stratus_worker_cache_entries', 'Entries of the worker\'s caches (code, layers, layer-sets, images, snapshots, chunks)', ['worker', 'cache'],
    () => each((name, s): Reading[] => [[{ ...id, cache: name }, s.entries]]));
  metrics.gauge('stratus_worker_cache_bytes', 'Bytes on disk of the worker\'s cache entries', ['worker', 'cache'], () => each((name, s): Reading[] => [[{ ...id, cache: name }, s.bytes]]));
  metrics.counterReadOnScrape('stratus_worker_cache_evictions_total', 'Cache entries removed: unused for the idle time, or over the byte budget', ['worker', 'cache', 'reason'],
    () => each((name, s): Reading[] => (['idle', 'budget'] as const).map((reason): Reading => [{ ...id, cache: name, reason }, s.evicted[reason]])));
  metrics.counterReadOnScrape('stratus_worker_cache_evicted_bytes_total', 'Bytes of the cache entries removed', ['worker', 'cache'],
    () => each((name, s): Reading[] => [[{ ...id, cache: name }, s.evictedBytes]]));
}

/** The durable queue of Event invokes (shared: every frontend of a cluster reports the same depth). */
export function eventQueueMetrics(metrics: Metrics, queue: EventQueue): void {
  metrics.gauge('stratus_async_events_pending', 'Event invokes in the durable queue (waiting, retrying or running)', [], async () => [[{}, await queue.count()]]);
}

/** A function's `account` and `function` labels, from its ARN. */
function functionLabels(arn: string): { account: string; function: string } {
  const { accountId, name } = functionOfArn(arn);
  return { account: accountId, function: name };
}
