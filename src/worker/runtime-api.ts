import type { StreamedResponse } from './response-relay.js';
import { isStratusError, StratusError } from '../shared/errors.js';
import { headerValue as header, readBody } from '../shared/http.js';
import { extensionRoutes, type ExtensionsApiHandler } from './extensions-api.js';
import { HttpServer, routesUnder, type HttpRequest, type HttpResponse, type HttpRoute } from '../shared/http-server.js';

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
  /** The Extensions and Telemetry APIs on the same endpoint (absent: not served). */
  readonly extensionsApi?: ExtensionsApiHandler;
}

/**
 * Connections one sandbox may hold open to its Runtime API (a runtime needs one or two; a
 * streamed response one more). Beyond it new ones are closed at once, so a function cannot
 * exhaust the worker's file descriptors.
 */
export const MAX_RUNTIME_API_CONNECTIONS = 32;

export class RuntimeApiServer {
  private readonly server: HttpServer;

  constructor(private readonly socketPath: string, handler: RuntimeApiHandler, maxBodyBytes: number) {
    this.server = new HttpServer({
      routes: [...runtimeRoutes(handler, maxBodyBytes), ...(handler.extensionsApi ? extensionRoutes(handler.extensionsApi) : [])],
      notFound: (method, path) => failure(404, 'InvalidRequest', `No route for ${method} ${path}`),
      errorReply: (err) => failure(400, 'InvalidRequest', isStratusError(err) ? err.message : 'The request could not be handled'),
      keepAliveTimeoutMs: 3_600_000,
      requestTimeoutMs: 0,
      maxConnections: MAX_RUNTIME_API_CONNECTIONS,
    });
  }

  listen(): Promise<void> {
    return this.server.listenOnSocket(this.socketPath);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** A JSON reply serialised once (the warm path answers the same few many times). */
function fixed(status: number, json: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(json)) };
}

const ACCEPTED = fixed(202, { status: 'OK' });
const INVALID_REQUEST_ID = failure(400, 'InvalidRequestID', 'Invalid request ID');
const TOO_LARGE = failure(413, 'RequestEntityTooLarge', 'Response payload too large');
const EMPTY = Buffer.alloc(0);
const RUNTIME = '/runtime/';

/** The Runtime API's own error body. */
function failure(status: number, errorType: string, errorMessage: string): HttpResponse {
  return fixed(status, { errorType, errorMessage });
}

/**
 * Every route takes its body as a stream: the runtime's bodies are read here, up to the
 * response limit, so an over-limit response still reaches the handler (as 'too-large') and a
 * streamed one is consumed as it arrives.
 */
function runtimeRoutes(handler: RuntimeApiHandler, maxBodyBytes: number): HttpRoute[] {
  const route = routesUnder('/2018-06-01', 'stream');
  /** The body, or undefined when it is over the limit. */
  const body = (req: HttpRequest) => readBody(req.stream, maxBodyBytes).catch((cause: unknown) => {
    throw new StratusError('InvalidRequestContent', 'The request body could not be read', { cause });
  });
  const errorType = (req: HttpRequest) => header(req.headers, 'lambda-runtime-function-error-type');
  return [
    route('GET', `${RUNTIME}invocation/next`, () => new Promise((resolve) => handler.onNext((inv) => resolve(nextInvocation(inv))))),
    route('POST', `${RUNTIME}invocation/([^/]+)/response`, (req) => {
      const requestId = decodeURIComponent(req.params[0] ?? '');
      if (header(req.headers, 'lambda-runtime-function-response-mode')?.toLowerCase() === 'streaming') return streamedResponse(handler, req, requestId);
      return body(req).then((payload) => {
        const result = handler.onResponse(requestId, payload ?? 'too-large');
        return result === 'accepted' ? ACCEPTED : result === 'too-large' ? TOO_LARGE : INVALID_REQUEST_ID;
      });
    }),
    route('POST', `${RUNTIME}invocation/([^/]+)/error`, async (req) => {
      const requestId = decodeURIComponent(req.params[0] ?? '');
      const result = handler.onError(requestId, errorType(req), (await body(req)) ?? EMPTY);
      return result === 'accepted' ? ACCEPTED : INVALID_REQUEST_ID;
    }),
    route('POST', `${RUNTIME}init/error`, async (req) => {
      handler.onInitError(errorType(req), (await body(req)) ?? EMPTY);
      return ACCEPTED;
    }),
    route('GET', '/stratus/specialization', () => new Promise((resolve) => handler.onSpecialization((env) => resolve({ status: 200, body: env })))),
    route('GET', `${RUNTIME}restore/next`, () => new Promise((resolve) => handler.onRestoreNext(() => resolve({ status: 200 })))),
    route('POST', `${RUNTIME}restore/error`, async (req) => {
      handler.onRestoreError(errorType(req), (await body(req)) ?? EMPTY);
      return ACCEPTED;
    }),
    route('POST', '/stratus/checkpoint', (req) => {
      handler.onCheckpoint(new Promise((resolve) => req.stream.socket.once('close', () => resolve())));
      return fixed(200, { status: 'OK' });
    }),
  ];
}

function nextInvocation(inv: NextInvocation): HttpResponse {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'lambda-runtime-aws-request-id': inv.requestId,
    'lambda-runtime-deadline-ms': String(inv.deadlineMs),
    'lambda-runtime-invoked-function-arn': inv.invokedFunctionArn,
    'lambda-runtime-trace-id': inv.traceId,
  };
  if (inv.clientContext) headers['lambda-runtime-client-context'] = inv.clientContext;
  if (inv.cognitoIdentity) headers['lambda-runtime-cognito-identity'] = inv.cognitoIdentity;
  return { status: 200, headers, body: inv.payload };
}

/** POST .../response with Lambda-Runtime-Function-Response-Mode: streaming, errors in trailers; answered once the body has ended. */
function streamedResponse(handler: RuntimeApiHandler, req: HttpRequest, requestId: string): Promise<HttpResponse> {
  const stream = req.stream;
  stream.on('error', () => {});
  const result = handler.onResponseStream(requestId, {
    contentType: header(req.headers, 'content-type') ?? 'application/octet-stream',
    body: stream,
    errorTrailers: () => ({
      errorType: stream.trailers['lambda-runtime-function-error-type'],
      errorBody: stream.trailers['lambda-runtime-function-error-body'],
    }),
  });
  if (result !== 'accepted') stream.resume();
  return new Promise((resolve) => stream.on('end', () => resolve(result === 'accepted' ? ACCEPTED : INVALID_REQUEST_ID)));
}
