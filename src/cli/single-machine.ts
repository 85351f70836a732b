import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssignmentService } from '../assignment/index.js';
import { FilesystemCodeStore } from '../codestore/index.js';
import {
  accountSettingsRoutes, aliasRoutes, AsyncInvoker, clusterRoutes, ConcurrencyLimiter, concurrencyRoutes, provisionedConcurrencyRoutes, FrontendServer, functionRoutes, functionUrlRoutes, invocationRoutes, InvokeService,
  streamingInvocationRoutes, tagRoutes, urlInvocationRoutes, versionRoutes,
} from '../frontend/index.js';
import { SqliteJournal } from '../journal/index.js';
import { PlacementService } from '../placement/index.js';
import { FunctionRegistry } from '../registry/index.js';
import { SnapStartService } from '../snapstart/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { RESERVED_ENV_KEYS } from '../worker/index.js';
import { startHostWorker } from './host-worker.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RunningStratus {
  url: string;
  port: number;
  credentials: Credentials;
  credentialsGenerated: boolean;
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
  const zipLimits = { maxUnzippedBytes: config.frontend.maxUnzippedBytes };
  const { region, accountId } = config.identity;

  const journal = new SqliteJournal(join(config.dataDir, 'journal.db'));
  const code = new FilesystemCodeStore(join(config.dataDir, 'code'));
  const registry = new FunctionRegistry({
    journal, code, clock, zipLimits,
    arnPrefix: `arn:aws:lambda:${region}:${accountId}:function:`,
    reservedEnvKeys: RESERVED_ENV_KEYS,
  });
  await registry.load();

  const placement = new PlacementService({ clock, leaseMs: config.cluster.leaseMs });
  const host = await startHostWorker(config, { id: 'worker-1', code, clock, log });
  placement.register(host.agent);

  const assignment = new AssignmentService({ config: config.assignment, log: journal.assignmentLog, placement, clock, logger: log.child({ component: 'assignment' }) });
  await assignment.start();
  host.agent.onEnvironmentLost((envId) => assignment.environmentLost(envId));
  placement.onWorkerLost((workerId) => {
    log.warn({ worker: workerId }, 'worker lease expired: its environments are dead');
    assignment.workerLost(workerId);
  });
  const clusterToken = await loadClusterToken(config);
  // Provisioned concurrency follows the registry: re-applied at start and after each change.
  const applyProvisioned = (name: string) => {
    for (const [qualifier, { requested }] of Object.entries(registry.find(name)?.provisioned ?? {})) {
      try {
        assignment.setProvisioned(registry.provisionedVersion(name, qualifier), requested);
      } catch (err) {
        log.warn({ err, function: name, qualifier }, 'provisioned concurrency cannot be applied');
      }
    }
  };
  registry.onChange((name, version) => {
    assignment.retire(name, version);
    applyProvisioned(name);
  });
  for (const fn of registry.list()) applyProvisioned(fn.name);
  // SnapStart: versions published with ApplyOn PublishedVersions are checkpointed on a worker;
  // a snapshot cut short by a restart is made again.
  const snapStart = new SnapStartService({ registry, workers: () => placement.workers(), code, log: log.child({ component: 'snapstart' }) });
  for (const version of registry.versions.all()) if (version.snapshot?.status === 'pending') snapStart.prepare(version);

  const { accountLimit, minUnreserved } = config.concurrency;
  const limiter = new ConcurrencyLimiter({
    accountLimit,
    reservedFor: (name) => registry.get(name).reservedConcurrency,
    reservedTotal: () => registry.reservedConcurrencyTotal(),
  });
  const invoker = new InvokeService(registry, assignment, limiter, log.child({ component: 'frontend' }));
  const events = new AsyncInvoker(invoker, config.asyncInvoke, clock, log.child({ component: 'async' }));
  const lookup = (id: string) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined);
  const { maxSyncPayloadBytes, maxAsyncPayloadBytes, maxZipBytes, maxUnzippedBytes, signatureMaxSkewMs } = config.frontend;
  const server = new FrontendServer({
    routes: [
      ...invocationRoutes({ invoker, events, maxSyncPayloadBytes, maxAsyncPayloadBytes }),
      ...streamingInvocationRoutes({ invoker, maxPayloadBytes: maxSyncPayloadBytes }),
      ...functionRoutes({ registry, code, region, linkSecret: credentials.secretAccessKey, maxZipBytes, clock }),
      ...versionRoutes({ registry, region }),
      ...aliasRoutes({ registry }),
      ...functionUrlRoutes({ registry, clock }),
      ...urlInvocationRoutes({ registry, invoker, credentials: lookup, clock, signatureMaxSkewMs, accountId, maxPayloadBytes: maxSyncPayloadBytes }),
      ...tagRoutes({ registry }),
      ...concurrencyRoutes({ registry, accountLimit, minUnreserved }),
      ...provisionedConcurrencyRoutes({ registry, provision: (fn, n) => assignment.setProvisioned(fn, n), allocated: (fn) => assignment.provisionedCount(fn) }),
      ...clusterRoutes({
        token: clusterToken, placement, code, leaseMs: config.cluster.leaseMs, log: log.child({ component: 'placement' }),
        onWorkerJoined: (agent) => agent.onEnvironmentLost((envId) => assignment.environmentLost(envId)),
      }),
      ...accountSettingsRoutes({
        registry, maxZipBytes, maxUnzippedBytes,
        concurrency: () => ({ total: accountLimit, unreserved: accountLimit - registry.reservedConcurrencyTotal() }),
      }),
    ],
    credentials: lookup,
    clock,
    log: log.child({ component: 'frontend' }),
    signatureMaxSkewMs,
  });
  const address = await server.listen(config.frontend.host, config.frontend.port);

  return {
    url: `http://${config.frontend.host}:${address.port}`,
    port: address.port,
    credentials,
    credentialsGenerated: generated,
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
