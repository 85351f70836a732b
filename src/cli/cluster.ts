import { join } from 'node:path';
import { AssignmentApiServer, AssignmentReplica, AssignmentService, RemoteAssignment } from '../assignment/index.js';
import { EtcdChunkStore, EtcdCodeStore } from '../codestore/index.js';
import { CodeLinks, ConsoleSessions } from '../frontend/index.js';
import { ImageImporter } from '../images/index.js';
import { EtcdJournal } from '../journal/index.js';
import { SnapStartService, snapshotOwner } from '../snapstart/index.js';
import {
  controlPlaneCredential, controlPlaneKeyHash, FleetDemandPublisher, FleetWorkerSize, loadClusterSecrets, workerApiCredential, PlacementService, WorkerMembership,
  type ClusterSecrets, type ConnectedWorker,
  type WorkerDocument,
} from '../placement/index.js';
import type { Clock } from '../shared/clock.js';
import { controlPlaneKey } from '../shared/cluster-api.js';
import type { StratusConfig } from '../shared/config.js';
import { InternalClient } from '../shared/internal-client.js';
import type { Logger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { startMetricsListener, type MetricsListener } from '../shared/metrics-server.js';
import { createTracer } from '../shared/tracing.js';
import { CONTROL_PLANE_NAME, issueServerIdentity } from '../shared/tls.js';
import { concurrencyLimiter, followRegistries, lambdaApi, openAccounts, openLogGrants, openLogs, type Credentials } from './lambda-api.js';
import { leadScheduling, openScheduler, SCHEDULER } from './scheduler.js';
import { assignmentMetrics } from './metrics.js';
import { httpWorkerConnector } from './worker-connector.js';

/**
 * Stratus as a cluster: each role a process of its own, all sharing the journal in etcd.
 * frontends (the Lambda API, stateless), assignment replicas (one leader, hot followers),
 * placement replicas (one leader: worker leases and the worker directory; see placement-process.ts)
 * and workers (`stratus worker`).
 */
export interface ClusterProcess {
  url: string;
  /** This process's own metrics listener (`GET /metrics`). */
  metricsUrl: string;
  stop(): Promise<void>;
}

export interface ProcessOptions {
  id: string;
  host: string;
  port: number;
}

const ASSIGNMENT = 'assignment';

export function openJournal(config: StratusConfig): EtcdJournal {
  const { etcdEndpoints, etcdPrefix, etcdCallTimeoutMs, etcdTls } = config.cluster;
  if (etcdEndpoints.length === 0) throw new Error('a cluster process needs --etcd http://HOST:PORT[,...]');
  return new EtcdJournal({ endpoints: etcdEndpoints, prefix: etcdPrefix, callTimeoutMs: etcdCallTimeoutMs, tls: etcdTls });
}

/** Code packages and image chunks live in etcd too, so every machine of the cluster shares them. */
export function openCodeStores(config: StratusConfig) {
  const { etcdEndpoints, etcdPrefix, etcdTls } = config.cluster;
  const code = new EtcdCodeStore({ endpoints: etcdEndpoints, prefix: etcdPrefix, tls: etcdTls });
  const chunks = new EtcdChunkStore({ endpoints: etcdEndpoints, prefix: etcdPrefix, tls: etcdTls });
  return { code, chunks, close: () => (code.close(), chunks.close()) };
}

/**
 * The journal, the code store, and the accounts with their registries following the journal
 * (frontends and assignment). A frontend brings the administrator's key (the first start creates it).
 */
async function openShared(config: StratusConfig, clock: Clock, adminKey?: Credentials) {
  const journal = openJournal(config);
  const stores = openCodeStores(config);
  const { accounts, registries, unfollow } = await openAccounts(config, journal, stores.code, clock, { adminKey, follow: true });
  const secrets = await loadClusterSecrets(journal.clusterSecrets, clock.now());
  return {
    journal, code: stores.code, chunks: stores.chunks, accounts, registries, secrets,
    async close() {
      unfollow();
      stores.close();
      await journal.close();
    },
  };
}

/** A role's metrics listener, on --metrics-host and --metrics-port (ephemeral by default for a role). */
export function serveMetrics(config: StratusConfig, metrics: Metrics, log: Logger): Promise<MetricsListener> {
  return startMetricsListener(metrics, config.metrics.host, config.metrics.port, log.child({ component: 'metrics' }));
}

/** This control-plane process's TLS server identity: a fresh key and a certificate of the cluster CA for the control plane's name. */
function serverIdentity(secrets: ClusterSecrets, clock: Clock) {
  return issueServerIdentity(secrets.ca, CONTROL_PLANE_NAME, clock.now());
}

/** `stratus frontend`: the Lambda API. Any number of them; they share everything through etcd. */
export async function startFrontendProcess(config: StratusConfig, opts: ProcessOptions, log: Logger, clock: Clock): Promise<ClusterProcess> {
  const credentials = config.credentials;
  if (!credentials) throw new Error('stratus frontend needs STRATUS_ACCESS_KEY_ID and STRATUS_SECRET_ACCESS_KEY (the same in every frontend)');
  const shared = await openShared(config, clock, credentials);
  const { journal, code, accounts, registries } = shared;
  const images = new ImageImporter({
    ...config.images, bwrapPath: config.sandbox.bwrapPath, chunks: shared.chunks, workDir: join(config.dataDir, 'image-builds'), log: log.child({ component: 'images' }),
  });
  const connector = httpWorkerConnector((workerId) => workerApiCredential(shared.secrets, workerId), log);
  const workers = new Map<string, ConnectedWorker>();
  const assignment = new RemoteAssignment({
    election: journal.election(ASSIGNMENT, config.cluster.leaderTtlMs),
    client: new InternalClient(controlPlaneCredential(shared.secrets)), clock, logger: log.child({ component: 'assignment-client' }),
    failoverWaitMs: config.cluster.failoverWaitMs,
    worker: (id, url) => {
      let agent = workers.get(url);
      if (!agent) {
        agent = connector.connect({ id, url, status: { id, memoryMb: 0, memoryReservedMb: 0, environments: 0, cachedCode: [] } });
        workers.set(url, agent);
      }
      return agent;
    },
  });
  await assignment.start();
  // SnapStart: a snapshot is made on one of the workers in the directory (over the worker API),
  // stored chunked in etcd, and restored on any worker.
  const snapStart = new SnapStartService({
    registries, chunks: shared.chunks, log: log.child({ component: 'snapstart' }), clock, dumpBudgetMs: config.frontend.snapStartDumpBudgetMs,
    orphanAfterMs: config.frontend.snapStartOrphanMs, sweepIntervalMs: Math.min(5_000, Math.ceil(config.frontend.snapStartOrphanMs / 3)),
    // Each version's snapshot is made under its own election: a version Pending with no leader
    // there (its frontend stopped) is made by another frontend (docs/snapstart.md, "In a cluster").
    owners: { election: (version) => journal.election(snapshotOwner(version), config.cluster.leaderTtlMs), candidate: { id: opts.id, address: opts.host } },
    // Not on a worker being drained (it has the most free memory, as placement puts nothing new there), unless all are.
    workers: async () => notDraining((await journal.workers.list()).map((doc) => doc.value as WorkerDocument)).map(({ id, url, status }) => {
      const agent = workers.get(url) ?? connector.connect({ id, url, status });
      workers.set(url, agent);
      agent.report(status);
      return agent;
    }),
  });
  const metrics = new Metrics();
  const tracer = createTracer(config.observability, { role: 'frontend', instanceId: opts.id, clock });
  const scheduler = openScheduler(config, journal, registries, clock, log);
  const { server, events, charts } = lambdaApi({
    config, registries, accounts, code, images, assignment, eventQueue: journal.eventQueue, layerDocuments: journal.layers, links: await CodeLinks.open(journal.clusterSecrets, clock), clock, log,
    logs: await openLogs(config, journal, clock),
    console: { sessions: await ConsoleSessions.open(journal.clusterSecrets, clock), logs: journal.logs },
    schedules: scheduler.schedules,
    provision: () => undefined,
    allocated: (fn) => assignment.provisionedCount(fn),
    metrics, tracer,
  });
  const address = await server.listen(opts.host, opts.port);
  const metricsListener = await serveMetrics(config, metrics, log);
  events.start();
  charts.start();
  snapStart.start();
  // One frontend at a time fires schedules: the one elected (a successor takes over when its lease runs out).
  const url = `http://${opts.host}:${address.port}`;
  const stopScheduling = leadScheduling(journal.election(SCHEDULER, config.cluster.leaderTtlMs), { id: opts.id, address: url }, scheduler.firing, log, clock);
  return {
    url,
    metricsUrl: metricsListener.url,
    async stop() {
      await stopScheduling();
      events.stop();
      charts.stop();
      await server.close();
      await metricsListener.stop();
      await snapStart.stop();
      assignment.stop();
      await Promise.all([...workers.values()].map((w) => w.shutdown()));
      await shared.close();
      await tracer.shutdown();
    },
  };
}

/**
 * `stratus assignment`: one replica of the assignment service. Run three; one leads (elected in
 * etcd), the others follow the assignment log and take over when the leader's lease runs out.
 */
export async function startAssignmentProcess(config: StratusConfig, opts: ProcessOptions, log: Logger, clock: Clock): Promise<ClusterProcess> {
  const shared = await openShared(config, clock);
  const { journal, accounts, registries, secrets } = shared;
  const connector = httpWorkerConnector((workerId) => workerApiCredential(secrets, workerId), log);
  const logGrants = await openLogGrants(journal);
  let membership: WorkerMembership | undefined;
  let demand: FleetDemandPublisher | undefined;
  // The memory of a worker the placement leader's provider would add: only cold starts it could hold are demand.
  const workerSize = new FleetWorkerSize(journal.fleetDemand);
  await workerSize.start();
  let replica: AssignmentReplica | undefined;
  const provisioning = followRegistries(registries, () => replica?.leader(), log);
  const metrics = new Metrics();
  const tracer = createTracer(config.observability, { role: 'assignment', instanceId: opts.id, clock });
  assignmentMetrics(metrics, () => replica?.leader());
  const metricsListener = await serveMetrics(config, metrics, log);
  const api = new AssignmentApiServer({
    leader: () => replica?.leader(), workerUrl: (id) => membership?.url(id), status: () => replica?.status(),
    authenticate: controlPlaneKey(controlPlaneKeyHash(secrets)), tls: serverIdentity(secrets, clock), log,
  });
  const address = await api.listen(opts.host, opts.port);
  const url = `${api.scheme}://${opts.host}:${address.port}`;
  replica = new AssignmentReplica({
    log: journal.assignmentLog,
    election: journal.election(ASSIGNMENT, config.cluster.leaderTtlMs),
    candidate: { id: opts.id, address: url },
    clock, logger: log,
    tailIntervalMs: config.cluster.followIntervalMs,
    lead: async (leadership) => {
      const placement = new PlacementService();
      const service = new AssignmentService({
        config: config.assignment, log: journal.assignmentLog, placement, clock, logger: log, leadership, limiter: concurrencyLimiter(accounts, registries), tracer, logGrants,
        newWorkerMb: () => workerSize.current(),
      });
      membership = new WorkerMembership({
        store: journal.workers, placement, connector,
        onJoined: (agent) => {
          agent.onEnvironmentLost((envId) => service.environmentLost(envId));
          service.workerJoined(agent).catch((err: unknown) => log.warn({ err, worker: agent.id }, 'reconciling a joining worker failed'));
        },
      });
      await membership.start();
      for (const worker of placement.workers()) worker.onEnvironmentLost((envId) => service.environmentLost(envId));
      placement.onWorkerLost((workerId) => service.workerLost(workerId));
      // Cold starts that found no room, for the placement leader's fleet scaler (placement-process.ts); published once leading,
      // twice per look of the scaler, so that each of its looks sees a write while demand lasts (the two timers drift).
      demand?.stop();
      demand = new FleetDemandPublisher({
        store: journal.fleetDemand, epoch: leadership.epoch, read: () => service.demand.read(), clock, intervalMs: Math.max(100, Math.floor(config.fleet.intervalMs / 2)), log,
      });
      return service;
    },
    leading: () => {
      provisioning.applyAll();
      demand?.start();
    },
    retired: () => {
      demand?.stop();
      demand = undefined;
      membership?.stop();
      membership = undefined;
    },
  });
  replica.start();
  return {
    url,
    metricsUrl: metricsListener.url,
    async stop() {
      await metricsListener.stop();
      await replica?.stop();
      demand?.stop();
      membership?.stop();
      workerSize.stop();
      await api.close();
      await shared.close();
      await tracer.shutdown();
    },
  };
}

/** The workers not being drained, or all of them if every one is. */
function notDraining(docs: WorkerDocument[]): WorkerDocument[] {
  const undrained = docs.filter((d) => !d.draining);
  return undrained.length > 0 ? undrained : docs;
}
