import type { FunctionRegistry, FunctionUrlRecord, FunctionVersion } from '../../registry/index.js';
import type { Clock } from '../../shared/clock.js';
import { StratusError } from '../../shared/errors.js';
import { URL_PREFIX } from '../api/index.js';
import type { InvokeOutcome, InvokeRequest, InvokeService } from './invoke-service.js';
import { type ApiRequest, type ApiResponse, type CredentialLookup, header, type Route, verifySigV4 } from '../http/index.js';
import { StreamRelay } from '../../worker/index.js';
import {
  corsHeaders, httpResponse, HTTP_INTEGRATION_CONTENT_TYPE, preflight, preludeHead, PRELUDE_DELIMITER, urlEvent, urlId, type HttpResult,
} from './url-http.js';

export interface UrlInvocationDeps {
  registry: FunctionRegistry;
  invoker: InvokeService;
  credentials: CredentialLookup;
  clock: Clock;
  signatureMaxSkewMs: number;
  accountId: string;
  maxPayloadBytes: number;
}

/** Plain HTTP requests to a function URL: /lambda-url/<function>[:<alias>]/<path>. */
export function urlInvocationRoutes(deps: UrlInvocationDeps): Route[] {
  return [{
    method: '*',
    pattern: new RegExp(`^${URL_PREFIX}([^/]+)(/.*)?$`),
    body: deps.maxPayloadBytes,
    tooLargeMessage: `Request must be smaller than ${deps.maxPayloadBytes} bytes for the function URL`,
    sigv4: false,
    handle: (req) => serve(deps, req),
  }];
}

async function serve(deps: UrlInvocationDeps, req: ApiRequest): Promise<ApiResponse> {
  const [name = '', qualifier] = decodeURIComponent(req.params[0] ?? '').split(':', 2);
  const config = deps.registry.urls.get(name, qualifier);
  if (!config) throw new StratusError('ResourceNotFound', `No function URL at ${URL_PREFIX}${req.params[0] ?? ''}/`);
  const caller = config.authType === 'AWS_IAM' ? authorize(deps, req) : undefined;
  const origin = header(req.headers, 'origin');
  if (config.cors && req.method === 'OPTIONS' && header(req.headers, 'access-control-request-method')) {
    return toApi(preflight(config.cors, origin));
  }
  const queryAt = req.rawUrl.indexOf('?');
  const event = urlEvent({
    method: req.method, rawPath: req.params[1] || '/', rawQuery: queryAt < 0 ? '' : req.rawUrl.slice(queryAt + 1), headers: req.headers,
    body: req.body, sourceIp: req.sourceIp, requestId: req.requestId, nowMs: deps.clock.now(), urlId: urlId(name, qualifier),
    accountId: deps.accountId, caller,
  });
  const request: InvokeRequest = { functionName: name, qualifier, requestId: req.requestId, payload: Buffer.from(JSON.stringify(event)), tailLog: false };
  const version = deps.invoker.resolve(name, qualifier);
  const response = config.invokeMode === 'RESPONSE_STREAM'
    ? await streamed(deps, request, version)
    : toApi(httpResponse((await deps.invoker.invoke(request, version)).result.outcome));
  return withCors(response, config, origin);
}

/** AWS_IAM: a SigV4 signature (header or presigned) for service `lambda`, else 403 Forbidden. */
function authorize(deps: UrlInvocationDeps, req: ApiRequest): { accessKeyId: string } {
  const verdict = verifySigV4(
    { method: req.method, rawUrl: req.rawUrl, headers: req.headers, body: req.body },
    deps.credentials, deps.clock.now(), { service: 'lambda', maxSkewMs: deps.signatureMaxSkewMs },
  );
  if (!verdict.ok) throw new StratusError('Forbidden', 'Forbidden');
  return { accessKeyId: verdict.accessKeyId };
}

/**
 * RESPONSE_STREAM: the status and headers go out as soon as the function has written its
 * prelude (awslambda.HttpResponseStream) or its first bytes, then the body as it is written.
 */
async function streamed(deps: UrlInvocationDeps, request: InvokeRequest, version: FunctionVersion): Promise<ApiResponse> {
  const relay = new StreamRelay();
  const running = deps.invoker.invoke({ ...request, responseSink: relay }, version);
  running.then(() => relay.end(), () => relay.end());
  const first = await Promise.race([relay.opened, running]);
  if (typeof first !== 'string') return toApi(httpResponse(first.result.outcome));
  const chunks = relay.chunks[Symbol.asyncIterator]();
  const cancel = () => relay.cancel();
  if (first !== HTTP_INTEGRATION_CONTENT_TYPE) {
    return { status: 200, headers: { 'content-type': first }, body: { chunks: rest(chunks, Buffer.alloc(0)), cancel } };
  }
  let seen = Buffer.alloc(0);
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
    seen = Buffer.concat([seen, next.value]);
    const at = seen.indexOf(PRELUDE_DELIMITER);
    if (at < 0) continue;
    const head = preludeHead(seen.subarray(0, at));
    if (!head) break;
    return { ...head, body: { chunks: rest(chunks, seen.subarray(at + PRELUDE_DELIMITER.length)), cancel } };
  }
  cancel();
  return settledResponse(running);
}

/** The stream ended (or broke) before a valid prelude: answer from how the invocation ended. */
async function settledResponse(running: Promise<InvokeOutcome>): Promise<ApiResponse> {
  const { result } = await running;
  return toApi(result.outcome.kind === 'function-error' ? httpResponse(result.outcome) : { status: 502, headers: {}, body: Buffer.from('Internal Server Error') });
}

async function* rest(chunks: AsyncIterator<Buffer>, first: Buffer): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
}

/** Configured CORS headers win over the function's own. */
function withCors(response: ApiResponse, config: FunctionUrlRecord, origin: string | undefined): ApiResponse {
  const cors = corsHeaders(config.cors, origin);
  return Object.keys(cors).length === 0 ? response : { ...response, headers: { ...response.headers, ...cors } };
}

function toApi(result: HttpResult): ApiResponse {
  return { status: result.status, headers: result.headers, body: result.body };
}
