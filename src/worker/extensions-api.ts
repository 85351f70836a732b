import { headerValue as header, readBody } from '../shared/http.js';
import { routesUnder, type HttpRequest, type HttpResponse, type HttpRoute } from '../shared/http-server.js';
import type { ExtensionEvent } from './extensions.js';

/**
 * The Extensions API 2020-01-01 and the Telemetry API 2022-07-01, on the same endpoint as the
 * Runtime API (AWS_LAMBDA_RUNTIME_API): HTTP only, translated into calls on an
 * ExtensionsApiHandler (environment-extensions.ts), as runtime-api.ts does for the runtime.
 */
export interface ApiError { status: number; errorType: string; errorMessage: string }

export interface ExtensionsApiHandler {
  register(name: string | undefined, body: unknown, acceptAccountId: boolean): { id: string; body: Record<string, string> } | ApiError;
  /** `deliver` gets the extension's next event; an ApiError for an unknown identifier. */
  next(id: string | undefined, deliver: (event: ExtensionEvent) => void): ApiError | undefined;
  /** POST /extension/init/error and /exit/error. */
  reportError(kind: 'init' | 'exit', id: string | undefined, errorType: string | undefined, body: Buffer): ApiError | undefined;
  subscribeTelemetry(id: string | undefined, body: unknown): ApiError | undefined;
  /** stratus-init: what an external extension wrote to its stdout and stderr. */
  output(name: string, chunk: Buffer): void;
  /** stratus-init: an external extension's process exited with `status`. */
  exited(name: string, status: number): void;
}

const MAX_BODY = 64 * 1024;

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify(body)) };
}

function refused(e: ApiError): HttpResponse {
  return json(e.status, { errorType: e.errorType, errorMessage: e.errorMessage });
}

const INVALID_FORMAT: ApiError = { status: 400, errorType: 'InvalidRequestFormat', errorMessage: 'The request body is not valid JSON' };

async function jsonOf(req: HttpRequest): Promise<unknown> {
  const body = await readBody(req.stream, MAX_BODY).catch(() => undefined);
  if (!body) return INVALID_FORMAT;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return INVALID_FORMAT;
  }
}

const identifier = (req: HttpRequest) => header(req.headers, 'lambda-extension-identifier');

export function extensionRoutes(handler: ExtensionsApiHandler): HttpRoute[] {
  const ext = routesUnder('/2020-01-01/extension', 'stream');
  const telemetry = routesUnder('/2022-07-01', 'stream');
  const stratus = routesUnder('/2020-01-01/stratus', 'stream');
  const accepted = json(200, { status: 'OK' });
  return [
    ext('POST', '/register', async (req) => {
      const body = await jsonOf(req);
      if (body === INVALID_FORMAT) return refused(INVALID_FORMAT);
      const features = header(req.headers, 'lambda-extension-accept-feature') ?? '';
      const r = handler.register(header(req.headers, 'lambda-extension-name'), body, features.split(',').map((f) => f.trim()).includes('accountId'));
      return 'id' in r ? json(200, r.body, { 'lambda-extension-identifier': r.id }) : refused(r);
    }),
    ext('GET', '/event/next', (req) => new Promise((resolve) => {
      const error = handler.next(identifier(req), (event) => resolve(json(200, event, { 'lambda-extension-event-identifier': crypto.randomUUID() })));
      if (error) resolve(refused(error));
    })),
    ext('POST', '/(init|exit)/error', async (req) => {
      const body = (await readBody(req.stream, MAX_BODY).catch(() => undefined)) ?? Buffer.alloc(0);
      const error = handler.reportError(req.params[0] === 'init' ? 'init' : 'exit', identifier(req), header(req.headers, 'lambda-extension-function-error-type'), body);
      return error ? refused(error) : accepted;
    }),
    telemetry('PUT', '/telemetry/?', async (req) => {
      const body = await jsonOf(req);
      if (body === INVALID_FORMAT) return refused(INVALID_FORMAT);
      const error = handler.subscribeTelemetry(identifier(req), body);
      return error ? refused(error) : json(200, 'OK');
    }),
    stratus('POST', '/extension-output', (req) => new Promise((resolve) => {
      const name = header(req.headers, 'lambda-extension-name') ?? '';
      req.stream.on('data', (chunk: Buffer) => handler.output(name, chunk));
      req.stream.on('end', () => resolve(accepted)).on('error', () => resolve(accepted));
    })),
    stratus('POST', '/extension-exited', (req) => {
      handler.exited(header(req.headers, 'lambda-extension-name') ?? '', Number(header(req.headers, 'x-stratus-exit-status') ?? 0));
      return accepted;
    }),
  ];
}
