import { LOGS_OPERATIONS, type LogsOperation, type LogsService } from '../../logs/index.js';
import { StratusError } from '../../shared/errors.js';
import { header, JSON_11_CONTENT_TYPE, logsErrorResponse, logsUnknownOperationResponse, type ApiRequest, type ApiResponse, type Route } from '../http/index.js';
import { callerAccount } from './caller.js';

export interface LogsRoutesDeps {
  logs: LogsService;
}

const TARGET_PREFIX = 'Logs_20140328.';
/** PutLogEvents takes 1 MB of events; their JSON (escapes, field names) may be several times that. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * CloudWatch Logs on the Lambda API's port, as AWS JSON 1.1: `POST /` with
 * `X-Amz-Target: Logs_20140328.<Operation>`, signed for the service `logs`. Every operation runs
 * for the account that signed it, and sees only that account's log groups.
 */
export function logsRoutes(deps: LogsRoutesDeps): Route[] {
  return [{
    method: 'POST', pattern: /^\/$/, body: MAX_BODY_BYTES, sigv4: true, service: 'logs', wire: 'json-1.1',
    handle: (req) => handle(deps, req),
  }];
}

async function handle(deps: LogsRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const target = header(req.headers, 'x-amz-target') ?? '';
  const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
  if (!(LOGS_OPERATIONS as readonly string[]).includes(operation)) return logsUnknownOperationResponse();
  try {
    const out = await deps.logs.call(callerAccount(req), operation as LogsOperation, parseBody(req.body));
    return { status: 200, body: out, headers: { 'content-type': JSON_11_CONTENT_TYPE } };
  } catch (err) {
    return logsErrorResponse(err);
  }
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new StratusError('InvalidRequestContent', 'The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StratusError('InvalidRequestContent', 'The request body must be a JSON object.');
  return value as Record<string, unknown>;
}
