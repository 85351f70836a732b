/**
 * Function URLs speak API Gateway's payload format 2.0: an HTTP request becomes the event, the
 * function's result becomes the HTTP response. Pure functions; url-invocations.ts does the I/O.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { UrlCors } from '../../registry/index.js';
import type { InvocationOutcome } from '../../worker/index.js';

/** A streamed response that starts with a JSON prelude (status, headers, cookies) and 8 NULs. */
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
export const PRELUDE_DELIMITER = Buffer.alloc(8);

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export interface UrlRequest {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  sourceIp: string;
  requestId: string;
  nowMs: number;
  /** Id of the URL (its function and alias), as requestContext.apiId. */
  urlId: string;
  accountId: string;
  /** The signer and its account, when the URL's auth type is AWS_IAM. */
  caller?: { accessKeyId: string; accountId: string };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TEXT_TYPES = /^text\/|json|xml|javascript|x-www-form-urlencoded/i;

/** A stable 32-character id for a function URL, like Lambda's <url-id>. */
export function urlId(accountId: string, name: string, qualifier: string | undefined): string {
  return createHash('sha256').update(`${accountId}/${name}:${qualifier ?? ''}`).digest('hex').slice(0, 32);
}

/** The function-URL event (payload format 2.0) for one HTTP request. */
export function urlEvent(req: UrlRequest): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-for'] ??= req.sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  const cookie = req.headers.cookie;
  const event: Record<string, unknown> = { version: '2.0', routeKey: '$default', rawPath: req.rawPath, rawQueryString: req.rawQuery };
  if (cookie) event.cookies = cookie.split(/;\s*/).filter((c) => c.length > 0);
  event.headers = headers;
  const query = queryParameters(req.rawQuery);
  if (query) event.queryStringParameters = query;
  event.requestContext = requestContext(req, headers);
  const text = isText(req.headers['content-type'], req.body);
  if (req.body.length > 0) event.body = text ? req.body.toString('utf8') : req.body.toString('base64');
  event.isBase64Encoded = req.body.length > 0 && !text;
  return event;
}

function requestContext(req: UrlRequest, headers: Record<string, string>): Record<string, unknown> {
  const iam = req.caller && {
    accessKey: req.caller.accessKeyId, accountId: req.caller.accountId, callerId: req.caller.accountId, cognitoIdentity: null,
    principalOrgId: null, userArn: `arn:aws:iam::${req.caller.accountId}:root`, userId: req.caller.accountId,
  };
  return {
    accountId: req.accountId, apiId: req.urlId, ...(iam ? { authorizer: { iam } } : {}),
    domainName: headers.host ?? '', domainPrefix: req.urlId,
    http: { method: req.method, path: req.rawPath, protocol: 'HTTP/1.1', sourceIp: req.sourceIp, userAgent: headers['user-agent'] ?? '' },
    requestId: req.requestId, routeKey: '$default', stage: '$default', time: clfTime(req.nowMs), timeEpoch: req.nowMs,
  };
}

function queryParameters(rawQuery: string): Record<string, string> | undefined {
  if (rawQuery === '') return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQuery)) out[key] = key in out ? `${out[key]},${value}` : value;
  return out;
}

/** Text bodies go to the function as they are; anything else base64-encoded. */
function isText(contentType: string | undefined, body: Buffer): boolean {
  if (!contentType || !TEXT_TYPES.test(contentType)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

/** 12/Mar/2020:19:03:58 +0000 */
function clfTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** What the client of a function URL sees for a finished (buffered) invocation. */
export function httpResponse(outcome: InvocationOutcome): HttpResult {
  if (outcome.kind === 'function-error' || outcome.kind === 'streamed') return badGateway();
  let payload = outcome.payload;
  if (outcome.contentType === HTTP_INTEGRATION_CONTENT_TYPE) {
    const at = payload.indexOf(PRELUDE_DELIMITER);
    if (at < 0) return badGateway();
    const head = preludeHead(payload.subarray(0, at));
    return head ? { ...head, body: payload.subarray(at + PRELUDE_DELIMITER.length) } : badGateway();
  }
  let result: unknown;
  try {
    result = JSON.parse(payload.toString('utf8'));
  } catch {
    return { status: 200, headers: { 'content-type': outcome.contentType ?? 'application/json' }, body: payload };
  }
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    return { status: 200, headers: { 'content-type': 'application/json' }, body: payload };
  }
  const response = result as { statusCode?: unknown; headers?: unknown; cookies?: unknown; body?: unknown; isBase64Encoded?: unknown };
  const head = headOf(response);
  if (!head) return badGateway();
  if (typeof response.body === 'string') payload = Buffer.from(response.body, response.isBase64Encoded === true ? 'base64' : 'utf8');
  else payload = response.body === undefined || response.body === null ? Buffer.alloc(0) : Buffer.from(JSON.stringify(response.body));
  return { ...head, body: payload };
}

/** Status and headers from a streamed response's prelude; undefined if it is not valid. */
export function preludeHead(prelude: Buffer): Omit<HttpResult, 'body'> | undefined {
  try {
    const parsed = JSON.parse(prelude.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? headOf(parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function headOf(response: { statusCode?: unknown; headers?: unknown; cookies?: unknown }): Omit<HttpResult, 'body'> | undefined {
  const status = response.statusCode === undefined ? 200 : Number(response.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
  if (typeof response.headers === 'object' && response.headers !== null) {
    for (const [name, value] of Object.entries(response.headers as Record<string, unknown>)) {
      if (value !== undefined && value !== null) headers[name.toLowerCase()] = String(value);
    }
  }
  if (Array.isArray(response.cookies) && response.cookies.length > 0) headers['set-cookie'] = response.cookies.map(String);
  return { status, headers };
}

function badGateway(): HttpResult {
  return { status: 502, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from('Internal Server Error') };
}

/** CORS headers for a response, when the URL has a CORS configuration and the origin is allowed. */
export function corsHeaders(cors: UrlCors | undefined, origin: string | undefined): Record<string, string> {
  if (!cors || !origin) return {};
  const origins = cors.AllowOrigins ?? [];
  if (!origins.includes('*') && !origins.includes(origin)) return {};
  const out: Record<string, string> = {
    'access-control-allow-origin': origins.includes('*') && !cors.AllowCredentials ? '*' : origin,
  };
  if (cors.AllowCredentials) out['access-control-allow-credentials'] = 'true';
  if (cors.ExposeHeaders?.length) out['access-control-expose-headers'] = cors.ExposeHeaders.join(',');
  return out;
}

/** Lambda answers a CORS preflight (OPTIONS with Access-Control-Request-Method) itself. */
export function preflight(cors: UrlCors, origin: string | undefined): HttpResult {
  const headers: Record<string, string> = corsHeaders(cors, origin);
  if (headers['access-control-allow-origin']) {
    if (cors.AllowMethods?.length) headers['access-control-allow-methods'] = cors.AllowMethods.join(',');
    if (cors.AllowHeaders?.length) headers['access-control-allow-headers'] = cors.AllowHeaders.join(',');
    if (cors.MaxAge !== undefined) headers['access-control-max-age'] = String(cors.MaxAge);
  }
  return { status: 200, headers, body: Buffer.alloc(0) };
}
