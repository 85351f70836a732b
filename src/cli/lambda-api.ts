import { ConcurrencyLimiter, type Assigner, type AssignmentService } from '../assignment/index.js';
import { AsyncInvoker, eventSettings } from '../async/index.js';
import type { CodeStore } from '../codestore/index.js';
import {
  accountSettingsRoutes, aliasRoutes, concurrencyRoutes, eventInvokeConfigRoutes, FrontendServer, functionRoutes, functionUrlRoutes,
  invocationRoutes, InvokeService, permissionRoutes, provisionedConcurrencyRoutes, streamingInvocationRoutes, tagRoutes, urlInvocationRoutes, versionRoutes,
  type ImageSourceImporter,
} from '../frontend/index.js';
import type { EventQueue, Journal } from '../journal/index.js';
import { environmentKey, FunctionRegistry, type FunctionVersion } from '../registry/index.js';
import { RESERVED_ENV_KEYS } from '../worker/index.js';
import type { Clock } from '../shared/clock.js';
import type { HttpRoute } from '../shared/http-server.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface LambdaApiDeps {
  config: StratusConfig;
  registry: FunctionRegistry;
  code: CodeStore;
  /** Pulls container images into the chunk store (PackageType Image). */
  images: ImageSourceImporter;
  assignment: Assigner;
  /** The journal's queue of Event invokes, which this frontend fills and consumes. */
  eventQueue: EventQueue;
  credentials: Credentials;
  clock: Clock;
  log: Logger;
  /** Provisioned concurrency changed (one machine applies it at once; a cluster's leader follows the registry). */
  provision(fn: FunctionVersion, count: number): void;
  allocated(fn: FunctionVersion): number | Promise<number>;
  /** The control plane's internal API on the same server (worker registration and downloads, one machine). */
  internalRoutes?: HttpRoute[];
}

export interface LambdaApi {
  server: FrontendServer;
  events: AsyncInvoker;
}

/** The function registry over a journal and a code store, with the configured limits. */
export function newRegistry(config: StratusConfig, journal: Journal, code: CodeStore, clock: Clock): FunctionRegistry {
  const { region, accountId } = config.identity;
  return new FunctionRegistry({
    journal, code, clock,
    zipLimits: { maxUnzippedBytes: config.frontend.maxUnzippedBytes },
    accountId,
    arnPrefix: `arn:aws:lambda:${region}:${accountId}:function:`,
    reservedEnvKeys: RESERVED_ENV_KEYS,
  });
}

/** Lambda's concurrency rules over the registry's reservations (applied by assignment). */
export function concurrencyLimiter(config: StratusConfig, registry: FunctionRegistry): ConcurrencyLimiter {
  return new ConcurrencyLimiter({
    accountLimit: config.concurrency.accountLimit,
    reservedFor: (name) => registry.find(name)?.reservedConcurrency,
    reservedTotal: () => registry.reservedConcurrencyTotal(),
  });
}

/** A frontend: the Lambda API on top of the registry and an assignment (local or remote). */
export function lambdaApi(deps: LambdaApiDeps): LambdaApi {
  const { config, registry, code, clock, credentials } = deps;
  const { region, accountId } = config.identity;
  const { accountLimit, minUnreserved } = config.concurrency;
  const invoker = new InvokeService(registry, deps.assignment, deps.log.child({ component: 'frontend' }), clock);
  const events = new AsyncInvoker({
    queue: deps.eventQueue, invoke: (request) => invoker.invoke(request), settings: eventSettings(registry),
    config: config.asyncInvoke, clock, log: deps.log.child({ component: 'async' }),
  });
  const lookup = (id: string) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined);
  const { maxSyncPayloadBytes, maxAsyncPayloadBytes, maxZipBytes, maxUnzippedBytes, signatureMaxSkewMs } = config.frontend;
  const server = new FrontendServer({
    routes: [
      ...invocationRoutes({ invoker, events, maxSyncPayloadBytes, maxAsyncPayloadBytes }),
      ...streamingInvocationRoutes({ invoker, maxPayloadBytes: maxSyncPayloadBytes }),
      ...functionRoutes({ registry, code, images: deps.images, region, linkSecret: credentials.secretAccessKey, maxZipBytes, clock }),
      ...versionRoutes({ registry, region }),
      ...aliasRoutes({ registry }),
      ...functionUrlRoutes({ registry, clock }),
      ...urlInvocationRoutes({ registry, invoker, credentials: lookup, clock, signatureMaxSkewMs, accountId, maxPayloadBytes: maxSyncPayloadBytes }),
      ...tagRoutes({ registry }),
      ...concurrencyRoutes({ registry, accountLimit, minUnreserved }),
      ...eventInvokeConfigRoutes({ registry, clock }),
      ...permissionRoutes({ registry }),
      ...provisionedConcurrencyRoutes({ registry, provision: deps.provision, allocated: deps.allocated }),
      ...accountSettingsRoutes({
        registry, maxZipBytes, maxUnzippedBytes,
        concurrency: () => ({ total: accountLimit, unreserved: accountLimit - registry.reservedConcurrencyTotal() }),
      }),
    ],
    internalRoutes: deps.internalRoutes,
    credentials: lookup,
    clock,
    log: deps.log.child({ component: 'frontend' }),
    signatureMaxSkewMs,
  });
  return { server, events };
}

/**
 * Assignment follows the registry: a changed or deleted function retires its environments, and
 * provisioned concurrency is (re)applied at start and after each change.
 */
export function followRegistry(registry: FunctionRegistry, assignment: () => AssignmentService | undefined, log: Logger): { applyAll(): void } {
  const applyProvisioned = (name: string) => {
    const service = assignment();
    for (const [qualifier, { requested }] of Object.entries(registry.find(name)?.provisioned ?? {})) {
      try {
        service?.setProvisioned(registry.provisionedVersion(name, qualifier), requested);
      } catch (err) {
        log.warn({ err, function: name, qualifier }, 'provisioned concurrency cannot be applied');
      }
    }
  };
  registry.onChange((name, version) => {
    assignment()?.retire(name, version, currentKey(registry, name, version));
    applyProvisioned(name);
  });
  const applyAll = () => {
    for (const fn of registry.list()) applyProvisioned(fn.name);
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
