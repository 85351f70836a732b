import { loadClusterSecrets, PlacementLeader, PlacementService, WorkerDirectory } from '../placement/index.js';
import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { DEFAULT_LOG_BYTES_PER_ACCOUNT, LogExpiry, storeLogs } from '../logs/index.js';
import { openCodeStores, openJournal, serveMetrics, type ClusterProcess, type ProcessOptions } from './cluster.js';
import { makeCodeCollection } from './code-collection.js';
import { startInternalApi } from './internal-api.js';
import { openLogGrants } from './lambda-api.js';
import { openPlacementFleet } from './fleet.js';

/** The leadership of a cluster's placement replicas. */
export const PLACEMENT = 'placement';

/**
 * `stratus placement`: one placement replica. Run several: one leads (elected in etcd, like the
 * assignment service) and holds the workers' leases (they register and heartbeat to it, as with
 * `stratus up`), publishes them as the worker directory in etcd, and alone runs the log expiry
 * and the code collector. Every replica serves code, chunk and image downloads, log ingestion
 * and workers' certificates (all of them read or write etcd, nothing of the leader's); a
 * heartbeat to a follower is refused with NotLeader naming the leader. A new leader adopts the
 * recorded workers with fresh leases, so a failover loses none of them. Every request of a
 * worker carries its own credential; a worker is given its server certificate for its own id
 * only, and a revoked worker's lease ends at once.
 */
export async function startPlacementProcess(config: StratusConfig, opts: ProcessOptions, log: Logger, clock: Clock): Promise<ClusterProcess> {
  const journal = openJournal(config);
  const secrets = await loadClusterSecrets(journal.clusterSecrets, clock.now());
  const { code, chunks, close: closeStores } = openCodeStores(config);
  const placement = new PlacementService({ clock, leaseMs: config.cluster.leaseMs });
  const metrics = new Metrics();
  let leader: PlacementLeader | undefined;
  const mayAct = () => leader?.mayAct() === true;
  // Its writes are fenced by the leadership (an etcd comparison on its election key); deletes deferred without quorum are retried every sweep.
  const directory = new WorkerDirectory(journal.workers, log, { leadership: () => leader?.fence(), clock, retryMs: Math.max(50, Math.floor(config.cluster.leaseMs / 4)) });
  // The worker provider comes first: local-hosts' workers reach placement on the bridge it makes.
  const fleet = await openPlacementFleet(config, journal, secrets, log, clock, mayAct);
  const api = await startInternalApi({
    secrets, credentials: journal.workerCredentials, code, chunks, placement, shipLogs: storeLogs(journal.logs, clock, log), logGrants: await openLogGrants(journal), leaseMs: config.cluster.leaseMs, clock, log, host: fleet.host ?? opts.host, port: fleet.port ?? opts.port,
    onHeartbeat: (worker) => directory.publish(fleet.annotate(worker)),
    leading: () => (leader?.leading() ? true : { leader: leader?.leaderAddress() }),
  }).catch(async (err: unknown) => {
    await fleet.stop();
    throw err;
  });
  placement.onWorkerLost((workerId) => {
    // Fencing: a deposed leader (paused, or cut off from etcd past its lease) expires nobody; one without quorum defers the delete.
    if (!leader?.leading()) return log.warn({ worker: workerId }, 'a worker lease ran out after this replica stopped leading: left to the leader');
    log.warn({ worker: workerId }, 'worker lease expired');
    directory.remove(workerId);
  });
  // The one role of a cluster that sweeps function logs (frontends would all do it at once): its leader.
  const logExpiry = new LogExpiry({
    store: journal.logs, clock, maxBytesPerAccount: config.logs.maxBytesPerAccount ?? DEFAULT_LOG_BYTES_PER_ACCOUNT.etcd,
    intervalMs: config.logs.expireIntervalMs, log: log.child({ component: 'logs' }),
  });
  // And the one that collects unreferenced code (then compacts etcd's history, so the space is returned).
  // Made once (its metrics are registered once); each leadership only starts and stops it.
  const codeCollector = makeCodeCollection(config, { journal, code, chunks }, clock, log, metrics, { afterRemoval: () => code.compact() });
  leader = new PlacementLeader({
    election: journal.election(PLACEMENT, config.cluster.leaderTtlMs), candidate: { id: opts.id, address: api.url }, clock, log, retryMaxMs: config.cluster.leaderTtlMs,
    lead: async () => {
      const end = async () => {
        // Deposed: the leases are the successor's now; drop them without expiring anyone.
        for (const worker of placement.workers()) {
          placement.deregister(worker.id);
          void worker.shutdown();
        }
        await fleet.standDown();
        await logExpiry.stop();
        await codeCollector.stop();
      };
      try {
        // Workers recorded by an earlier leader get a fresh lease (also those whose heartbeats went
        // to it until it failed): gone ones run out.
        for (const worker of await directory.recorded()) api.registrations.adopt(worker);
        logExpiry.start();
        // Only the leader scales the fleet (it alone knows the workers' reservations).
        fleet.start(api.url, placement, directory, metrics);
        await codeCollector.start();
      } catch (err) {
        await end();
        throw err;
      }
      return end;
    },
  });
  metrics.gauge('stratus_workers', 'Workers holding a lease', [], () => [[{}, placement.workers().length]]);
  metrics.gauge('stratus_placement_leader', 'Whether this placement replica leads (1) or follows (0)', [], () => [[{}, leader?.mayAct() ? 1 : 0]]);
  metrics.gauge('stratus_placement_directory_pending_deletes', 'Directory deletes of lost workers deferred (etcd without quorum), retried every sweep', [], () => [[{}, directory.pendingRemovals().length]]);
  metrics.counterReadOnScrape('stratus_placement_elections_total', 'Placement leaderships this replica took over', [], () => [[{}, leader?.elected() ?? 0]]);
  const metricsListener = await serveMetrics(config, metrics, log);
  await leader.start();
  return {
    url: api.url,
    metricsUrl: metricsListener.url,
    async stop() {
      await metricsListener.stop();
      await leader?.stop();
      directory.stop();
      await fleet.stop();
      await api.stop();
      placement.stop();
      await codeCollector.stop();
      closeStores();
      await logExpiry.stop();
      await journal.close();
    },
  };
}
