import type { FunctionRegistry, FunctionVersion } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { lambdaTimestamp } from '../../shared/ids.js';
import { type ApiRequest, type ApiResponse, parseFunctionRef, parseJsonObject, qualifierOf, type Route, Validator, pathParam } from '../http/index.js';

export interface ProvisionedRoutesDeps {
  registry: FunctionRegistry;
  /** Keeps `count` environments of the version initialized (0 stops). */
  provision(fn: FunctionVersion, count: number): void;
  /** How many are there now (asked of the assignment leader in a cluster). */
  allocated(fn: FunctionVersion): number | Promise<number>;
  /** The account's concurrent executions, and what must stay unreserved of them (Lambda: 100, or all of a smaller quota). */
  accountLimit(): number;
  minUnreserved: number;
}

const PATH = /^\/2019-09-30\/functions\/([^/]+)\/provisioned-concurrency\/?$/;
const SMALL = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes', sigv4: true } as const;

/** Put/Get/Delete/ListProvisionedConcurrencyConfig(s). */
export function provisionedConcurrencyRoutes(deps: ProvisionedRoutesDeps): Route[] {
  return [
    { method: 'PUT', pattern: PATH, ...SMALL, handle: (req) => put(deps, req) },
    { method: 'GET', pattern: PATH, ...SMALL, handle: (req) => (req.query.get('List') === 'ALL' ? list(deps, req) : get(deps, req)) },
    { method: 'DELETE', pattern: PATH, ...SMALL,
      handle: async (req) => {
        const { name, qualifier } = target(deps, req);
        config(deps, name, qualifier);
        await deps.registry.setProvisionedConcurrency(name, qualifier, undefined);
        deps.provision(deps.registry.provisionedVersion(name, qualifier), 0);
        return { status: 204 };
      } },
  ];
}

function target(deps: ProvisionedRoutesDeps, req: ApiRequest): { name: string; qualifier: string } {
  const ref = parseFunctionRef(pathParam(req, 0));
  const qualifier = qualifierOf(ref, req.query);
  if (qualifier === undefined) {
    throw new StratusError('Validation', "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must not be null");
  }
  deps.registry.provisionedVersion(ref.name, qualifier);
  return { name: ref.name, qualifier };
}

function config(deps: ProvisionedRoutesDeps, name: string, qualifier: string) {
  const found = deps.registry.get(name).provisioned?.[qualifier];
  if (!found) throw new StratusError('ProvisionedConcurrencyConfigNotFound', 'No Provisioned Concurrency Config found for this function');
  return found;
}

async function shape(deps: ProvisionedRoutesDeps, name: string, qualifier: string): Promise<Record<string, unknown>> {
  const { requested, lastModifiedMs } = config(deps, name, qualifier);
  const allocated = Math.min(requested, await deps.allocated(deps.registry.provisionedVersion(name, qualifier)));
  return {
    RequestedProvisionedConcurrentExecutions: requested,
    AvailableProvisionedConcurrentExecutions: allocated,
    AllocatedProvisionedConcurrentExecutions: allocated,
    Status: allocated >= requested ? 'READY' : 'IN_PROGRESS',
    LastModified: lambdaTimestamp(lastModifiedMs),
  };
}

async function put(deps: ProvisionedRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const { name, qualifier } = target(deps, req);
  const v = new Validator(parseJsonObject(req.body));
  const requested = v.integer('ProvisionedConcurrentExecutions', 'provisionedConcurrentExecutions', 1, Number.MAX_SAFE_INTEGER, { required: true });
  v.done();
  checkWithinConcurrency(deps, name, qualifier, requested ?? 0);
  await deps.registry.setProvisionedConcurrency(name, qualifier, requested);
  deps.provision(deps.registry.provisionedVersion(name, qualifier), requested ?? 0);
  return { status: 202, body: await shape(deps, name, qualifier) };
}

/**
 * Provisioned environments count against concurrency as Lambda counts them: within a function's
 * reserved concurrency if it has one, else out of what the account leaves unreserved (so one
 * account cannot keep more environments warm than its quota lets it run).
 */
function checkWithinConcurrency(deps: ProvisionedRoutesDeps, name: string, qualifier: string, requested: number): void {
  const provisionedOf = (fn: { provisioned?: Record<string, { requested: number }> }, skip?: string) =>
    Object.entries(fn.provisioned ?? {}).reduce((sum, [q, c]) => (q === skip ? sum : sum + c.requested), 0);
  const fn = deps.registry.get(name);
  if (fn.reservedConcurrency !== undefined) {
    if (provisionedOf(fn, qualifier) + requested > fn.reservedConcurrency) {
      throw new StratusError('InvalidParameterValue', 'Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function');
    }
    return;
  }
  const limit = deps.accountLimit();
  const minimum = Math.min(deps.minUnreserved, limit);
  let provisioned = requested;
  for (const other of deps.registry.list()) {
    if (other.reservedConcurrency === undefined) provisioned += provisionedOf(other, other.name === name ? qualifier : undefined);
  }
  if (limit - deps.registry.reservedConcurrencyTotal() - provisioned < minimum) {
    throw new StratusError('InvalidParameterValue', `Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minimum}].`);
  }
}

async function get(deps: ProvisionedRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const { name, qualifier } = target(deps, req);
  return { status: 200, body: await shape(deps, name, qualifier) };
}

async function list(deps: ProvisionedRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const name = parseFunctionRef(pathParam(req, 0)).name;
  const configs = await Promise.all(Object.keys(deps.registry.get(name).provisioned ?? {}).map(async (qualifier) => ({
    FunctionArn: `${deps.registry.functionArn(name)}:${qualifier}`,
    ...(await shape(deps, name, qualifier)),
  })));
  return { status: 200, body: { ProvisionedConcurrencyConfigs: configs } };
}
