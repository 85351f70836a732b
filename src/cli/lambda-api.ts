import { ConcurrencyLimiter, type Assigner, type AssignmentService } from '../assignment/index.js';
import { AsyncInvoker, eventSettings } from '../async/index.js';
import type { CodeStore } from '../codestore/index.js';
import {
  accountSettingsRoutes, aliasRoutes, concurrencyRoutes, eventInvokeConfigRoutes, FrontendServer, functionRoutes, functionUrlRoutes,
  accountRoutes, ChartSampler, CodeLinks, consoleEndpoints, consoleRoutes, type ConsoleSessions, invocationRoutes, logsRoutes, InvokeService, perCaller, permissionRoutes, resourcePolicyChecks, provisionedConcurrencyRoutes, schedulerRoutes, streamingInvocationRoutes, tagRoutes, urlInvocationRoutes, versionRoutes,
  FunctionLayers, layerRoutes, type ImageSourceImporter,
} from '../frontend/index.js';
import { codeSigningConfigRoutes, functionCodeSigningRoutes, unavailableFunctionRoutes, unavailableRoutes } from '../frontend/index.js';
import { installationSecret, type DocumentStore, type EventQueue, type Journal, type LogStore } from '../journal/index.js';
import { layerCodeBytes, LayerStore } from '../layers/index.js';
import { AccountDirectory } from '../accounts/index.js';
import { LogsService, PageTokens } from '../logs/index.js';
import type { Schedules } from '../scheduler/index.js';
import { environmentKey, FunctionRegistries, type FunctionRegistry, type FunctionVersion } from '../registry/index.js';
import { functionOfArn } from '../shared/arns.js';
import { StratusError } from '../shared/errors.js';
import { LogGrants } from '../shared/log-grants.js';
import { RESERVED_ENV_KEYS } from '../worker/index.js';
import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';
import type { Tracer } from '../shared/tracing.js';
import { eventQueueMetrics } from './metrics.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface LambdaApiDeps {
  config: StratusConfig;
  registries: FunctionRegistries;
  accounts: AccountDirectory;
  code: CodeStore;
  /** Pulls container images into the chunk store (PackageType Image). */
  images: ImageSourceImporter;
  assignment: Assigner;
  /** The journal's queue of Event invokes, which this frontend fills and consumes. */
  eventQueue: EventQueue;
  /** The journal's layers (every account's). */
  layerDocuments: DocumentStore;
  /** GetFunction's code download links (their secret the same in every frontend of a cluster). */
  links: CodeLinks;
  clock: Clock;
  log: Logger;
  /** Provisioned concurrency changed (one machine applies it at once; a cluster's leader follows the registry). */
  provision(fn: FunctionVersion, count: number): void;
  allocated(fn: FunctionVersion): number | Promise<number>;
  /** Invocations, errors, throttles, durations and Event invokes are counted here. */
  metrics?: Metrics;
  /** CloudWatch Logs over the journal's log store (`openLogs`). */
  logs: LogsService;
  /** Each invoke's span (the root of its trace in Stratus) is started here. */
  tracer?: Tracer;
  /** The web console (`/_stratus/console/`): its session secret and the function logs it reads. */
  console?: { sessions: ConsoleSessions; logs: LogStore };
  /** EventBridge Scheduler's API (`openScheduler`), served for the signing account. */
  schedules?: Schedules;
}

export interface LambdaApi {
  server: FrontendServer;
  events: AsyncInvoker;
  /** The console's charts of this process's counters (start and stop it with the server). */
  charts: ChartSampler;
}

/** The accounts, in the journal, with the installation's default quotas. */
export function newAccountDirectory(config: StratusConfig, journal: Journal, clock: Clock): AccountDirectory {
  return new AccountDirectory({
    accounts: journal.accounts, keys: journal.accessKeys, clock,
    defaultQuotas: { concurrency: config.concurrency.accountLimit, ...config.accounts },
  });
}

/**
 * Opens the accounts and every account's functions. With `adminKey` (a frontend), the
 * administrator exists from the first start with that key, and functions from before there
 * were accounts become its. With `follow` (a cluster), both keep up with other processes.
 */
export async function openAccounts(
  config: StratusConfig, journal: Journal, code: CodeStore, clock: Clock, opts: { adminKey?: Credentials; follow: boolean },
) {
  const accounts = newAccountDirectory(config, journal, clock);
  const registries = new FunctionRegistries({
    journal, code, clock,
    zipLimits: { maxUnzippedBytes: config.frontend.maxUnzippedBytes },
    region: config.identity.region,
    reservedEnvKeys: RESERVED_ENV_KEYS,
    quotaOf: (accountId) => accounts.quotasOf(accountId),
    otherCodeBytesOf: (accountId) => layerCodeBytes(journal.layers, accountId),
  });
  const stops = opts.follow ? [await accounts.follow(), await registries.follow()] : [];
  await accounts.load();
  if (opts.adminKey) {
    const admin = await accounts.bootstrap(config.identity.accountId, opts.adminKey);
    await registries.adoptUnowned(admin.accountId);
  }
  await registries.load();
  return { accounts, registries, unfollow: () => stops.forEach((stop) => stop()) };
}

/** CloudWatch Logs over the journal's log store, its page tokens signed with the installation's secret. */
export async function openLogs(config: StratusConfig, journal: Journal, clock: Clock): Promise<LogsService> {
  const tokens = await PageTokens.open(journal.clusterSecrets, clock);
  return new LogsService({ store: journal.logs, tokens, clock, region: config.identity.region });
}

/** The grants workers post function logs under, made with the installation's secret (`shared/log-grants.ts`). */
export async function openLogGrants(journal: Journal): Promise<LogGrants> {
  return new LogGrants(Buffer.from(await installationSecret(journal.clusterSecrets, 'log-grants'), 'base64url'));
}

/** Lambda's concurrency rules over each account's quota and its functions' reservations (applied by assignment). */
export function concurrencyLimiter(accounts: AccountDirectory, registries: FunctionRegistries): ConcurrencyLimiter {
  return new ConcurrencyLimiter({
    accountLimit: (accountId) => accounts.quotasOf(accountId).concurrency,
    reservedFor: (fn) => registries.for(fn.accountId).find(functionOfArn(fn.functionArn).name)?.reservedConcurrency,
    reservedTotal: (accountId) => registries.for(accountId).reservedConcurrencyTotal(),
  });
}

/** A frontend: the Lambda API on top of the registries and an assignment (local or remote). */
export function lambdaApi(deps: LambdaApiDeps): LambdaApi {
  const { config, registries, accounts, code, clock } = deps;
  const { region } = config.identity;
  const { minUnreserved } = config.concurrency;
  const admin = accounts.administrator();
  if (!admin) throw new StratusError('InvalidConfig', 'the accounts have no administrator: open them with openAccounts first');
  const invoker = new InvokeService(registries, deps.assignment, deps.log.child({ component: 'frontend' }), clock, deps.metrics, deps.tracer);
  const events = new AsyncInvoker({
    queue: deps.eventQueue, invoke: (request) => invoker.invoke({ ...request, invocationType: 'Event' }), settings: eventSettings(registries), unownedAccountId: admin.accountId,
    config: config.asyncInvoke, clock, log: deps.log.child({ component: 'async' }), metrics: deps.metrics,
  });
  if (deps.metrics) eventQueueMetrics(deps.metrics, deps.eventQueue);
  const { metrics } = deps;
  // A deleted function's series go with it (here, and through the journal's watch in a cluster).
  if (metrics) registries.onRegistry((registry) => registry.onChange((name) => void (registry.has(name) || metrics.forgetFunction(registry.accountId, name))));
  const keys = (id: string) => accounts.keyOwner(id);
  const { mayInvoke, mayInvokeUrl } = resourcePolicyChecks(registries);
  const { maxSyncPayloadBytes, maxAsyncPayloadBytes, maxZipBytes, maxUnzippedBytes, signatureMaxSkewMs } = config.frontend;
  const own = (build: Parameters<typeof perCaller>[2]) => perCaller(registries, admin.accountId, build);
  const quotas = (registry: FunctionRegistry) => accounts.quotasOf(registry.accountId);
  const charts = new ChartSampler({ metrics: deps.metrics, clock });
  const layers = new LayerStore({
    store: deps.layerDocuments, code, clock, region, zipLimits: { maxUnzippedBytes },
    codeStorage: (accountId) => ({ functionBytes: registries.for(accountId).codeUsage(), quotaBytes: accounts.quotasOf(accountId).totalCodeBytes }),
  });
  const functionLayers = new FunctionLayers({ layers, code, maxUnzippedBytes });
  const consoleApi = deps.console && consoleRoutes({
    sessions: deps.console.sessions, keys,
    endpoints: consoleEndpoints({
      registries, invoker, assigner: deps.assignment, logs: deps.console.logs, charts, adminAccountId: admin.accountId, region, maxPayloadBytes: maxSyncPayloadBytes,
    }),
  });
  const server = new FrontendServer({
    routes: [
      ...(consoleApi ?? []),
      ...invocationRoutes({ invoker, events, mayInvoke, maxSyncPayloadBytes, maxAsyncPayloadBytes }),
      ...streamingInvocationRoutes({ invoker, mayInvoke, maxPayloadBytes: maxSyncPayloadBytes }),
      ...own((registry) => functionRoutes({ registry, code, images: deps.images, region, links: deps.links, maxZipBytes, clock, layers: functionLayers })),
      ...layerRoutes({ layers, maxZipBytes }),
      ...own((registry) => versionRoutes({ registry, region })),
      ...own((registry) => aliasRoutes({ registry })),
      ...own((registry) => functionUrlRoutes({ registry, clock })),
      ...urlInvocationRoutes({
        registries, invoker, credentials: keys, mayInvokeUrl, clock, region, signatureMaxSkewMs, maxPayloadBytes: maxSyncPayloadBytes,
      }),
      ...own((registry) => tagRoutes({ registry })),
      ...own((registry) => concurrencyRoutes({ registry, accountLimit: () => quotas(registry).concurrency, minUnreserved })),
      ...own((registry) => eventInvokeConfigRoutes({ registry, clock })),
      ...own((registry) => permissionRoutes({ registry })),
      ...own((registry) => functionCodeSigningRoutes({ registry })),
      ...codeSigningConfigRoutes(),
      ...own((registry) => unavailableFunctionRoutes({ registry })),
      ...unavailableRoutes(),
      ...own((registry) => provisionedConcurrencyRoutes({
        registry, provision: deps.provision, allocated: deps.allocated, accountLimit: () => quotas(registry).concurrency, minUnreserved,
      })),
      ...own((registry) => accountSettingsRoutes({
        registry, maxZipBytes, maxUnzippedBytes, totalCodeBytes: () => quotas(registry).totalCodeBytes, layerBytes: () => layers.codeBytes(registry.accountId),
        concurrency: () => ({ total: quotas(registry).concurrency, unreserved: quotas(registry).concurrency - registry.reservedConcurrencyTotal() }),
      })),
      ...accountRoutes({ accounts, registries }),
      ...logsRoutes({ logs: deps.logs }),
      ...(deps.schedules ? schedulerRoutes({ schedules: deps.schedules }) : []),
      ...deps.links.routes({ registries, code }),
    ],
    credentials: keys,
    region,
    clock,
    log: deps.log.child({ component: 'frontend' }),
    signatureMaxSkewMs,
  });
  return { server, events, charts };
}

/**
 * Assignment follows every account's registry: a changed or deleted function retires its
 * environments, and provisioned concurrency is (re)applied at start and after each change.
 */
export function followRegistries(registries: FunctionRegistries, assignment: () => AssignmentService | undefined, log: Logger): { applyAll(): void } {
  const applyProvisioned = (registry: FunctionRegistry, name: string) => {
    const service = assignment();
    for (const [qualifier, { requested }] of Object.entries(registry.find(name)?.provisioned ?? {})) {
      try {
        service?.setProvisioned(registry.provisionedVersion(name, qualifier), requested);
      } catch (err) {
        log.warn({ err, account: registry.accountId, function: name, qualifier }, 'provisioned concurrency cannot be applied');
      }
    }
  };
  registries.onRegistry((registry) => registry.onChange((name, version) => {
    assignment()?.retire(registry.functionArn(name), version, currentKey(registry, name, version));
    applyProvisioned(registry, name);
  }));
  const applyAll = () => {
    for (const registry of registries.all()) for (const fn of registry.list()) applyProvisioned(registry, fn.name);
  };
  applyAll();
  return { applyAll };
}

/** The environment key of `name` (at `version`, else $LATEST) as it is now; undefined if it is gone. */
function currentKey(registry: FunctionRegistry, name: string, version: string | undefined): string | undefined {
  try {
    return environmentKey(registry.resolve(name, version ?? '$LATEST'));
  } catch {
    return undefined;
  }
}
