import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { StratusError, toWireError, wireStatus } from './errors.js';
import type { Logger } from './log.js';
import { closeNow, listenOn, readBody } from './http.js';
import type { TlsIdentity } from './tls.js';

/**
 * The one HTTP core every Stratus API is served by (the Lambda API, the Runtime API, the worker
 * API, the assignment API): it matches routes, bounds and reads bodies, authenticates, writes
 * replies (JSON, bytes or a stream with back-pressure) and turns thrown errors into replies.
 * An API is a list of routes that only translate between HTTP and its component.
 */
export interface HttpRequest {
  method: string;
  /** Capture groups of the route's pattern, in order ('' for one that did not match). */
  params: string[];
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The whole body (empty for a route that takes the body as a stream). */
  body: Buffer;
  /** Routes with `body: 'stream'`: the request itself, not yet read. */
  stream: IncomingMessage;
  requestId: string;
  /** Base URL this request reached (for links such as code locations). */
  origin: string;
  /** Path and query exactly as received, still percent-encoded (signature checks). */
  rawUrl: string;
  /** Address of the client's end of the connection. */
  sourceIp: string;
  /** Who the authenticate hook found the request comes from (the Lambda API: the caller's account id). */
  principal?: string;
}

export interface HttpResponse {
  status: number;
  /** JSON-serialised unless it is a Buffer or a StreamedBody; absent: the status alone. */
  body?: unknown;
  headers?: Record<string, string | string[]>;
}

/** A body written as it is produced (chunked); `cancel` is called if the client goes away. */
export interface StreamedBody {
  chunks: AsyncIterable<Buffer>;
  cancel(): void;
  /** HTTP trailers sent after the last chunk (what is known only once the body is complete). */
  trailers?(): Record<string, string>;
}

export function isStreamedBody(body: unknown): body is StreamedBody {
  return typeof body === 'object' && body !== null && 'chunks' in body && 'cancel' in body;
}

export interface HttpRoute {
  /** An HTTP method, or '*' for any. */
  method: string;
  pattern: RegExp;
  /** Largest request body accepted, in bytes, or 'stream' to hand the unread request to the route. */
  body: number | 'stream';
  /** Error to give when the body is larger than allowed. */
  tooLargeMessage?: string;
  handle(req: HttpRequest): Promise<HttpResponse> | HttpResponse;
}

export interface HttpServerOptions<R extends HttpRoute> {
  routes: readonly R[];
  /** Where failed requests are logged (absent: nowhere). */
  log?: Logger;
  /** What a request that matches no route gets. */
  notFound(method: string, path: string): HttpResponse;
  /** How a thrown error (a StratusError, or anything else) is answered. */
  errorReply(err: unknown, req: { requestId: string }): HttpResponse;
  /** Checked on the request's head, before its body is read (a token); a response refuses the request. */
  authenticateHead?(route: R, req: HttpRequest): HttpResponse | undefined;
  /** Checked once the body is read, before the route runs (a signature over it); a response refuses the request. */
  authenticate?(route: R, req: HttpRequest): HttpResponse | undefined;
  /** A new request id (default: none, ''). */
  requestId?(): string;
  /** Headers added to every reply, e.g. the request id. */
  replyHeaders?(requestId: string): Record<string, string>;
  keepAliveTimeoutMs?: number;
  /** How long a client may take to send a whole request (0: no limit; absent: Node's default). */
  requestTimeoutMs?: number;
  /** Connections beyond this are closed at once. */
  maxConnections?: number;
  /** Serve HTTPS with this key and certificate (the internal APIs of a cluster); absent: plain HTTP. */
  tls?: TlsIdentity;
}

export class HttpServer<R extends HttpRoute = HttpRoute> {
  private readonly server: Server;
  /** 'https' when serving TLS. */
  readonly scheme: 'http' | 'https';
  private socketPath: string | undefined;

  constructor(private readonly opts: HttpServerOptions<R>) {
    const timeouts = opts.requestTimeoutMs === undefined ? {} : { requestTimeout: opts.requestTimeoutMs };
    const options = { keepAliveTimeout: opts.keepAliveTimeoutMs ?? 60_000, ...timeouts };
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    this.scheme = opts.tls ? 'https' : 'http';
    this.server = opts.tls ? createTlsServer({ ...options, key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, handler) : createServer(options, handler);
    if (opts.maxConnections !== undefined) this.server.maxConnections = opts.maxConnections;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.server, host, port);
  }

  /** Listens on a Unix socket (replacing a stale one). */
  async listenOnSocket(path: string): Promise<void> {
    await rm(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => resolve());
    });
    this.socketPath = path;
  }

  async close(): Promise<void> {
    await closeNow(this.server);
    if (this.socketPath) await rm(this.socketPath, { force: true });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const requestId = this.opts.requestId?.() ?? '';
    const { path, query } = parseTarget(req.url ?? '/');
    const method = req.method ?? 'GET';
    const match = this.match(method, path);
    if (!match) return this.reply(res, requestId, this.opts.notFound(method, path));
    const { route, params } = match;
    const request: HttpRequest = {
      method, params, query, headers: req.headers, body: EMPTY, stream: req, requestId,
      origin: `${this.scheme}://${req.headers.host ?? 'localhost'}`, rawUrl: req.url ?? '/', sourceIp: req.socket.remoteAddress ?? '',
    };
    const refused = this.opts.authenticateHead?.(route, request);
    if (refused) return this.reply(res, requestId, refused);
    if (route.body === 'stream') return void this.run(route, request, res);
    const limit = route.body;
    const tooLarge = () => this.fail(res, request, new StratusError('RequestTooLarge', route.tooLargeMessage ?? `Request must be smaller than ${limit} bytes`));
    if (Number(req.headers['content-length'] ?? 0) > limit) return tooLarge();
    readBody(req, limit).then(
      (body) => {
        if (!body) return tooLarge();
        request.body = body;
        return this.run(route, request, res);
      },
      (err: unknown) => this.fail(res, request, err),
    );
  }

  private match(method: string, path: string): { route: R; params: string[] } | undefined {
    for (const route of this.opts.routes) {
      if (route.method !== method && route.method !== '*') continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: string[] = [];
      for (let i = 1; i < m.length; i++) params.push(m[i] ?? '');
      return { route, params };
    }
    return undefined;
  }

  private async run(route: R, req: HttpRequest, res: ServerResponse): Promise<void> {
    let out: HttpResponse;
    try {
      out = this.opts.authenticate?.(route, req) ?? (await route.handle(req));
    } catch (err) {
      return this.fail(res, req, err);
    }
    if (!isStreamedBody(out.body)) return this.reply(res, req.requestId, out);
    try {
      await writeStreamed(res, this.headers(req.requestId, out), out.status, out.body);
    } catch (err) {
      this.opts.log?.error({ err, requestId: req.requestId }, 'streamed response failed');
      res.destroy();
    }
  }

  private fail(res: ServerResponse, req: { requestId: string; rawUrl: string }, err: unknown): void {
    const out = this.opts.errorReply(err, req);
    if (out.status >= 500) this.opts.log?.error({ err, requestId: req.requestId, url: req.rawUrl }, 'request failed');
    this.reply(res, req.requestId, out);
  }

  private headers(requestId: string, out: HttpResponse): Record<string, string | string[]> {
    // A spread's copy (a '__proto__' key stays a header), without a spread's cost on every reply.
    return Object.assign(Object.create(null) as Record<string, string | string[]>, this.opts.replyHeaders?.(requestId), out.headers);
  }

  private reply(res: ServerResponse, requestId: string, out: HttpResponse): void {
    if (res.headersSent) return void res.destroy();
    const body = out.body === undefined ? undefined : Buffer.isBuffer(out.body) ? out.body : Buffer.from(JSON.stringify(out.body));
    const headers: Record<string, string | number | string[]> = this.headers(requestId, out);
    if (body) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = body.length;
    }
    res.writeHead(out.status, headers);
    res.end(body);
  }
}

const EMPTY = Buffer.alloc(0);
/** A path the URL parser would leave as it is: no dot segments, no '//', nothing it would escape. */
const PLAIN_PATH = /^\/(?!\/)(?:[A-Za-z0-9\-_~!$&'()*+,;=:@/]|\.(?![./]|$)|%(?![2][eE])[0-9A-Fa-f]{2})*$/;

/**
 * The path (still percent-encoded, as the URL parser leaves it) and query of a request target.
 * Plain paths, which are all the internal APIs and runtimes send, skip the URL parser: it is the
 * dearest step of a small request.
 */
function parseTarget(target: string): { path: string; query: URLSearchParams } {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (!PLAIN_PATH.test(path) || path.includes('/.') || target.includes('#')) {
    const url = new URL(target, 'http://localhost');
    return { path: url.pathname, query: url.searchParams };
  }
  return { path, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) };
}

/** The internal APIs' (worker, assignment) answer to an error: its wire form, code and details intact. */
export function wireErrorResponse(err: unknown): HttpResponse {
  const body = toWireError(err);
  return { status: wireStatus(body.code), body };
}

/**
 * Routes of one API that share a path prefix and a body limit: `route('GET', '/status', handle)`
 * matches exactly `<prefix>/status` (`path` may hold capture groups).
 */
export function routesUnder(prefix: string, body: HttpRoute['body']): (method: string, path: string, handle: HttpRoute['handle']) => HttpRoute {
  return (method, path, handle) => ({ method, pattern: new RegExp(`^${prefix}${path}$`), body, handle });
}

/** The request body as JSON; a malformed one is the caller's error. */
export function jsonBody<T>(req: HttpRequest): T {
  try {
    return JSON.parse(req.body.toString('utf8')) as T;
  } catch {
    throw new StratusError('InvalidRequestContent', 'The request body is not valid JSON');
  }
}

/**
 * Writes chunks as they come, waiting for the client to take each one (back-pressure), then the
 * trailers. A body that fails part way throws: the caller breaks the connection, so the client
 * cannot take what it got for a complete reply.
 */
async function writeStreamed(res: ServerResponse, headers: Record<string, string | string[]>, status: number, body: StreamedBody): Promise<void> {
  let gone = false;
  const leave = () => {
    gone = true;
    body.cancel();
  };
  // A client that left before the first byte: nothing will ever drain or close again.
  if (res.destroyed) return leave();
  res.once('close', () => {
    if (!res.writableFinished) leave();
  });
  res.writeHead(status, headers);
  res.flushHeaders();
  try {
    for await (const chunk of body.chunks) {
      if (gone) break;
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
  } catch (err) {
    // The client left and its body was cancelled: however the body ends now is no failure.
    if (!gone) throw err;
  }
  if (!gone && body.trailers) res.addTrailers(body.trailers());
  res.end();
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
