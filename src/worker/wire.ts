import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { headerValue } from '../shared/http.js';
import { StratusError } from '../shared/errors.js';
import { environmentSpecSchema } from './environment-spec.js';
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

/** The fencing epoch of the assignment leadership a request acts for (see WorkerApiServer). */
export const EPOCH_HEADER = 'x-stratus-epoch';

export function invocationHeaders(inv: Invocation): Record<string, string> {
  const headers: Record<string, string> = { [H.requestId]: inv.requestId, [H.arn]: inv.invokedFunctionArn, [H.trace]: inv.traceId, [H.tail]: String(inv.tailLog) };
  if (inv.clientContext !== undefined) headers[H.clientContext] = Buffer.from(inv.clientContext).toString('base64');
  if (inv.epoch !== undefined) headers[EPOCH_HEADER] = String(inv.epoch);
  return headers;
}

export function invocationFrom(headers: IncomingHttpHeaders, payload: Buffer): Invocation {
  const clientContext = headerValue(headers, H.clientContext);
  return {
    requestId: headerValue(headers, H.requestId) ?? '',
    invokedFunctionArn: headerValue(headers, H.arn) ?? '',
    traceId: headerValue(headers, H.trace) ?? '',
    clientContext: clientContext === undefined ? undefined : Buffer.from(clientContext, 'base64').toString(),
    tailLog: headerValue(headers, H.tail) === 'true',
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
  const init = headerValue(headers, H.init);
  const contentType = headerValue(headers, H.contentType);
  return {
    outcome: headerValue(headers, H.outcome) === 'function-error'
      ? { kind: 'function-error', errorType: headerValue(headers, H.errorType) ?? 'Unhandled', payload }
      : { kind: 'success', payload, ...(contentType ? { contentType } : {}) },
    reusable: headerValue(headers, H.reusable) === 'true',
    durationMs: Number(headerValue(headers, H.duration) ?? 0),
    initDurationMs: init === undefined ? undefined : Number(init),
    logTail: headerValue(headers, H.logTail),
  };
}

const createEnvironmentRequest = z.object({
  envId: z.string().regex(/^[0-9a-f-]{36}$/),
  spec: environmentSpecSchema,
  opts: z.object({ initType: z.enum(['on-demand', 'provisioned-concurrency']).optional() }).optional(),
});

export type CreateEnvironmentRequest = z.infer<typeof createEnvironmentRequest>;

/** The body of POST /environments, checked; a malformed one is InvalidRequestContent. */
export function parseCreateEnvironment(body: Buffer): CreateEnvironmentRequest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString());
  } catch (err) {
    throw new StratusError('InvalidRequestContent', `the environment request is not JSON: ${(err as Error).message}`);
  }
  const parsed = createEnvironmentRequest.safeParse(json);
  if (!parsed.success) throw new StratusError('InvalidRequestContent', `malformed environment request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
