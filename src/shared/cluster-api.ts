import { bearerToken, secretMatchesHash } from './bearer.js';
import { StratusError, toWireError } from './errors.js';
import { wireErrorResponse, type HttpRequest, type HttpResponse, type HttpRoute } from './http-server.js';

/**
 * The prefix of the control plane's internal API for worker agents in other processes:
 * registration and heartbeats (placement) and code, chunk and image downloads (codestore).
 */
export const CLUSTER_API = '/_stratus/cluster/v1';

/** Who sent a request to an internal API, as its credential says. See docs/cluster-security.md. */
export type Caller =
  /** A control-plane process (frontend, assignment, placement): the cluster's control-plane credential. */
  | { kind: 'control-plane' }
  /** Worker `workerId`, with its own credential. */
  | { kind: 'worker'; workerId: string };

/** A request refused: 401 for a missing, unknown or revoked credential, 403 for one that may not do this. */
export interface Refusal {
  refused: 401 | 403;
  message: string;
}

export type Authentication = Caller | Refusal;
/** Who `Authorization` stands for (a refusal if nobody). */
export type Authenticate = (authorization: string | undefined) => Authentication;
export type AuthenticateAsync = (authorization: string | undefined) => Authentication | Promise<Authentication>;

export function isRefusal(a: Authentication): a is Refusal {
  return 'refused' in a;
}

/** The reply to a refused request: a Forbidden wire error (reason UnknownCredential or NotPermitted). */
export function refusalResponse(r: Refusal): HttpResponse {
  const reason = r.refused === 401 ? 'UnknownCredential' : 'NotPermitted';
  return { status: r.refused, body: toWireError(new StratusError('Forbidden', r.message, { details: { reason } })) };
}

/**
 * The control-plane credential, checked against its sha256: a worker holds only the hash, so it
 * can check the control plane's calls but cannot make one.
 */
export function controlPlaneKey(hashHex: string): Authenticate {
  return (authorization) => {
    const token = bearerToken(authorization);
    return token !== undefined && secretMatchesHash(token, hashHex) ? { kind: 'control-plane' } : { refused: 401, message: 'unknown credential' };
  };
}

/** An authenticateHead hook for an API only the control plane may call (the worker API, the assignment API). */
export function controlPlaneOnly(authenticate: Authenticate, what: string): (route: HttpRoute, req: HttpRequest) => HttpResponse | undefined {
  return (_route, req) => {
    const who = authenticate(req.headers.authorization);
    if (isRefusal(who)) return refusalResponse(who);
    return who.kind === 'worker' ? refusalResponse({ refused: 403, message: `a worker cannot call the ${what} API` }) : undefined;
  };
}

/**
 * A route handler of the internal API for workers: the caller is authenticated first (a refusal
 * otherwise), and what the handler throws is answered as a wire error (`fromWireError` rebuilds
 * it on the worker's side).
 */
export function withCaller(
  authenticate: AuthenticateAsync,
  handle: (req: HttpRequest, caller: Caller) => Promise<HttpResponse> | HttpResponse,
): (req: HttpRequest) => Promise<HttpResponse> {
  return async (req) => {
    try {
      const who = await authenticate(req.headers.authorization);
      if (isRefusal(who)) return refusalResponse(who);
      return await handle(req, who);
    } catch (err) {
      return wireErrorResponse(err);
    }
  };
}
