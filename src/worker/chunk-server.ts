import { createServer, type Server } from 'node:http';
import { CHUNK_NAME } from '../codestore/index.js';
import { closeNow } from '../shared/http.js';
import type { ChunkCache } from './chunk-cache.js';

/**
 * Serves the worker's chunk cache to its FUSE image servers over a Unix socket:
 * `GET /chunks/<sha256>` answers the chunk (through the local cache, then the code store),
 * or 502 with the reason when it cannot be fetched; `GET /stats` answers the cache counters.
 */
export class ChunkServer {
  private readonly server: Server;

  constructor(private readonly socketPath: string, cache: ChunkCache) {
    this.server = createServer((req, res) => {
      const name = /^\/chunks\/([0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
      if (req.url === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(cache.stats()));
        return;
      }
      if (!name || !CHUNK_NAME.test(name)) {
        res.writeHead(404).end();
        return;
      }
      cache.get(name).then(
        (bytes) => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes),
        (err: unknown) => res.writeHead(502, { 'content-type': 'text/plain' }).end(err instanceof Error ? err.message : String(err)),
      );
    });
  }

  get path(): string {
    return this.socketPath;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  close(): Promise<void> {
    return closeNow(this.server);
  }
}
