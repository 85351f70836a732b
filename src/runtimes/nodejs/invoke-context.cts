/**
 * Builds the handler's `context` from the invocation headers and environment,
 * as the official runtime client's InvokeContext does.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CallbackContext } from './callback-context.cjs';

const HEADER = {
  clientContext: 'lambda-runtime-client-context',
  cognitoIdentity: 'lambda-runtime-cognito-identity',
  arn: 'lambda-runtime-invoked-function-arn',
  requestId: 'lambda-runtime-aws-request-id',
  deadlineMs: 'lambda-runtime-deadline-ms',
  traceId: 'lambda-runtime-trace-id',
  tenantId: 'lambda-runtime-aws-tenant-id',
} as const;

/** What the context adds, for callback and streaming handlers alike. */
export interface InvokeData {
  functionName: string | undefined;
  functionVersion: string | undefined;
  memoryLimitInMB: string | undefined;
  logGroupName: string | undefined;
  logStreamName: string | undefined;
  invokedFunctionArn: string | undefined;
  awsRequestId: string;
  tenantId: string | undefined;
  clientContext: unknown;
  identity: unknown;
  getRemainingTimeInMillis(): number;
}

export interface LambdaContext extends CallbackContext, InvokeData {}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseJson(value: string | undefined, name: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${String(err)}`);
  }
}

/** The request id of an invocation; throws when the header is missing. */
export function invokeId(headers: IncomingHttpHeaders): string {
  const id = header(headers, HEADER.requestId);
  if (!id) throw new Error('invocation id is missing or invalid');
  return id;
}

/** Sets or clears _X_AMZN_TRACE_ID for this invocation. */
export function forwardTraceId(headers: IncomingHttpHeaders): void {
  const trace = header(headers, HEADER.traceId);
  if (trace) process.env['_X_AMZN_TRACE_ID'] = trace;
  else delete process.env['_X_AMZN_TRACE_ID'];
}

/**
 * Attach environment and header data to the callback context (mutating it, so
 * its callbackWaitsForEmptyEventLoop accessor stays live). Throws if the
 * client-context or cognito-identity headers are not JSON.
 */
export function attachInvokeData<C extends object>(
  callbackContext: C,
  headers: IncomingHttpHeaders,
  env: NodeJS.ProcessEnv = process.env,
): C & InvokeData {
  const deadline = Number(header(headers, HEADER.deadlineMs));
  forwardTraceId(headers);
  return Object.assign(callbackContext, {
    functionVersion: env['AWS_LAMBDA_FUNCTION_VERSION'],
    functionName: env['AWS_LAMBDA_FUNCTION_NAME'],
    memoryLimitInMB: env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'],
    logGroupName: env['AWS_LAMBDA_LOG_GROUP_NAME'],
    logStreamName: env['AWS_LAMBDA_LOG_STREAM_NAME'],
    clientContext: parseJson(header(headers, HEADER.clientContext), 'ClientContext'),
    identity: parseJson(header(headers, HEADER.cognitoIdentity), 'CognitoIdentity'),
    invokedFunctionArn: header(headers, HEADER.arn),
    awsRequestId: invokeId(headers),
    tenantId: header(headers, HEADER.tenantId),
    getRemainingTimeInMillis: (): number => deadline - Date.now(),
  });
}
