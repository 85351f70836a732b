import { errorMessage } from '../shared/errors.js';
import { HttpServer, type HttpRequest } from '../shared/http-server.js';
import type { ChunkCache } from './chunk-cache.js';

/**
 * Serves the worker's chunk cache to its FUSE image servers over a Unix socket:
 * `GET /chunks/<accountId>/<sha256>` answers the chunk from that account's part of the local
 * cache (else the code store),
 * or 502 with the reason when it cannot be fetched; `GET /stats` answers the cache counters.
 */
export class ChunkServer {
  private readonly server: HttpServer;

  constructor(private readonly socketPath: string, cache: ChunkCache) {
    this.server = new HttpServer({
      routes: [
        { method: 'GET', pattern: /^\/stats$/, body: 0, handle: () => ({ status: 200, body: cache.stats() }) },
        {
          method: 'GET', pattern: /^\/chunks\/(\d{12})\/([0-9a-f]{64})$/, body: 0,
          handle: async (req: HttpRequest) => ({ status: 200, body: await cache.get(req.params[0] ?? '', req.params[1] ?? ''), headers: { 'content-type': 'application/octet-stream' } }),
        },
      ],
      notFound: () => ({ status: 404 }),
      errorReply: (err) => ({ status: 502, body: Buffer.from(errorMessage(err)), headers: { 'content-type': 'text/plain' } }),
    });
  }

  get path(): string {
    return this.socketPath;
  }

  listen(): Promise<void> {
    return this.server.listenOnSocket(this.socketPath);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
