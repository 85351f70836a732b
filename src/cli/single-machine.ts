import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssignmentService } from '../assignment/index.js';
import { FilesystemCodeStore } from '../codestore/index.js';
import {
  accountSettingsRoutes, aliasRoutes, AsyncInvoker, FrontendServer, functionRoutes, functionUrlRoutes, invocationRoutes, InvokeService,
  streamingInvocationRoutes, tagRoutes, urlInvocationRoutes, versionRoutes,
} from '../frontend/index.js';
import { SqliteJournal } from '../journal/index.js';
import { PlacementService } from '../placement/index.js';
import { FunctionRegistry } from '../registry/index.js';
import { BubblewrapSandboxDriver, detectCgroups } from '../sandbox/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { LocalWorkerAgent, RESERVED_ENV_KEYS, UnpackedZipCache, type FunctionLogSink } from '../worker/index.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RunningStratus {
  url: string;
  port: number;
  credentials: Credentials;
  credentialsGenerated: boolean;
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

  const cgroups = detectCgroups(`stratus-${process.pid}`);
  await cgroups.cleanup();
  log.info({ cgroups: cgroups.version }, 'sandbox resource limits');
  const placement = new PlacementService();
  const worker = new LocalWorkerAgent({
    id: 'worker-1',
    memoryMb: config.worker.memoryMb,
    region,
    nodePath: config.sandbox.nodePath,
    pythonPath: config.sandbox.pythonPath,
    driver: new BubblewrapSandboxDriver({ ...config.sandbox, cgroups }),
    taskFiles: new UnpackedZipCache(join(config.dataDir, 'worker', 'code'), code, zipLimits),
    clock,
    log: log.child({ component: 'worker' }),
    logSink: functionLogSink(config.worker.functionLogs),
  });
  placement.register(worker);

  const assignment = new AssignmentService({ config: config.assignment, log: journal.assignmentLog, placement, clock, logger: log.child({ component: 'assignment' }) });
  await assignment.start();
  worker.onEnvironmentLost((envId) => assignment.environmentLost(envId));
  registry.onChange((name, version) => assignment.retire(name, version));

  const invoker = new InvokeService(registry, assignment, log.child({ component: 'frontend' }));
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
      ...accountSettingsRoutes({
        registry, maxZipBytes, maxUnzippedBytes,
        concurrency: () => placement.workers().reduce((sum, w) => sum + Math.floor(w.status().memoryMb / 128), 0),
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
    async stop() {
      events.stop();
      await server.close();
      await assignment.shutdown();
      await worker.shutdown();
      await cgroups.cleanup();
      await journal.close();
    },
  };
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

function functionLogSink(mode: 'stdout' | 'off'): FunctionLogSink {
  if (mode === 'off') return { write: () => {} };
  return {
    write(functionName, text) {
      const lines = text.endsWith('\n') ? text.slice(0, -1) : text;
      process.stdout.write(`[${functionName}] ${lines.replaceAll('\n', `\n[${functionName}] `)}\n`);
    },
  };
}
