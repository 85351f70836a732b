import { HttpServer } from './http-server.js';
import { toWireError } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export interface MetricsListener {
  /** http://host:port/metrics */
  url: string;
  stop(): Promise<void>;
}

/**
 * A process's metrics listener: `GET /metrics` in Prometheus exposition, on the shared HTTP
 * core, on a port of its own (`--metrics-host`, `--metrics-port`). It names every account's
 * functions, so it is for operators: never on the tenant-facing Lambda API port, on loopback by
 * default, and out of reach of functions (a sandbox has only its own `lo`).
 */
export async function startMetricsListener(metrics: Metrics, host: string, port: number, log?: Logger): Promise<MetricsListener> {
  const server = new HttpServer({
    routes: [{
      method: 'GET', pattern: /^\/metrics$/, body: 0,
      handle: async () => ({ status: 200, body: Buffer.from(await metrics.text()), headers: { 'content-type': metrics.contentType } }),
    }],
    log,
    notFound: () => ({ status: 404, body: { message: 'Not found: metrics are at GET /metrics' } }),
    errorReply: (err) => ({ status: 500, body: toWireError(err) }),
  });
  const address = await server.listen(host, port);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${address.port}/metrics`, stop: () => server.close() };
}
