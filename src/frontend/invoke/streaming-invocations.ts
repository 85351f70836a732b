import { errorMessage } from '../../shared/errors.js';
import { StreamRelay, type InvocationOutcome } from '../../worker/index.js';
import { invokeComplete, payloadChunk, type InvokeComplete } from './eventstream.js';
import type { InvokeOutcome, InvokeService } from './invoke-service.js';
import { readInvokeRequest, type CrossAccountCheck } from './invocations.js';
import type { ApiRequest, ApiResponse, Route } from '../http/index.js';

export interface StreamingInvocationRoutesDeps {
  invoker: InvokeService;
  mayInvoke: CrossAccountCheck;
  maxPayloadBytes: number;
}

const INVOCATION_TYPES = ['RequestResponse', 'DryRun'];

/** InvokeWithResponseStream: POST /2021-11-15/functions/{name}/response-streaming-invocations */
export function streamingInvocationRoutes(deps: StreamingInvocationRoutesDeps): Route[] {
  return [{
    method: 'POST',
    pattern: /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations\/?$/,
    body: deps.maxPayloadBytes,
    tooLargeMessage: `Request must be smaller than ${deps.maxPayloadBytes} bytes for the InvokeWithResponseStream operation`,
    sigv4: true,
    handle: (req) => invokeStreaming(deps, req),
  }];
}

/**
 * Answers 200 as soon as the function starts streaming (or has finished), then sends every chunk
 * as a PayloadChunk event the moment the worker passes it on, and ends with InvokeComplete.
 * Errors before the function runs (unknown function, throttling) are ordinary API errors.
 */
async function invokeStreaming(deps: StreamingInvocationRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const { type, request } = readInvokeRequest(req, INVOCATION_TYPES, deps.mayInvoke);
  const version = deps.invoker.resolve(request);
  const headers = { 'x-amz-executed-version': version.version, 'content-type': 'application/vnd.amazon.eventstream' };
  if (type === 'DryRun') return { status: 204, headers: { 'x-amz-executed-version': version.version } };
  const relay = new StreamRelay();
  const running = deps.invoker.invoke({ ...request, responseSink: relay, invocationType: 'ResponseStream' }, version);
  running.then(() => relay.end(), () => relay.end());
  await Promise.race([relay.opened, running]);
  return { status: 200, headers, body: { chunks: events(relay, running), cancel: () => relay.cancel() } };
}

async function* events(relay: StreamRelay, running: Promise<InvokeOutcome>): AsyncGenerator<Buffer> {
  for await (const chunk of relay.chunks) yield payloadChunk(chunk);
  let outcome: InvokeOutcome;
  try {
    outcome = await running;
  } catch (err) {
    yield invokeComplete({ ErrorCode: 'ServiceException', ErrorDetails: errorMessage(err) });
    return;
  }
  const { outcome: result, logTail } = outcome.result;
  if (result.kind === 'success' && result.payload.length > 0) yield payloadChunk(result.payload);
  yield invokeComplete({ ...completion(result), ...(logTail !== undefined ? { LogResult: logTail } : {}) });
}

/** A function error shows as its type and message (the stream may already have carried data). */
function completion(outcome: InvocationOutcome): InvokeComplete {
  if (outcome.kind !== 'function-error') return {};
  let details = outcome.payload.toString('utf8');
  try {
    const doc = JSON.parse(details) as { errorMessage?: unknown };
    if (typeof doc.errorMessage === 'string') details = doc.errorMessage;
  } catch {
    // Not Lambda's error document: pass it on as it is.
  }
  return { ErrorCode: outcome.errorType, ErrorDetails: details };
}
