import type { ChunkStore, CodeStore } from '../codestore/index.js';
import type { PlacementService } from '../placement/index.js';
import { bearerMatches } from '../shared/bearer.js';
import type { Logger } from '../shared/log.js';
import { CLUSTER_API, RemoteWorkerAgent, type WorkerStatus } from '../worker/index.js';
import { header, type ApiRequest, type ApiResponse, type Route } from './routes.js';

export interface ClusterRoutesDeps {
  token: string;
  placement: PlacementService;
  code: CodeStore;
  chunks: ChunkStore;
  leaseMs: number;
  log: Logger;
  /** A worker registered for the first time (or again, after its lease ran out). */
  onWorkerJoined(agent: RemoteWorkerAgent): void;
  /** Every accepted heartbeat, with what the worker reported (the cluster's worker directory). */
  onHeartbeat?(worker: { id: string; url: string; status: WorkerStatus }): void;
}

const FORBIDDEN: ApiResponse = { status: 403, body: { message: 'bad cluster token' } };

/**
 * The control plane's internal API for worker agents in other processes: registration and
 * heartbeats (placement leases), code packages, image chunks and image manifests. Every call carries the cluster token.
 */
export function clusterRoutes(deps: ClusterRoutesDeps): Route[] {
  const base = CLUSTER_API.replaceAll('/', '\\/');
  return [
    { method: 'POST', pattern: new RegExp(`^${base}/workers$`), body: 1024 * 1024, tooLargeMessage: 'too large', sigv4: false,
      handle: (req) => heartbeat(deps, req) },
    { method: 'GET', pattern: new RegExp(`^${base}/code/([0-9a-f]{64})$`), body: 0, tooLargeMessage: '', sigv4: false,
      handle: async (req) => {
        if (!bearerMatches(header(req.headers, 'authorization'), deps.token)) return FORBIDDEN;
        const bytes = await deps.code.get({ sha256: req.params[0] ?? '', size: Number(req.query.get('size') ?? 0) });
        return { status: 200, body: bytes, headers: { 'content-type': 'application/zip' } };
      } },
    { method: 'GET', pattern: new RegExp(`^${base}/chunks/([0-9a-f]{64})$`), body: 0, tooLargeMessage: '', sigv4: false,
      handle: async (req) => {
        if (!bearerMatches(header(req.headers, 'authorization'), deps.token)) return FORBIDDEN;
        return { status: 200, body: await deps.chunks.getChunk(req.params[0] ?? ''), headers: { 'content-type': 'application/octet-stream' } };
      } },
    { method: 'GET', pattern: new RegExp(`^${base}/images/(sha256:[0-9a-f]{64})$`), body: 0, tooLargeMessage: '', sigv4: false,
      handle: async (req) => {
        if (!bearerMatches(header(req.headers, 'authorization'), deps.token)) return FORBIDDEN;
        const manifest = await deps.chunks.getImage(req.params[0] ?? '');
        return manifest ? { status: 200, body: manifest } : { status: 404, body: { message: 'no such image' } };
      } },
  ];
}

function heartbeat(deps: ClusterRoutesDeps, req: ApiRequest): ApiResponse {
  if (!bearerMatches(header(req.headers, 'authorization'), deps.token)) return FORBIDDEN;
  const { id, url, status } = JSON.parse(req.body.toString()) as { id: string; url: string; status: WorkerStatus };
  const known = deps.placement.worker(id);
  if (known instanceof RemoteWorkerAgent && deps.placement.renew(id)) {
    known.report(status);
  } else {
    const agent = new RemoteWorkerAgent(id, url, deps.token, status, deps.log.child({ worker: id }));
    deps.placement.register(agent, { leased: true });
    deps.onWorkerJoined(agent);
    deps.log.info({ worker: id, url }, 'worker joined');
  }
  deps.onHeartbeat?.({ id, url, status });
  return { status: 200, body: { leaseMs: deps.leaseMs } };
}
