import type { FunctionRegistries, FunctionUrlRecord, FunctionVersion } from '../../registry/index.js';
import type { Clock } from '../../shared/clock.js';
import { StratusError } from '../../shared/errors.js';
import { URL_PREFIX } from '../api/index.js';
import type { InvokeOutcome, InvokeRequest, InvokeService } from './invoke-service.js';
import { readTraceHeader } from './invocations.js';
import { type ApiRequest, type ApiResponse, CONSOLE_SESSION_COOKIE, header, type KeyLookup, type Route, verifySigV4, pathParam } from '../http/index.js';
import { StreamRelay } from '../../worker/index.js';
import {
  corsHeaders, httpResponse, HTTP_INTEGRATION_CONTENT_TYPE, preflight, preludeHead, PRELUDE_DELIMITER, urlEvent, urlId, type HttpResult,
} from './url-http.js';

/**
 * Does the function's resource policy let this caller through its URL? `caller` is the signer's
 * account for an AWS_IAM URL, absent (anyone) for a NONE one.
 */
export type UrlPolicyCheck = (target: {
  caller?: string; accountId: string; functionName: string; qualifier: string | undefined; authType: 'NONE' | 'AWS_IAM';
}) => boolean;

export interface UrlInvocationDeps {
  registries: FunctionRegistries;
  invoker: InvokeService;
  credentials: KeyLookup;
  mayInvokeUrl: UrlPolicyCheck;
  clock: Clock;
  region: string;
  signatureMaxSkewMs: number;
  maxPayloadBytes: number;
}

/** Plain HTTP requests to a function URL: /lambda-url/<account>/<function>[:<alias>]/<path>. */
export function urlInvocationRoutes(deps: UrlInvocationDeps): Route[] {
  return [{
    method: '*',
    pattern: new RegExp(`^${URL_PREFIX}(\\d{12})/([^/]+)(/.*)?$`),
    body: deps.maxPayloadBytes,
    tooLargeMessage: `Request must be smaller than ${deps.maxPayloadBytes} bytes for the function URL`,
    sigv4: false,
    handle: (req) => serve(deps, req),
  }];
}

async function serve(deps: UrlInvocationDeps, req: ApiRequest): Promise<ApiResponse> {
  const accountId = req.params[0] ?? '';
  const [name = '', qualifier] = pathParam(req, 1).split(':', 2);
  const config = deps.registries.existing(accountId)?.urls.get(name, qualifier);
  if (!config) throw new StratusError('ResourceNotFound', `No function URL at ${URL_PREFIX}${accountId}/${req.params[1] ?? ''}/`);
  const target = { accountId, functionName: name, qualifier };
  // NONE: no authentication, but (as in Lambda) only if the resource policy grants the public lambda:InvokeFunctionUrl.
  if (config.authType === 'NONE' && !deps.mayInvokeUrl({ ...target, authType: 'NONE' })) throw new StratusError('Forbidden', 'Forbidden');
  const caller = config.authType === 'AWS_IAM' ? authorize(deps, req, target) : undefined;
  const origin = header(req.headers, 'origin');
  if (config.cors && req.method === 'OPTIONS' && header(req.headers, 'access-control-request-method')) {
    return toApi(preflight(config.cors, origin));
  }
  const queryAt = req.rawUrl.indexOf('?');
  const event = urlEvent({
    method: req.method, rawPath: req.params[2] || '/', rawQuery: queryAt < 0 ? '' : req.rawUrl.slice(queryAt + 1), headers: req.headers,
    body: req.body, sourceIp: req.sourceIp, requestId: req.requestId, nowMs: deps.clock.now(), urlId: urlId(accountId, name, qualifier),
    accountId, caller,
  });
  const traceHeader = readTraceHeader(header(req.headers, 'x-amzn-trace-id'));
  const request: InvokeRequest = {
    accountId, functionName: name, qualifier, requestId: req.requestId, payload: Buffer.from(JSON.stringify(event)), tailLog: false, invocationType: 'FunctionUrl',
    ...(traceHeader !== undefined ? { traceHeader } : {}),
  };
  const version = deps.invoker.resolve(request);
  const response = config.invokeMode === 'RESPONSE_STREAM'
    ? await streamed(deps, request, version)
    : toApi(httpResponse((await deps.invoker.invoke(request, version)).result.outcome));
  return confined(withCors(response, config, origin));
}

/** Scripts of a function URL's page run, but as an origin of their own (opaque). */
const URL_SANDBOX = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads';

/**
 * Every function URL shares the Lambda API's origin with other accounts' URLs and the web
 * console, so a response may not act as that origin: its documents run sandboxed (an opaque
 * origin: no cookies or storage of the origin, no reading of its other paths with the visitor's
 * cookies), alongside any policy of the function's own, and it may not set the console's session
 * cookie. (AWS gives each URL a host name of its own instead.)
 */
function confined(response: ApiResponse): ApiResponse {
  const headers = { ...response.headers };
  const own = headers['content-security-policy'];
  headers['content-security-policy'] = own === undefined ? URL_SANDBOX : `${Array.isArray(own) ? own.join(', ') : own}, ${URL_SANDBOX}`;
  const cookies = headers['set-cookie'];
  if (cookies !== undefined) {
    const kept = (Array.isArray(cookies) ? cookies : [cookies]).filter((c) => c.slice(0, c.indexOf('=')).trim() !== CONSOLE_SESSION_COOKIE);
    if (kept.length > 0) headers['set-cookie'] = kept;
    else delete headers['set-cookie'];
  }
  return { ...response, headers };
}

/**
 * AWS_IAM: a SigV4 signature (header or presigned) for service `lambda` by a key of the
 * function's account (its root may), or of an account the resource policy allows; else 403 Forbidden.
 */
function authorize(
  deps: UrlInvocationDeps, req: ApiRequest, target: { accountId: string; functionName: string; qualifier: string | undefined },
): { accessKeyId: string; accountId: string } {
  const verdict = verifySigV4(
    { method: req.method, rawUrl: req.rawUrl, headers: req.headers, body: req.body },
    (id) => deps.credentials(id)?.secretAccessKey, deps.clock.now(), { service: 'lambda', region: deps.region, maxSkewMs: deps.signatureMaxSkewMs },
  );
  const caller = verdict.ok ? deps.credentials(verdict.accessKeyId)?.accountId : undefined;
  if (!verdict.ok || caller === undefined) throw new StratusError('Forbidden', 'Forbidden');
  if (caller !== target.accountId && !deps.mayInvokeUrl({ caller, ...target, authType: 'AWS_IAM' })) throw new StratusError('Forbidden', 'Forbidden');
  return { accessKeyId: verdict.accessKeyId, accountId: caller };
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
