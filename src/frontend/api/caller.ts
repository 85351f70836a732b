import type { FunctionRegistries, FunctionRegistry } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { accountNamedIn, type ApiRequest, type Route, pathParam } from '../http/index.js';

/** The account that signed the request (the SigV4 key's owner). */
export function callerAccount(req: ApiRequest): string {
  if (req.principal === undefined) throw new StratusError('Internal', 'a signed route ran without a caller');
  return req.principal;
}

/**
 * Routes served over the caller's own registry: `build` makes an API's routes over one
 * account's registry, once per account. A path naming a function by an ARN of another account
 * gets the same ResourceNotFoundException as a function that does not exist: an account can
 * neither reach nor learn of another's functions through these routes.
 */
export function perCaller(registries: FunctionRegistries, template: string, build: (registry: FunctionRegistry) => Route[]): Route[] {
  const built = new Map<string, Route[]>();
  const routesOf = (accountId: string) => {
    let routes = built.get(accountId);
    if (!routes) built.set(accountId, (routes = build(registries.for(accountId))));
    return routes;
  };
  return routesOf(template).map((route, i) => ({
    ...route,
    handle: (req: ApiRequest) => {
      if (!route.sigv4) return route.handle(req);
      const account = callerAccount(req);
      const named = accountNamedIn(pathParam(req, 0));
      if (named !== undefined && named !== account) throw new StratusError('ResourceNotFound', `Function not found: ${pathParam(req, 0)}`);
      return (routesOf(account)[i] as Route).handle(req);
    },
  }));
}
