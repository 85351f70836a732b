import { wireErrorResponse, withoutBearer, type HttpRequest, type HttpResponse } from './http-server.js';

/**
 * The prefix of the control plane's internal API for worker agents in other processes:
 * registration and heartbeats (placement) and code, chunk and image downloads (codestore).
 */
export const CLUSTER_API = '/_stratus/cluster/v1';

/**
 * A route handler of the internal API: 403 unless the request carries the cluster token, and
 * what it throws answered as a wire error (`fromWireError` rebuilds it on the worker's side).
 */
export function withClusterToken(
  token: string,
  handle: (req: HttpRequest) => Promise<HttpResponse> | HttpResponse,
): (req: HttpRequest) => Promise<HttpResponse> {
  return async (req) => {
    const refused = withoutBearer(req, token, 'cluster', 403);
    if (refused) return refused;
    try {
      return await handle(req);
    } catch (err) {
      return wireErrorResponse(err);
    }
  };
}
