import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssignmentService } from '../assignment/index.js';
import { CodeLinks, ConsoleSessions } from '../frontend/index.js';
import { gcHeld, removeLeftoverWrites } from '../codestore/index.js';
import { ImageImporter } from '../images/index.js';
import { SqliteJournal } from '../journal/index.js';
import { loadClusterSecrets, PlacementService } from '../placement/index.js';
import { SnapStartService } from '../snapstart/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { DiskSpace } from '../shared/disk-space.js';
import type { Logger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { startMetricsListener } from '../shared/metrics-server.js';
import { createTracer } from '../shared/tracing.js';
import { assignmentMetrics } from './metrics.js';
import { DEFAULT_LOG_BYTES_PER_ACCOUNT, LogExpiry, storeLogs } from '../logs/index.js';
import { DataDirectory } from './data-disk.js';
import { startHostWorker } from './host-worker.js';
import { startInternalApi } from './internal-api.js';
import { concurrencyLimiter, followRegistries, lambdaApi, openAccounts, openLogGrants, openLogs, type Credentials } from './lambda-api.js';
import { openScheduler } from './scheduler.js';
import { startCodeCollection } from './code-collection.js';

export interface RunningStratus {
  url: string;
  port: number;
  /** The administrative account's first key (printed at start). */
  credentials: Credentials;
  credentialsGenerated: boolean;
  /** False once the administrator deleted that first key (it is not restored). */
  credentialsValid: boolean;
  adminAccountId: string;
  /**
   * The internal API (TLS, the CA in the journal) that `stratus worker` processes join with a
   * credential of their own (`stratus workers add --data-dir`).
   */
  internalUrl: string;
  /** `GET /metrics` (Prometheus) on the operator's metrics listener. */
  metricsUrl: string;
  stop(): Promise<void>;
}

/**
 * The single-machine default: frontend, assignment, placement and one worker in one process,
 * state in SQLite under the data directory. Components talk through the same interfaces a
 * cluster puts a network behind.
 */
export async function startSingleMachine(config: StratusConfig, log: Logger, clock: Clock = systemClock): Promise<RunningStratus> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  // First the disk: on a full one its reserve is given back, so that start-up, deletes and invokes can write.
  const dataDirectory = await DataDirectory.open(config.dataDir, log, clock);
  const { credentials, generated } = await loadCredentials(config);
  const { journal, code, chunks, images } = openStores(config, log, dataDirectory);
  const leftovers = await removeLeftoverWrites(join(config.dataDir, 'code'), clock.now());
  if (leftovers > 0) log.info({ files: leftovers }, 'removed what interrupted code uploads left behind');
  const { accounts, registries } = await openAccounts(config, journal, code, clock, { adminKey: credentials, follow: false });

  const metrics = new Metrics();
  const tracer = createTracer(config.observability, { role: 'up', instanceId: 'up', clock });
  const placement = new PlacementService({ clock, leaseMs: config.cluster.leaseMs });
  const codeSource = { get: code.get.bind(code), getChunk: chunks.getChunk.bind(chunks), getImage: chunks.getImage.bind(chunks) };
  dataDirectory.metrics(metrics);
  const shipLogs = storeLogs(journal.logs, clock, log.child({ component: 'logs' }), dataDirectory.logsDropped);
  const host = await startHostWorker(config, { id: 'worker-1', code: codeSource, shipLogs, clock, log, metrics, tracer, disk: dataDirectory.disk });
  placement.register(host.agent);

  const logGrants = await openLogGrants(journal);
  const assignment = new AssignmentService({
    config: config.assignment, log: journal.assignmentLog, placement, clock, logger: log.child({ component: 'assignment' }),
    limiter: concurrencyLimiter(accounts, registries), tracer, logGrants,
  });
  await assignment.start();
  assignmentMetrics(metrics, () => assignment);
  host.agent.onEnvironmentLost((envId) => assignment.environmentLost(envId));
  placement.onWorkerLost((workerId) => {
    log.warn({ worker: workerId }, 'worker lease expired: its environments are dead');
    assignment.workerLost(workerId);
  });
  const internal = await startInternalApi({
    secrets: await loadClusterSecrets(journal.clusterSecrets, clock.now()), credentials: journal.workerCredentials, code, chunks, placement,
    leaseMs: config.cluster.leaseMs, clock, log: log.child({ component: 'placement' }), host: config.frontend.host, port: config.cluster.internalPort, shipLogs, logGrants,
    onWorkerJoined: (agent) => agent.onEnvironmentLost((envId) => assignment.environmentLost(envId)),
  });
  followRegistries(registries, () => assignment, log);
  // SnapStart: versions published with ApplyOn PublishedVersions are checkpointed on a worker;
  // a snapshot cut short by a restart is made again.
  const snapStart = new SnapStartService({ registries, workers: () => placement.workers(), chunks, log: log.child({ component: 'snapstart' }), clock, dumpBudgetMs: config.frontend.snapStartDumpBudgetMs });
  snapStart.start();

  const scheduler = openScheduler(config, journal, registries, clock, log);
  const { server, events, charts } = lambdaApi({
    config, registries, accounts, code, images, assignment, eventQueue: journal.eventQueue, layerDocuments: journal.layers, links: await CodeLinks.open(journal.clusterSecrets, clock), clock, log,
    schedules: scheduler.schedules,
    logs: await openLogs(config, journal, clock),
    console: { sessions: await ConsoleSessions.open(journal.clusterSecrets, clock), logs: journal.logs },
    provision: (fn, n) => assignment.setProvisioned(fn, n),
    allocated: (fn) => assignment.provisionedCount(fn),
    metrics, tracer,
  });
  const address = await server.listen(config.frontend.host, config.frontend.port);
  const metricsListener = await startMetricsListener(metrics, config.metrics.host, config.metrics.port, log.child({ component: 'metrics' }));
  events.start();
  scheduler.firing.start();
  const logExpiry = new LogExpiry({
    store: journal.logs, clock, maxBytesPerAccount: config.logs.maxBytesPerAccount ?? DEFAULT_LOG_BYTES_PER_ACCOUNT.sqlite,
    intervalMs: config.logs.expireIntervalMs, log: log.child({ component: 'logs' }),
  });
  logExpiry.start();
  // Code no function, version or layer of any account uses leaves the code store (at start too).
  // A backup's hold on the data directory (`stratus backup`) stops its deletions while in force.
  const codeCollector = await startCodeCollection(config, { journal, code, chunks }, clock, log, metrics, { held: () => gcHeld(config.dataDir, clock) });
  charts.start();

  return {
    url: `http://${config.frontend.host}:${address.port}`,
    port: address.port,
    credentials,
    credentialsGenerated: generated,
    credentialsValid: accounts.keyOwner(credentials.accessKeyId) !== undefined,
    adminAccountId: accounts.administrator()?.accountId ?? config.identity.accountId,
    internalUrl: internal.url,
    metricsUrl: metricsListener.url,
    async stop() {
      events.stop();
      charts.stop();
      const snapshotsStopped = snapStart.stop();
      await scheduler.firing.stop();
      await server.close();
      await metricsListener.stop();
      await internal.stop();
      await assignment.shutdown();
      placement.stop();
      await Promise.all(placement.workers().filter((w) => w !== host.agent).map((w) => w.shutdown()));
      await host.stop();
      await snapshotsStopped;
      await logExpiry.stop();
      await codeCollector.stop();
      await journal.close();
      dataDirectory.disk.close();
      await tracer.shutdown();
    },
  };
}

/** The single machine's journal (SQLite) in its data directory (whose disk admits its writes, if given). */
export function openLocalJournal(dataDir: string, disk?: DiskSpace): SqliteJournal {
  return new SqliteJournal(join(dataDir, 'journal.db'), disk);
}

/** The journal, code and image stores under the data directory, each asking its disk before it writes. */
function openStores(config: StratusConfig, log: Logger, dir: DataDirectory) {
  const journal = openLocalJournal(config.dataDir, dir.disk);
  const { code, chunks } = dir;
  const images = new ImageImporter({
    ...config.images, bwrapPath: config.sandbox.bwrapPath, chunks, workDir: join(config.dataDir, 'image-builds'), log: log.child({ component: 'images' }),
  });
  return { journal, code, chunks, images };
}

/** Configured credentials win; otherwise a key pair generated once and kept in the data dir. */
async function loadCredentials(config: StratusConfig): Promise<{ credentials: Credentials; generated: boolean }> {
  if (config.credentials) return { credentials: config.credentials, generated: false };
  const file = join(config.dataDir, 'credentials.json');
  try {
    return { credentials: JSON.parse(await readFile(file, 'utf8')) as Credentials, generated: false };
  } catch {
    const credentials = {
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64url'),
    };
    await writeFile(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
    return { credentials, generated: true };
  }
}
