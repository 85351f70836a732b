import type { Assigner, WorkerEnvironments } from '../../assignment/index.js';
import type { LogStore } from '../../journal/index.js';
import { loggingOf, type FunctionRecord, type FunctionRegistries, type FunctionRegistry } from '../../registry/index.js';
import { functionOfArn } from '../../shared/arns.js';
import { StratusError } from '../../shared/errors.js';
import { aliasConfiguration, functionConfiguration } from '../api/index.js';
import type { ApiRequest } from '../http/index.js';
import type { InvokeService } from '../invoke/index.js';
import type { ChartSampler } from './charts.js';
import type { ConsoleEndpoint } from './routes.js';
import type { ConsoleSession } from './sessions.js';

export interface ConsoleEndpointDeps {
  registries: FunctionRegistries;
  /** Test invokes go the way Lambda's Invoke goes: concurrency, metrics and all. */
  invoker: InvokeService;
  assigner: Assigner;
  logs: LogStore;
  charts: ChartSampler;
  /** The administrative account: it also sees other accounts' environments and the warm pool. */
  adminAccountId: string;
  region: string;
  maxPayloadBytes: number;
}

const NAME = '([A-Za-z0-9_-]{1,64})';
const LOG_PAGE = 200;

/**
 * What the console shows, each over the signed-in account only: its functions (configuration,
 * versions, aliases, tags), their charts and logs, a test invoke, and its live environments. A
 * function of another account is not found, exactly as one that does not exist.
 */
export function consoleEndpoints(deps: ConsoleEndpointDeps): ConsoleEndpoint[] {
  const own = (session: ConsoleSession, req: ApiRequest) => ownFunction(deps.registries, session, req.params[0] ?? '');
  return [
    { method: 'GET', path: 'functions', handle: (_req, session) => ({
      status: 200,
      body: { functions: (deps.registries.existing(session.accountId)?.list() ?? []).map(summary).sort((a, b) => a.name.localeCompare(b.name)) },
    }) },
    { method: 'GET', path: `functions/${NAME}`, handle: (req, session) => {
      const { registry, fn } = own(session, req);
      return { status: 200, body: {
        configuration: functionConfiguration(fn, registry.functionArn(fn.name), deps.region),
        versions: registry.versions.list(fn.name).map((v) => functionConfiguration(v, registry.qualifiedArn(fn.name, v.version), deps.region)),
        aliases: registry.aliases.list(fn.name).map((a) => aliasConfiguration(a, registry.qualifiedArn(fn.name, a.name))),
        tags: fn.tags ?? {},
        reservedConcurrency: fn.reservedConcurrency ?? null,
      } };
    } },
    { method: 'GET', path: `functions/${NAME}/charts`, handle: async (req, session) => {
      const { fn } = own(session, req);
      return { status: 200, body: { points: await deps.charts.points(session.accountId, fn.name) } };
    } },
    { method: 'GET', path: `functions/${NAME}/logs`, handle: async (req, session) => {
      const { fn } = own(session, req);
      return { status: 200, body: { events: await logEvents(deps.logs, session.accountId, loggingOf(fn).logGroup, req) } };
    } },
    { method: 'POST', path: `functions/${NAME}/invoke`, body: deps.maxPayloadBytes + 1024, handle: async (req, session) => {
      const { fn } = own(session, req);
      const { qualifier, payload } = invokeInput(req.body);
      const { version, result } = await deps.invoker.invoke({
        accountId: session.accountId, functionName: fn.name, qualifier, requestId: req.requestId, payload, tailLog: false,
      });
      const { outcome } = result;
      return { status: 200, body: {
        requestId: req.requestId, executedVersion: version.version, durationMs: result.durationMs,
        functionError: outcome.kind === 'function-error' ? outcome.errorType : null,
        payload: outcome.kind === 'streamed' ? '' : outcome.payload.toString('utf8'),
      } };
    } },
    { method: 'GET', path: 'environments', handle: async (_req, session) => ({
      status: 200, body: { workers: visibleEnvironments(await deps.assigner.environments(), session.accountId, session.accountId === deps.adminAccountId) },
    }) },
  ];
}

function ownFunction(registries: FunctionRegistries, session: ConsoleSession, name: string): { registry: FunctionRegistry; fn: FunctionRecord } {
  const registry = registries.existing(session.accountId);
  const fn = registry?.find(name);
  if (!registry || !fn) throw new StratusError('ResourceNotFound', `Function not found: ${name}`);
  return { registry, fn };
}

function summary(fn: FunctionRecord) {
  return { name: fn.name, runtime: fn.runtime ?? null, description: fn.description, memoryMb: fn.memoryMb, lastModifiedMs: fn.lastModifiedMs };
}

/** The newest events of the function's log group, or (with a cursor, for live tail) the ones after it, oldest first. */
async function logEvents(logs: LogStore, accountId: string, group: string, req: ApiRequest) {
  const afterTime = req.query.get('afterTime');
  const afterId = req.query.get('afterId');
  let events;
  if (afterTime !== null && afterId !== null) {
    const timestamp = Number(afterTime);
    if (!Number.isSafeInteger(timestamp) || afterId.length > 128) throw new StratusError('Validation', 'The log cursor is not valid.');
    events = await logs.events(accountId, group, { after: { timestamp, id: afterId }, limit: LOG_PAGE });
  } else {
    events = (await logs.events(accountId, group, { descending: true, limit: LOG_PAGE }))?.reverse();
  }
  return (events ?? []).map((e) => ({ id: e.id, timestamp: e.timestamp, stream: e.stream, message: e.message }));
}

function invokeInput(body: Buffer): { qualifier: string | undefined; payload: Buffer } {
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new StratusError('InvalidRequestContent', 'The test invoke request is not JSON.');
  }
  const { qualifier, payload } = input ?? {};
  if (qualifier !== undefined && qualifier !== '' && (typeof qualifier !== 'string' || !/^(\$LATEST|[A-Za-z0-9_-]{1,128})$/.test(qualifier))) {
    throw new StratusError('Validation', 'The qualifier must be $LATEST, a version or an alias.');
  }
  const text = typeof payload === 'string' && payload.trim() !== '' ? payload : '{}';
  try {
    JSON.parse(text);
  } catch (err) {
    throw new StratusError('InvalidRequestContent', `Could not parse request body into json: ${(err as Error).message}`);
  }
  return { qualifier: typeof qualifier === 'string' && qualifier !== '' ? qualifier : undefined, payload: Buffer.from(text) };
}

/**
 * The environments an account may see: its own, by worker. The administrative account sees
 * every account's and each worker's warm-pool stems.
 */
function visibleEnvironments(workers: WorkerEnvironments[], accountId: string, admin: boolean) {
  return workers.map((worker) => ({
    workerId: worker.workerId,
    stems: admin ? worker.stems : null,
    environments: worker.environments
      .map((env) => ({ ...env, ...functionOfArn(env.functionArn) }))
      .filter((env) => admin || env.accountId === accountId)
      .map((env) => ({
        accountId: env.accountId, functionName: env.name, version: env.version, state: env.state, provisioned: env.provisioned, memoryMb: env.memoryMb, ageMs: env.ageMs,
      })),
  })).filter((worker) => admin || worker.environments.length > 0);
}
