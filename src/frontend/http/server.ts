import type { AddressInfo } from 'node:net';
import type { Clock } from '../../shared/clock.js';
import { StratusError } from '../../shared/errors.js';
import { HttpServer } from '../../shared/http-server.js';
import { newRequestId } from '../../shared/ids.js';
import type { Logger } from '../../shared/log.js';
import { authErrorResponse, errorResponse, logsAuthErrorResponse } from './errors.js';
import type { Route } from './routes.js';
import { verifySigV4 } from './sigv4.js';

/** Whose an access key is, and its secret; undefined for a key that does not exist (or was deleted). */
export type KeyLookup = (accessKeyId: string) => { secretAccessKey: string; accountId: string } | undefined;

export interface FrontendServerDeps {
  routes: Route[];
  credentials: KeyLookup;
  /** The installation's region: a signature scoped to another is refused. */
  region: string;
  clock: Clock;
  log: Logger;
  signatureMaxSkewMs: number;
}

/**
 * The Lambda REST API over HTTP: the shared HTTP core with Lambda's request ids, SigV4 and
 * error mapping. It knows nothing about functions or sandboxes.
 */
export class FrontendServer {
  private readonly server: HttpServer<Route>;
  private readonly signingKeys = new Map<string, Buffer>();
  private readonly amzDates = new Map<string, number>();

  constructor(private readonly deps: FrontendServerDeps) {
    this.server = new HttpServer<Route>({
      routes: deps.routes,
      log: deps.log,
      requestId: newRequestId,
      replyHeaders: (requestId) => ({ 'x-amzn-requestid': requestId }),
      notFound: (method, path) => errorResponse(new StratusError('ResourceNotFound', `No API at ${method} ${path}`)),
      errorReply: errorResponse,
      authenticate: (route, req) => {
        if (!route.sigv4) return undefined;
        const verdict = verifySigV4(
          { method: req.method, rawUrl: req.rawUrl, headers: req.headers, body: req.body },
          (id) => this.deps.credentials(id)?.secretAccessKey, this.deps.clock.now(),
          { maxSkewMs: this.deps.signatureMaxSkewMs, signingKeys: this.signingKeys, amzDates: this.amzDates, region: this.deps.region, service: route.service },
        );
        if (!verdict.ok) return (route.wire === 'json-1.1' ? logsAuthErrorResponse : authErrorResponse)(verdict.code, verdict.message);
        req.principal = this.deps.credentials(verdict.accessKeyId)?.accountId;
        return undefined;
      },
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return this.server.listen(host, port);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
