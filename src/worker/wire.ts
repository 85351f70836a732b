import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { headerValue } from '../shared/http.js';
import { fromWireError, StratusError, toWireError } from '../shared/errors.js';
import { TRACEPARENT_HEADER, traceparentFrom } from '../shared/tracing.js';
import { environmentSpecSchema, type EnvironmentSpec } from './environment-spec.js';
import type { Invocation, InvocationOutcome, InvocationResult } from './invocation.js';

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

/** The fencing epoch of the assignment leadership a call acts for (see FencedWorkerAgent). */
export const EPOCH_HEADER = 'x-stratus-epoch';

/** Set on an invoke whose caller passes a streamed response on as it is produced. */
const STREAM_HEADER = 'x-stratus-response-stream';
/** Trailers of a streamed reply: a function error's document, or the platform error that ended it. */
const T = { payload: 'x-stratus-error-payload', error: 'x-stratus-error' } as const;

export function epochFrom(headers: IncomingHttpHeaders): number | undefined {
  const epoch = headerValue(headers, EPOCH_HEADER);
  if (epoch === undefined) return undefined;
  // Anything but a plain integer (NaN, Infinity) would reset or jam the fence.
  if (!/^\d{1,15}$/.test(epoch)) throw new StratusError('InvalidRequestContent', `malformed ${EPOCH_HEADER}: ${epoch.slice(0, 40)}`);
  return Number(epoch);
}

export function invocationHeaders(inv: Invocation): Record<string, string> {
  const headers: Record<string, string> = { [H.requestId]: inv.requestId, [H.arn]: inv.invokedFunctionArn, [H.trace]: inv.traceId, [H.tail]: String(inv.tailLog) };
  if (inv.clientContext !== undefined) headers[H.clientContext] = Buffer.from(inv.clientContext).toString('base64');
  if (inv.epoch !== undefined) headers[EPOCH_HEADER] = String(inv.epoch);
  if (inv.responseSink) headers[STREAM_HEADER] = 'true';
  if (inv.trace !== undefined) headers[TRACEPARENT_HEADER] = inv.trace;
  return headers;
}

/** The invocation a request carries (without its sink: see `wantsStream`). */
export function invocationFrom(headers: IncomingHttpHeaders, payload: Buffer): Invocation {
  const clientContext = headerValue(headers, H.clientContext);
  const trace = traceparentFrom(headers);
  return {
    requestId: headerValue(headers, H.requestId) ?? '',
    invokedFunctionArn: headerValue(headers, H.arn) ?? '',
    traceId: headerValue(headers, H.trace) ?? '',
    clientContext: clientContext === undefined ? undefined : Buffer.from(clientContext, 'base64').toString(),
    tailLog: headerValue(headers, H.tail) === 'true',
    payload,
    epoch: epochFrom(headers),
    ...(trace === undefined ? {} : { trace }),
  };
}

/** Whether the caller takes a streamed response as it is produced. */
export function wantsStream(headers: IncomingHttpHeaders): boolean {
  return headerValue(headers, STREAM_HEADER) === 'true';
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
  return {
    outcome: outcomeFrom(headers, payload),
    reusable: headerValue(headers, H.reusable) === 'true',
    durationMs: Number(headerValue(headers, H.duration) ?? 0),
    initDurationMs: init === undefined ? undefined : Number(init),
    logTail: headerValue(headers, H.logTail),
  };
}

const createEnvironmentRequest = z.object({
  envId: z.string().regex(/^[0-9a-f-]{36}$/),
  spec: environmentSpecSchema,
  opts: z.object({ initType: z.enum(['on-demand', 'provisioned-concurrency']).optional(), prewarm: z.boolean().optional() }).optional(),
});

export type CreateEnvironmentRequest = z.infer<typeof createEnvironmentRequest>;

/** The body of POST /environments, checked; a malformed one is InvalidRequestContent. */
export function parseCreateEnvironment(body: Buffer): CreateEnvironmentRequest {
  return parseBody(body, createEnvironmentRequest, 'environment');
}

/** A JSON body checked against `schema`; one that is not JSON or does not match is InvalidRequestContent. */
function parseBody<T>(body: Buffer, schema: z.ZodType<T, z.ZodTypeDef, unknown>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(body.toString());
  } catch (err) {
    throw new StratusError('InvalidRequestContent', `the ${what} request is not JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new StratusError('InvalidRequestContent', `malformed ${what} request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function outcomeFrom(headers: IncomingHttpHeaders, payload: Buffer): InvocationOutcome {
  const kind = headerValue(headers, H.outcome);
  const contentType = headerValue(headers, H.contentType);
  if (kind === 'function-error') return { kind, errorType: headerValue(headers, H.errorType) ?? 'Unhandled', payload };
  if (kind === 'streamed') return { kind, contentType: contentType ?? 'application/octet-stream' };
  return { kind: 'success', payload, ...(contentType ? { contentType } : {}) };
}

/**
 * The head of a streamed reply: the response has begun. Its result follows the body as trailers
 * (`streamTrailers`), since only then is it known.
 */
export function streamHeaders(contentType: string): Record<string, string> {
  return { 'content-type': 'application/octet-stream', [H.outcome]: 'streamed', [H.contentType]: contentType };
}

/** The contentType of a streamed reply, or undefined for a buffered one. */
export function streamedContentType(headers: IncomingHttpHeaders): string | undefined {
  return headerValue(headers, H.outcome) === 'streamed' ? headerValue(headers, H.contentType) ?? 'application/octet-stream' : undefined;
}

/** How a streamed invocation ended: its result (a function error with its document), or the error it failed with. */
export function streamTrailers(ended: { result: InvocationResult } | { error: unknown }): Record<string, string> {
  if ('error' in ended) return { [T.error]: Buffer.from(JSON.stringify(toWireError(ended.error))).toString('base64') };
  const trailers = resultHeaders(ended.result);
  if (ended.result.outcome.kind === 'function-error') trailers[T.payload] = ended.result.outcome.payload.toString('base64');
  return trailers;
}

/** The result the trailers of a streamed reply carry; throws the error they carry instead. */
export function resultFromTrailers(trailers: NodeJS.Dict<string>, workerId: string): InvocationResult {
  const error = trailers[T.error];
  if (error !== undefined) throw fromWireError(parseJson(Buffer.from(error, 'base64')), `worker ${workerId}: the invocation failed`);
  if (trailers[H.outcome] === undefined) throw new StratusError('WorkerUnavailable', `worker ${workerId} ended a streamed response without its result`);
  return resultFrom(trailers, Buffer.from(trailers[T.payload] ?? '', 'base64'));
}

/** A JSON document, or undefined if it is not one. */
export function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The sha256 of a snapshot's tar, answered with it by `POST /snapshots`. */
export const SNAPSHOT_SHA256_HEADER = 'x-stratus-snapshot-sha256';

/** The spec a `POST /snapshots` asks to checkpoint (the body: the spec as JSON). */
export function parseSnapshotRequest(body: Buffer): EnvironmentSpec {
  return parseBody(body, environmentSpecSchema, 'snapshot');
}
