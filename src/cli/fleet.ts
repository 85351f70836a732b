import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EtcdJournal } from '../journal/index.js';
import {
  FleetScaler, LocalHostsProvider, type FleetMember, StaticWorkerProvider, WorkerCredentials, type ClusterSecrets, type PlacementService, type WorkerDirectory, type WorkerDocument, type WorkerProvider,
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
  /** A heartbeat's directory entry, marked if the worker is being drained. */
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
 * workers' heartbeats and fenced by the placement leadership (`mayAct`); a drained worker is
 * marked in the worker directory, which is how every assignment leader learns to place nothing
 * new there.
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
  const draining = new Set<string>();
  let scaler: FleetScaler | undefined;
  const annotate = (doc: WorkerDocument): WorkerDocument => {
    latest.set(doc.id, doc);
    return draining.has(doc.id) ? { ...doc, draining: true } : doc;
  };
  // A worker the scaler removed, or whose host the provider removed by itself (its process died): its membership ends now (the scaler replaces it if needed).
  let lost: ((id: string) => void) | undefined;
  provider.onGone?.((worker) => (scaler?.lost(worker.id), lost?.(worker.id)));
  // The provider acts (local-hosts: takes over every recorded host) before the scaler looks.
  // (Unless this leadership ended meanwhile: `term` counts leaderships and stand-downs.)
  let term = 0;
  const lead = (begin: () => void) => {
    const mine = ++term;
    void (provider.lead?.() ?? Promise.resolve()).then(() => term === mine && begin(), (err: unknown) => fleetLog.error({ err }, 'fleet: the worker provider could not take over its workers'));
  };
  return {
    host: provider.address,
    ...(provider.port !== undefined ? { port: provider.port } : {}),
    annotate,
    start(url, placement, directory, metrics) {
      if (scaler) return lead(() => scaler?.start());
      provider.setControlPlane?.(url);
      lost = (id) => {
        draining.delete(id);
        latest.delete(id);
        placement.remove(id);
      };
      const made = new FleetScaler(config.fleet, {
        provider, clock, log: fleetLog, metrics, mayAct,
        members: () => placement.workers().map((agent) => fleetMember(agent.id, agent.status())),
        setDraining: (id, on) => {
          if (on) draining.add(id);
          else draining.delete(id);
          placement.setDraining(id, on);
          const doc = latest.get(id);
          if (doc) directory.publish(annotate(doc));
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
 * A worker's heartbeat status as the scaler sees it: warm-pool stems are a cache, not work, so a
 * drained worker whose only environments are stems counts as empty. (Its reserved memory still
 * includes the stems' and SnapStart clones' memory: the status does not report them apart.)
 */
export function fleetMember(id: string, s: WorkerStatus): FleetMember {
  return { id, memoryMb: s.memoryMb, reservedMb: s.memoryReservedMb, environments: Math.max(0, s.environments - (s.stems ?? 0)), ...(s.busy !== undefined ? { busy: s.busy } : {}) };
}
