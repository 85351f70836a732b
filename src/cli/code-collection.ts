import type { ChunkStore, CodeStore } from '../codestore/index.js';
import { CodeCollector } from '../collector/index.js';
import type { Journal } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';

/**
 * Makes the installation's one code collector (`stratus up`, or a cluster's placement process,
 * where the log expiry runs too), with its counters on this process's metrics. `afterRemoval`:
 * a cluster compacts etcd's history once something was deleted; `held`: on one machine, a
 * backup's hold (`gcHeld`) stops deletions while it is in force.
 */
export function makeCodeCollection(
  config: StratusConfig, stores: { journal: Journal; code: CodeStore; chunks: ChunkStore }, clock: Clock, log: Logger, metrics: Metrics,
  extra: { afterRemoval?: () => Promise<unknown>; held?: () => Promise<boolean> } = {},
): CodeCollector {
  const collector = new CodeCollector({
    ...config.codeCollector, journal: stores.journal, code: stores.code, chunks: stores.chunks, clock, log: log.child({ component: 'code-collector' }), ...extra,
  });
  const totals = collector.totals();
  metrics.counterReadOnScrape('stratus_code_gc_removed_blobs_total', 'Blobs the code collector removed from the code store, by kind (code, chunk, image)', ['kind'],
    () => Object.entries(totals).map(([kind, t]) => [{ kind }, t.blobs] as const));
  metrics.counterReadOnScrape('stratus_code_gc_removed_bytes_total', 'Bytes the code collector removed from the code store, by kind (code, chunk)', ['kind'],
    () => Object.entries(totals).map(([kind, t]) => [{ kind }, t.bytes] as const));
  metrics.counterReadOnScrape('stratus_code_gc_sweeps_total', 'Sweeps the code collector completed (a failed one is logged, not counted)', [], () => [[{}, collector.sweepsCompleted()]]);
  return collector;
}

/** `makeCodeCollection`, started: its metrics are registered once per process, so a process that starts and stops it again (a placement leader) makes it once. */
export async function startCodeCollection(...args: Parameters<typeof makeCodeCollection>): Promise<CodeCollector> {
  const collector = makeCodeCollection(...args);
  await collector.start();
  return collector;
}
