import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssignmentService } from '../assignment/index.js';
import { CodeLinks } from '../frontend/index.js';
import { downloadRoutes, FilesystemChunkStore, FilesystemCodeStore } from '../codestore/index.js';
import { ImageImporter } from '../images/index.js';
import { SqliteJournal } from '../journal/index.js';
import { PlacementService, WorkerRegistrations } from '../placement/index.js';
import { SnapStartService } from '../snapstart/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { sharedToken } from '../shared/cluster-api.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { startHostWorker } from './host-worker.js';
import { concurrencyLimiter, followRegistries, lambdaApi, openAccounts, type Credentials } from './lambda-api.js';
import { httpWorkerConnector } from './worker-connector.js';

export interface RunningStratus {
  url: string;
  port: number;
  /** The administrative account's first key (printed at start). */
  credentials: Credentials;
  credentialsGenerated: boolean;
  /** False once the administrator deleted that first key (it is not restored). */
  credentialsValid: boolean;
  adminAccountId: string;
  /** What `stratus worker` processes present to join this control plane. */
  clusterToken: string;
  stop(): Promise<void>;
}

/**
 * The single-machine default: frontend, assignment, placement and one worker in one process,
 * state in SQLite under the data directory. Components talk through the same interfaces a
 * cluster puts a network behind.
 */
export async function startSingleMachine(config: StratusConfig, log: Logger, clock: Clock = systemClock): Promise<RunningStratus> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const { credentials, generated } = await loadCredentials(config);
  const { journal, code, chunks, images } = openStores(config, log);
  const { accounts, registries } = await openAccounts(config, journal, code, clock, { adminKey: credentials, follow: false });

  const placement = new PlacementService({ clock, leaseMs: config.cluster.leaseMs });
  const codeSource = { get: code.get.bind(code), getChunk: chunks.getChunk.bind(chunks), getImage: chunks.getImage.bind(chunks) };
  const host = await startHostWorker(config, { id: 'worker-1', code: codeSource, clock, log });
  placement.register(host.agent);

  const assignment = new AssignmentService({
    config: config.assignment, log: journal.assignmentLog, placement, clock, logger: log.child({ component: 'assignment' }),
    limiter: concurrencyLimiter(accounts, registries),
  });
  await assignment.start();
  host.agent.onEnvironmentLost((envId) => assignment.environmentLost(envId));
  placement.onWorkerLost((workerId) => {
    log.warn({ worker: workerId }, 'worker lease expired: its environments are dead');
    assignment.workerLost(workerId);
  });
  const clusterToken = await loadClusterToken(config);
  const placementLog = log.child({ component: 'placement' });
  const registrations = new WorkerRegistrations({
    authenticate: sharedToken(clusterToken), placement, connector: httpWorkerConnector(() => ({ authorization: `Bearer ${clusterToken}` }), placementLog), leaseMs: config.cluster.leaseMs, log: placementLog,
    onWorkerJoined: (agent) => agent.onEnvironmentLost((envId) => assignment.environmentLost(envId)),
  });
  followRegistries(registries, () => assignment, log);
  // SnapStart: versions published with ApplyOn PublishedVersions are checkpointed on a worker;
  // a snapshot cut short by a restart is made again.
  const snapStart = new SnapStartService({ registries, workers: () => placement.workers(), code, log: log.child({ component: 'snapstart' }) });
  for (const registry of registries.all()) for (const version of registry.versions.all()) if (version.snapshot?.status === 'pending') snapStart.prepare(version);

  const { server, events } = lambdaApi({
    config, registries, accounts, code, images, assignment, eventQueue: journal.eventQueue, links: await CodeLinks.open(journal.clusterSecrets, clock), clock, log,
    provision: (fn, n) => assignment.setProvisioned(fn, n),
    allocated: (fn) => assignment.provisionedCount(fn),
    internalRoutes: [...registrations.routes(), ...downloadRoutes({ authenticate: sharedToken(clusterToken), code, chunks })],
  });
  const address = await server.listen(config.frontend.host, config.frontend.port);
  events.start();

  return {
    url: `http://${config.frontend.host}:${address.port}`,
    port: address.port,
    credentials,
    credentialsGenerated: generated,
    credentialsValid: accounts.keyOwner(credentials.accessKeyId) !== undefined,
    adminAccountId: accounts.administrator()?.accountId ?? config.identity.accountId,
    clusterToken,
    async stop() {
      events.stop();
      await server.close();
      await assignment.shutdown();
      placement.stop();
      await Promise.all(placement.workers().filter((w) => w !== host.agent).map((w) => w.shutdown()));
      await host.stop();
      await journal.close();
    },
  };
}

/** The journal, code and image stores under the data directory. */
function openStores(config: StratusConfig, log: Logger) {
  const journal = new SqliteJournal(join(config.dataDir, 'journal.db'));
  const code = new FilesystemCodeStore(join(config.dataDir, 'code'));
  const chunks = new FilesystemChunkStore(join(config.dataDir, 'code'));
  const images = new ImageImporter({
    ...config.images, bwrapPath: config.sandbox.bwrapPath, chunks, workDir: join(config.dataDir, 'image-builds'), log: log.child({ component: 'images' }),
  });
  return { journal, code, chunks, images };
}

/** The cluster token: configured, or generated once and kept in the data directory. */
async function loadClusterToken(config: StratusConfig): Promise<string> {
  if (config.cluster.token) return config.cluster.token;
  const file = join(config.dataDir, 'cluster-token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = randomBytes(24).toString('base64url');
    await writeFile(file, token, { mode: 0o600 });
    return token;
  }
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
