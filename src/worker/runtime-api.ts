import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import type { StreamedResponse } from './response-relay.js';
import { closeNow, headerValue as header, readBody, replyJson } from '../shared/http.js';

/**
 * The Lambda Runtime API 2018-06-01, served by the worker to exactly one sandbox over a Unix
 * socket that only that sandbox has bound in. This file only translates HTTP into calls on
 * a RuntimeApiHandler (the Environment); it holds no invocation state itself.
 */
export interface NextInvocation {
  requestId: string;
  payload: Buffer;
  deadlineMs: number;
  invokedFunctionArn: string;
  traceId: string;
  clientContext?: string;
  cognitoIdentity?: string;
}

export interface RuntimeApiHandler {
  /** The runtime asks for work; `deliver` is called once an invocation is available. */
  onNext(deliver: (inv: NextInvocation) => void): void;
  /** `body` is 'too-large' when the runtime sent more than the response limit. */
  onResponse(requestId: string, body: Buffer | 'too-large'): 'accepted' | 'unknown-request' | 'too-large';
  /** A streamed response: the handler consumes `response.body` as it arrives. */
  onResponseStream(requestId: string, response: StreamedResponse): 'accepted' | 'unknown-request';
  onError(requestId: string, errorType: string | undefined, body: Buffer): 'accepted' | 'unknown-request';
  onInitError(errorType: string | undefined, body: Buffer): void;
  /** A warm-pool runtime waits for its function; `deliver` hands it the environment variables. */
  onSpecialization(deliver: (env: Record<string, string>) => void): void;
  /** SnapStart: a restored runtime asks to go on (Lambda's GET /runtime/restore/next). */
  onRestoreNext(deliver: () => void): void;
  onRestoreError(errorType: string | undefined, body: Buffer): void;
  /** SnapStart: the sandbox's init is ready to be checkpointed once `closed` settles (its connection is gone). */
  onCheckpoint(closed: Promise<void>): void;
}

const PREFIX = '/2018-06-01/runtime/';
/**
 * Connections one sandbox may hold open to its Runtime API (a runtime needs one or two; a
 * streamed response one more). Beyond it new ones are closed at once, so a function cannot
 * exhaust the worker's file descriptors.
 */
export const MAX_RUNTIME_API_CONNECTIONS = 32;
const INVOCATION = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;

export class RuntimeApiServer {
  private readonly server: Server;

  constructor(private readonly socketPath: string, private readonly handler: RuntimeApiHandler, private readonly maxBodyBytes: number) {
    this.server = createServer({ keepAliveTimeout: 3_600_000, requestTimeout: 0 }, (req, res) => this.route(req, res));
    this.server.maxConnections = MAX_RUNTIME_API_CONNECTIONS;
  }

  async listen(): Promise<void> {
    await rm(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  async close(): Promise<void> {
    await closeNow(this.server);
    await rm(this.socketPath, { force: true });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${PREFIX}invocation/next`) return this.next(res);
    if (req.method === 'GET' && url === '/2018-06-01/stratus/specialization') {
      return this.handler.onSpecialization((env) => replyJson(res, 200, env));
    }
    if (req.method === 'GET' && url === `${PREFIX}restore/next`) return this.handler.onRestoreNext(() => res.writeHead(200).end());
    if (req.method === 'POST' && url === '/2018-06-01/stratus/checkpoint') {
      this.handler.onCheckpoint(new Promise((resolve) => req.socket.once('close', () => resolve())));
      return replyJson(res, 200, { status: 'OK' });
    }
    if (req.method === 'POST' && url === `${PREFIX}restore/error`) {
      return this.withBody(req, res, (body) => {
        this.handler.onRestoreError(header(req.headers, 'lambda-runtime-function-error-type'), body ?? Buffer.alloc(0));
        replyJson(res, 202, { status: 'OK' });
      });
    }
    if (req.method === 'POST' && url === `${PREFIX}init/error`) {
      return this.withBody(req, res, (body) => {
        this.handler.onInitError(header(req.headers, 'lambda-runtime-function-error-type'), body ?? Buffer.alloc(0));
        replyJson(res, 202, { status: 'OK' });
      });
    }
    const match = req.method === 'POST' ? INVOCATION.exec(url) : null;
    if (!match?.[1]) return replyJson(res, 404, { errorType: 'InvalidRequest', errorMessage: `No route for ${req.method} ${url}` });
    const requestId = decodeURIComponent(match[1]);
    if (match[2] === 'response') return this.response(req, res, requestId);
    return this.withBody(req, res, (body) => {
      const result = this.handler.onError(requestId, header(req.headers, 'lambda-runtime-function-error-type'), body ?? Buffer.alloc(0));
      if (result === 'accepted') replyJson(res, 202, { status: 'OK' });
      else replyJson(res, 400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
    });
  }

  private next(res: ServerResponse): void {
    this.handler.onNext((inv) => {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'lambda-runtime-aws-request-id': inv.requestId,
        'lambda-runtime-deadline-ms': String(inv.deadlineMs),
        'lambda-runtime-invoked-function-arn': inv.invokedFunctionArn,
        'lambda-runtime-trace-id': inv.traceId,
      };
      if (inv.clientContext) headers['lambda-runtime-client-context'] = inv.clientContext;
      if (inv.cognitoIdentity) headers['lambda-runtime-cognito-identity'] = inv.cognitoIdentity;
      res.writeHead(200, headers).end(inv.payload);
    });
  }

  private response(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    if (header(req.headers, 'lambda-runtime-function-response-mode')?.toLowerCase() === 'streaming') return this.streamedResponse(req, res, requestId);
    this.withBody(req, res, (body) => {
      const result = this.handler.onResponse(requestId, body ?? 'too-large');
      if (result === 'accepted') replyJson(res, 202, { status: 'OK' });
      else if (result === 'too-large') replyJson(res, 413, { errorType: 'RequestEntityTooLarge', errorMessage: 'Response payload too large' });
      else replyJson(res, 400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
    });
  }

  /** Reads the body (undefined if over the limit) and hands it to `use`; a broken request gets 400. */
  private withBody(req: IncomingMessage, res: ServerResponse, use: (body: Buffer | undefined) => void): void {
    readBody(req, this.maxBodyBytes).then(use, () => replyJson(res, 400, { errorType: 'InvalidRequest', errorMessage: 'The request body could not be read' }));
  }

  /** POST .../response with Lambda-Runtime-Function-Response-Mode: streaming, errors in trailers. */
  private streamedResponse(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    req.on('error', () => {});
    const result = this.handler.onResponseStream(requestId, {
      contentType: header(req.headers, 'content-type') ?? 'application/octet-stream',
      body: req,
      errorTrailers: () => ({
        errorType: req.trailers['lambda-runtime-function-error-type'],
        errorBody: req.trailers['lambda-runtime-function-error-body'],
      }),
    });
    if (result === 'accepted') {
      req.on('end', () => replyJson(res, 202, { status: 'OK' }));
      return;
    }
    req.resume();
    req.on('end', () => replyJson(res, 400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' }));
  }
}

