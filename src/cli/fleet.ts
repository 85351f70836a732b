import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EtcdJournal } from '../journal/index.js';
import {
  announceWorkerSize, FleetDemandReader, FleetScaler, LocalHostsProvider, type FleetMember, StaticWorkerProvider, WorkerCredentials, type ClusterSecrets, type PlacementService, type WorkerDirectory, type WorkerDocument, type WorkerProvider,
} from '../placement/index.js';
import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';
import type { WorkerStatus } from '../worker/index.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface PlacementFleet {
  /** Where placement must listen for the provider's workers to reach it (undefined: where it was told). */
  host?: string;
  /** The port it must listen on there (local-hosts: the one every replica of this machine listens on, each at its own address). */
  port?: number;
  /** A heartbeat's directory entry, marked as the scaler drains the worker or not once it knows every drain (until then, unmarked: the directory keeps a recorded mark). */
  annotate(doc: WorkerDocument): WorkerDocument;
  /** Starts (or resumes) scaling, on the placement leader, once its internal API listens at `url`. */
  start(url: string, placement: PlacementService, directory: WorkerDirectory, metrics: Metrics): void;
  /** Stops scaling (this replica no longer leads); the workers the provider started stay. */
  standDown(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The placement process's fleet: the configured WorkerProvider (made before placement listens:
 * `local-hosts` makes the bridge placement listens on) and the FleetScaler over it, fed by the
 * workers' heartbeats and by the assignment leader's count of cold starts that found no room
 * (the journal's `fleetDemand` document), and fenced by the placement leadership (`mayAct`). A
 * drained worker is marked in the worker directory, which is how every assignment leader learns
 * to place and grant nothing there; the drains a leader finds recorded there of workers its
 * provider started are its own to finish, any other mark it clears (the directory, not this
 * process, is their record). The leader also announces the memory of the workers its provider
 * starts, against which assignment counts demand.
 */
export async function openPlacementFleet(
  config: StratusConfig, journal: EtcdJournal, secrets: ClusterSecrets, log: Logger, clock: Clock, mayAct: () => boolean,
): Promise<PlacementFleet> {
  const credentials = new WorkerCredentials(journal.workerCredentials);
  const fleetLog = log.child({ component: 'fleet' });
  const provider: WorkerProvider & { address?: string; port?: number; setControlPlane?(url: string): void } = config.fleet.provider === 'local-hosts'
    ? await LocalHostsProvider.open({
      stateDir: join(config.dataDir, 'local-hosts'),
      command: [process.execPath, MAIN],
      workerArgs: ['--worker-memory-mb', String(config.worker.memoryMb), '--heartbeat-ms', String(config.cluster.heartbeatMs), '--log-level', config.logLevel],
      issueCredential: async (id) => ({ ...(await credentials.add(id, clock.now())), caCertificate: secrets.ca.certPem }),
      revokeCredential: (id) => credentials.revoke(id, clock.now()),
      log: fleetLog, clock, mayAct,
    })
    : new StaticWorkerProvider();
  const latest = new Map<string, WorkerDocument>();
  const demand = new FleetDemandReader(journal.fleetDemand, fleetLog);
  let scaler: FleetScaler | undefined;
  // Once the scaler knows every drain, a heartbeat re-asserts its view (should marking or clearing a
  // mark have failed); before, the entry carries no mark and the directory keeps the recorded one.
  const annotate = (doc: WorkerDocument): WorkerDocument => {
    latest.set(doc.id, doc);
    return scaler?.knowsDrains() ? { ...doc, draining: scaler.isDraining(doc.id) } : doc;
  };
  // A worker the scaler removed, or whose host the provider removed by itself (its process died): its membership ends now (the scaler replaces it if needed).
  let lost: ((id: string) => void) | undefined;
  provider.onGone?.((worker) => (scaler?.lost(worker.id), lost?.(worker.id)));
  // The provider acts (local-hosts: takes over every recorded host) before the scaler looks.
  // (Unless this leadership ended meanwhile: `term` counts leaderships and stand-downs.)
  let term = 0;
  const lead = (begin: () => void) => {
    const mine = ++term;
    // The scaler starts even if the provider could not take over (it is fenced by `mayAct` all the same).
    void (provider.lead?.() ?? Promise.resolve())
      .catch((err: unknown) => fleetLog.error({ err }, 'fleet: the worker provider could not take over its workers'))
      .then(() => term === mine && begin());
  };
  return {
    host: provider.address,
    ...(provider.port !== undefined ? { port: provider.port } : {}),
    annotate,
    start(url, placement, directory, metrics) {
      demand.reset();
      if (scaler) return lead(() => scaler?.start());
      provider.setControlPlane?.(url);
      lost = (id) => {
        latest.delete(id);
        placement.remove(id);
      };
      const made = new FleetScaler(config.fleet, {
        provider, clock, log: fleetLog, metrics, mayAct,
        members: () => placement.workers().map((agent) => fleetMember(agent.id, agent.status())),
        unplaced: () => demand.unplaced(),
        // Assignment counts as demand only cold starts a worker this provider starts could hold.
        announce: () => announceWorkerSize(journal.fleetDemand, provider.canScale ? config.worker.memoryMb : 0),
        recordedDrains: async () => {
          const recorded = await directory.recorded();
          for (const doc of recorded) if (!latest.has(doc.id)) latest.set(doc.id, doc);
          return recorded.filter((doc) => doc.draining === true).map((doc) => doc.id);
        },
        setDraining: (id, on) => {
          placement.setDraining(id, on);
          const doc = latest.get(id);
          // A worker that holds no lease here any more: its entry is deleted (or about to be), not written again.
          if (!placement.worker(id)) fleetLog.info({ worker: id, draining: on }, 'fleet: the worker holds no lease here; its directory entry is not rewritten');
          else if (doc) directory.publish({ ...doc, draining: on });
          else fleetLog.warn({ worker: id, draining: on }, 'fleet: no directory entry known yet for a worker to mark; its next heartbeat\'s entry carries the mark');
        },
        removed: (id) => lost?.(id),
      });
      scaler = made;
      lead(() => made.start());
    },
    async standDown() {
      term++;
      await scaler?.stop();
      await provider.standDown?.();
    },
    async stop() {
      await scaler?.stop();
      await provider.close();
    },
  };
}

/**
 * A worker's heartbeat status as the scaler sees it: warm-pool stems and pre-restored SnapStart
 * clones are caches the worker drops to make room, not work, so neither counts in its reserved
 * memory (`memoryCachesMb`, which the worker reports apart) and a drained worker whose only
 * environments are stems counts as empty.
 */
export function fleetMember(id: string, s: WorkerStatus): FleetMember {
  const reservedMb = Math.max(0, s.memoryReservedMb - (s.memoryCachesMb ?? 0));
  return { id, memoryMb: s.memoryMb, reservedMb, environments: Math.max(0, s.environments - (s.stems ?? 0)), ...(s.busy !== undefined ? { busy: s.busy } : {}) };
}
