import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { newRequestId } from '../shared/ids.js';
import type { Logger } from '../shared/log.js';
import { sendAuthError, sendError } from './errors.js';
import { isStreamedBody, type ApiRequest, type ApiResponse, type Route, type StreamedBody } from './routes.js';
import { verifySigV4, type CredentialLookup } from './sigv4.js';
import { closeNow, listenOn, readBody } from '../shared/http.js';

export interface FrontendServerDeps {
  routes: Route[];
  credentials: CredentialLookup;
  clock: Clock;
  log: Logger;
  signatureMaxSkewMs: number;
}

/**
 * The Lambda REST API over HTTP: reads and sizes the body, checks the signature, finds the
 * route, and writes what the route returns. It knows nothing about functions or sandboxes.
 */
export class FrontendServer {
  private readonly server: Server;
  private readonly signingKeys = new Map<string, Buffer>();

  constructor(private readonly deps: FrontendServerDeps) {
    this.server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => this.handle(req, res));
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.server, host, port);
  }

  async close(): Promise<void> {
    await closeNow(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const requestId = newRequestId();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const match = this.match(method, url.pathname);
    if (!match) {
      sendError(res, requestId, new StratusError('ResourceNotFound', `No API at ${method} ${url.pathname}`));
      return;
    }
    const { route, params } = match;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > route.maxBodyBytes) {
      sendError(res, requestId, new StratusError('RequestTooLarge', route.tooLargeMessage));
      return;
    }
    readBody(req, route.maxBodyBytes).then(
      (body) => {
        if (!body) return sendError(res, requestId, new StratusError('RequestTooLarge', route.tooLargeMessage));
        if (route.sigv4) {
          const verdict = verifySigV4({ method, rawUrl: req.url ?? '/', headers: req.headers, body }, this.deps.credentials, this.deps.clock.now(), { maxSkewMs: this.deps.signatureMaxSkewMs, signingKeys: this.signingKeys });
          if (!verdict.ok) return sendAuthError(res, requestId, verdict.code, verdict.message);
        }
        const apiReq: ApiRequest = {
          method, params, query: url.searchParams, headers: req.headers, body, requestId, origin: `http://${req.headers.host ?? 'localhost'}`,
          rawUrl: req.url ?? '/', sourceIp: req.socket.remoteAddress ?? '',
        };
        return this.run(route, apiReq, res);
      },
      (err: unknown) => sendError(res, requestId, err),
    );
  }

  private match(method: string, path: string): { route: Route; params: string[] } | undefined {
    for (const route of this.deps.routes) {
      if (route.method !== method && route.method !== '*') continue;
      const m = route.pattern.exec(path);
      if (m) return { route, params: m.slice(1).map((p) => p ?? '') };
    }
    return undefined;
  }

  private async run(route: Route, req: ApiRequest, res: ServerResponse): Promise<void> {
    let out: ApiResponse;
    try {
      out = await route.handle(req);
    } catch (err) {
      const status = sendError(res, req.requestId, err);
      if (status >= 500) this.deps.log.error({ err, requestId: req.requestId }, 'request failed');
      return;
    }
    if (!isStreamedBody(out.body)) return writeResponse(res, req.requestId, out);
    try {
      await writeStreamed(res, req.requestId, out, out.body);
    } catch (err) {
      this.deps.log.error({ err, requestId: req.requestId }, 'streamed response failed');
      res.destroy();
    }
  }
}

/** Writes chunks as they come, waiting for the client to take each one (back-pressure). */
async function writeStreamed(res: ServerResponse, requestId: string, out: ApiResponse, body: StreamedBody): Promise<void> {
  res.writeHead(out.status, { 'x-amzn-requestid': requestId, ...out.headers });
  res.flushHeaders();
  let gone = false;
  res.once('close', () => {
    if (res.writableFinished) return;
    gone = true;
    body.cancel();
  });
  try {
    for await (const chunk of body.chunks) {
      if (gone) break;
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
  } finally {
    res.end();
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function writeResponse(res: ServerResponse, requestId: string, out: ApiResponse): void {
  const body = out.body === undefined ? undefined : Buffer.isBuffer(out.body) ? out.body : Buffer.from(JSON.stringify(out.body));
  const headers: Record<string, string | number | string[]> = { 'x-amzn-requestid': requestId, ...out.headers };
  if (body) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = body.length;
  }
  res.writeHead(out.status, headers);
  res.end(body);
}
