import { CLUSTER_API, refusalResponse, withCaller, type AuthenticateAsync } from '../shared/cluster-api.js';
import { StratusError } from '../shared/errors.js';
import type { HttpRoute } from '../shared/http-server.js';
import type { ChunkStore } from './chunk-store.js';
import type { CodeStore } from './code-store.js';

export interface DownloadRoutesDeps {
  /** Who a request comes from: a worker, with its own credential, may download. */
  authenticate: AuthenticateAsync;
  code: CodeStore;
  chunks: ChunkStore;
}

/**
 * The control plane's downloads for worker agents in other processes: code packages, image
 * chunks and image manifests (`HttpCodeSource` is their client).
 */
export function downloadRoutes(deps: DownloadRoutesDeps): HttpRoute[] {
  const base = CLUSTER_API.replaceAll('/', '\\/');
  const authorized = (handle: HttpRoute['handle']) => withCaller(deps.authenticate, (req, caller) =>
    caller.kind === 'control-plane' ? refusalResponse({ refused: 403, message: 'downloads are for workers' }) : handle(req));
  return [
    { method: 'GET', pattern: new RegExp(`^${base}/code/([0-9a-f]{64})$`), body: 0,
      handle: authorized(async (req) => {
        const bytes = await deps.code.get({ sha256: req.params[0] ?? '', size: Number(req.query.get('size') ?? 0) });
        return { status: 200, body: bytes, headers: { 'content-type': 'application/zip' } };
      }) },
    { method: 'GET', pattern: new RegExp(`^${base}/chunks/([0-9a-f]{64})$`), body: 0,
      handle: authorized(async (req) => ({
        status: 200, body: await deps.chunks.getChunk(req.params[0] ?? ''), headers: { 'content-type': 'application/octet-stream' },
      })) },
    { method: 'GET', pattern: new RegExp(`^${base}/images/(sha256:[0-9a-f]{64})$`), body: 0,
      handle: authorized(async (req) => {
        const manifest = await deps.chunks.getImage(req.params[0] ?? '');
        if (!manifest) throw new StratusError('ResourceNotFound', `no image ${req.params[0] ?? ''} in the chunk store`);
        return { status: 200, body: manifest };
      }) },
  ];
}
