import { StratusError } from '../../shared/errors.js';
import type { AsyncInvoker } from '../../async/index.js';
import type { InvokeRequest, InvokeService } from './invoke-service.js';
import { callerAccount } from '../api/index.js';
import { type ApiRequest, type ApiResponse, header, parseFunctionRef, qualifierOf, type Route, pathParam } from '../http/index.js';

/** May `caller` invoke another account's function? (Its resource policy decides.) */
export type CrossAccountCheck = (target: { caller: string; accountId: string; functionName: string; qualifier: string | undefined }) => boolean;

export interface InvocationRoutesDeps {
  invoker: InvokeService;
  mayInvoke: CrossAccountCheck;
  events: AsyncInvoker;
  maxSyncPayloadBytes: number;
  maxAsyncPayloadBytes: number;
}

const INVOCATION_TYPES = ['Event', 'RequestResponse', 'DryRun'];
const LOG_TYPES = ['None', 'Tail'];

/** POST /2015-03-31/functions/{name}/invocations */
export function invocationRoutes(deps: InvocationRoutesDeps): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/,
      body: deps.maxSyncPayloadBytes,
      tooLargeMessage: `Request must be smaller than ${deps.maxSyncPayloadBytes} bytes for the InvokeFunction operation`,
      sigv4: true,
      handle: (req) => invoke(deps, req),
    },
  ];
}

/**
 * An Invoke / InvokeWithResponseStream request, checked as Lambda checks it. The function is
 * the caller's own, or another account's named by its ARN: that one is invocable only as its
 * resource policy allows (`mayInvoke`); otherwise it is not found, exactly as if it did not exist.
 */
export function readInvokeRequest(req: ApiRequest, invocationTypes: readonly string[], mayInvoke: CrossAccountCheck): { type: string; request: InvokeRequest } {
  const raw = pathParam(req, 0);
  const ref = parseFunctionRef(raw);
  const caller = callerAccount(req);
  const accountId = ref.accountId ?? caller;
  const qualifier = qualifierOf(ref, req.query);
  const type = header(req.headers, 'x-amz-invocation-type') ?? 'RequestResponse';
  const logType = header(req.headers, 'x-amz-log-type') ?? 'None';
  checkEnum(type, 'invocationType', invocationTypes);
  checkEnum(logType, 'logType', LOG_TYPES);
  const clientContext = parseClientContext(header(req.headers, 'x-amz-client-context'));
  const payload = checkPayload(req.body);
  const traceHeader = readTraceHeader(header(req.headers, 'x-amzn-trace-id'));
  if (accountId !== caller && !mayInvoke({ caller, accountId, functionName: ref.name, qualifier })) {
    throw new StratusError('ResourceNotFound', `Function not found: ${raw}`);
  }
  return { type, request: { accountId, functionName: ref.name, qualifier, requestId: req.requestId, payload, clientContext, tailLog: logType === 'Tail',
    ...(traceHeader !== undefined ? { traceHeader } : {}) } };
}

async function invoke(deps: InvocationRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const { type, request } = readInvokeRequest(req, INVOCATION_TYPES, deps.mayInvoke);
  const version = deps.invoker.resolve(request);
  if (type === 'DryRun') return { status: 204, headers: { 'x-amz-executed-version': version.version } };
  if (type === 'Event') {
    if (req.body.length > deps.maxAsyncPayloadBytes) {
      throw new StratusError('RequestTooLarge', `${req.body.length} byte payload is too large for the Event invocation type (limit ${deps.maxAsyncPayloadBytes} bytes)`);
    }
    await deps.events.accept({ ...request, tailLog: false });
    return { status: 202 };
  }
  const { result } = await deps.invoker.invoke(request, version);
  const headers: Record<string, string> = { 'x-amz-executed-version': version.version, 'content-type': 'application/json' };
  if (result.outcome.kind === 'function-error') headers['x-amz-function-error'] = 'Unhandled';
  if (result.logTail !== undefined) headers['x-amz-log-result'] = result.logTail;
  // Without a response sink nothing is streamed past this point: the payload is all here.
  return { status: 200, body: result.outcome.kind === 'streamed' ? Buffer.alloc(0) : result.outcome.payload, headers };
}

/**
 * The caller's X-Ray header, if it is one (`Root=1-<8 hex>-<24 hex>`, then `;Key=Value` fields,
 * at most 256 characters); anything else is ignored, as Lambda starts a new trace then.
 */
export function readTraceHeader(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.length > 256) return undefined;
  return /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;[A-Za-z]+=[A-Za-z0-9-]*)*$/.test(raw.trim()) ? raw.trim() : undefined;
}

function checkEnum(value: string, field: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) {
    throw new StratusError('Validation', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`);
  }
}

/** Lambda accepts only JSON payloads; an empty body is passed on as {}. */
function checkPayload(body: Buffer): Buffer {
  if (body.length === 0) return Buffer.from('{}');
  try {
    JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new StratusError('InvalidRequestContent', `Could not parse request body into json: Could not parse payload into json: ${(err as Error).message}`);
  }
  return body;
}

function parseClientContext(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const text = Buffer.from(raw, 'base64').toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    throw new StratusError('InvalidRequestContent', 'Client context must be a valid Base64-encoded JSON object.');
  }
  return text;
}
