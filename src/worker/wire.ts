import type { IncomingHttpHeaders } from 'node:http';
import type { Invocation, InvocationResult } from './invocation.js';

/**
 * How an invocation and its result cross the network between the control plane and a worker
 * agent: the payload is the raw HTTP body both ways, everything else travels in headers.
 */
export const WORKER_API = '/worker/v1';

const H = {
  requestId: 'x-stratus-request-id',
  arn: 'x-stratus-invoked-function-arn',
  trace: 'x-stratus-trace-id',
  clientContext: 'x-stratus-client-context',
  tail: 'x-stratus-tail-log',
  outcome: 'x-stratus-outcome',
  errorType: 'x-stratus-error-type',
  reusable: 'x-stratus-reusable',
  duration: 'x-stratus-duration-ms',
  init: 'x-stratus-init-duration-ms',
  logTail: 'x-stratus-log-tail',
  contentType: 'x-stratus-content-type',
} as const;

function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function invocationHeaders(inv: Invocation): Record<string, string> {
  const headers: Record<string, string> = { [H.requestId]: inv.requestId, [H.arn]: inv.invokedFunctionArn, [H.trace]: inv.traceId, [H.tail]: String(inv.tailLog) };
  if (inv.clientContext !== undefined) headers[H.clientContext] = Buffer.from(inv.clientContext).toString('base64');
  return headers;
}

export function invocationFrom(headers: IncomingHttpHeaders, payload: Buffer): Invocation {
  const clientContext = one(headers, H.clientContext);
  return {
    requestId: one(headers, H.requestId) ?? '',
    invokedFunctionArn: one(headers, H.arn) ?? '',
    traceId: one(headers, H.trace) ?? '',
    clientContext: clientContext === undefined ? undefined : Buffer.from(clientContext, 'base64').toString(),
    tailLog: one(headers, H.tail) === 'true',
    payload,
  };
}

/** The bytes of a buffered outcome (a streamed one has already gone to its sink). */
export function outcomePayload(r: InvocationResult): Buffer {
  return r.outcome.kind === 'streamed' ? Buffer.alloc(0) : r.outcome.payload;
}

export function resultHeaders(r: InvocationResult): Record<string, string> {
  const headers: Record<string, string> = { [H.outcome]: r.outcome.kind, [H.reusable]: String(r.reusable), [H.duration]: String(r.durationMs) };
  if (r.outcome.kind === 'function-error') headers[H.errorType] = r.outcome.errorType;
  if (r.outcome.kind !== 'function-error' && r.outcome.contentType) headers[H.contentType] = r.outcome.contentType;
  if (r.initDurationMs !== undefined) headers[H.init] = String(r.initDurationMs);
  if (r.logTail !== undefined) headers[H.logTail] = r.logTail;
  return headers;
}

export function resultFrom(headers: IncomingHttpHeaders, payload: Buffer): InvocationResult {
  const init = one(headers, H.init);
  const contentType = one(headers, H.contentType);
  return {
    outcome: one(headers, H.outcome) === 'function-error'
      ? { kind: 'function-error', errorType: one(headers, H.errorType) ?? 'Unhandled', payload }
      : { kind: 'success', payload, ...(contentType ? { contentType } : {}) },
    reusable: one(headers, H.reusable) === 'true',
    durationMs: Number(one(headers, H.duration) ?? 0),
    initDurationMs: init === undefined ? undefined : Number(init),
    logTail: one(headers, H.logTail),
  };
}
