import type { FunctionRegistry } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, parseJsonObject, type Route, Validator } from '../http/index.js';
import { unqualifiedName } from './strict.js';

export interface ConcurrencyRoutesDeps {
  registry: FunctionRegistry;
  /** The account's concurrent executions. */
  accountLimit(): number;
  /** What reservations must leave for every other function (Lambda: 100). */
  minUnreserved: number;
}

const SMALL = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes', sigv4: true } as const;

/** PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency. */
export function concurrencyRoutes(deps: ConcurrencyRoutesDeps): Route[] {
  const nameOf = (req: ApiRequest) => {
    const name = unqualifiedName(req);
    deps.registry.get(name);
    return name;
  };
  return [
    { method: 'PUT', pattern: /^\/2017-10-31\/functions\/([^/]+)\/concurrency\/?$/, ...SMALL,
      handle: async (req) => {
        const name = nameOf(req);
        const v = new Validator(parseJsonObject(req.body));
        const value = v.integer('ReservedConcurrentExecutions', 'reservedConcurrentExecutions', 0, Number.MAX_SAFE_INTEGER, { required: true });
        v.done();
        const reserved = value ?? 0;
        // Lambda's minimum is 100, or the whole quota of an account allowed fewer.
        const minimum = Math.min(deps.minUnreserved, deps.accountLimit());
        if (deps.accountLimit() - deps.registry.reservedConcurrencyTotal(name) - reserved < minimum) {
          throw new StratusError('InvalidParameterValue', `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minimum}].`);
        }
        await deps.registry.setReservedConcurrency(name, reserved);
        return { status: 200, body: { ReservedConcurrentExecutions: reserved } };
      } },
    { method: 'GET', pattern: /^\/2019-09-30\/functions\/([^/]+)\/concurrency\/?$/, ...SMALL,
      handle: (req) => {
        const reserved = deps.registry.get(nameOf(req)).reservedConcurrency;
        return { status: 200, body: reserved === undefined ? {} : { ReservedConcurrentExecutions: reserved } };
      } },
    { method: 'DELETE', pattern: /^\/2017-10-31\/functions\/([^/]+)\/concurrency\/?$/, ...SMALL,
      handle: async (req) => {
        await deps.registry.setReservedConcurrency(nameOf(req), undefined);
        return { status: 204 };
      } },
  ];
}
