import { bearerMatches } from './bearer.js';
import { headerValue } from './http.js';
import type { HttpRequest, HttpResponse } from './http-server.js';

/**
 * The prefix of the control plane's internal API for worker agents in other processes:
 * registration and heartbeats (placement) and code, chunk and image downloads (codestore).
 */
export const CLUSTER_API = '/_stratus/cluster/v1';

const FORBIDDEN: HttpResponse = { status: 403, body: { message: 'bad cluster token' } };

/** A route handler that answers 403 unless the request carries the cluster token. */
export function withClusterToken(
  token: string,
  handle: (req: HttpRequest) => Promise<HttpResponse> | HttpResponse,
): (req: HttpRequest) => Promise<HttpResponse> | HttpResponse {
  return (req) => (bearerMatches(headerValue(req.headers, 'authorization'), token) ? handle(req) : FORBIDDEN);
}
