import type { Writable } from 'node:stream';

/** What the frontend hands a worker for one invocation, and what it gets back. */
export interface Invocation {
  requestId: string;
  payload: Buffer;
  invokedFunctionArn: string;
  traceId: string;
  clientContext?: string;
  /** Return the last 4 KB of the invocation's log. */
  tailLog: boolean;
  /**
   * Set by callers that can pass a response on as it is produced (InvokeWithResponseStream,
   * streaming function URLs). Without it a streamed response is buffered like any other.
   */
  responseSink?: ResponseSink;
  /** The fencing epoch of the assignment leadership that granted the environment (a cluster). */
  epoch?: number;
  /** The invoke's span (a W3C traceparent), when the invoke is traced. */
  trace?: string;
}

/**
 * Where a streamed response goes. `open` is called once, when the runtime has produced its first
 * bytes; the stream it returns receives them with back-pressure. The worker never ends that
 * stream: the invocation's result says how the response ended.
 */
export interface ResponseSink {
  open(contentType: string): Writable;
}

export type InvocationOutcome =
  /** `contentType` is set when the runtime streamed the payload (it was buffered here). */
  | { kind: 'success'; payload: Buffer; contentType?: string }
  /** The payload went to the invocation's responseSink as it was produced. */
  | { kind: 'streamed'; contentType: string }
  /** A function error: the payload is the JSON error document the caller receives. */
  | { kind: 'function-error'; errorType: string; payload: Buffer };

export interface InvocationResult {
  outcome: InvocationOutcome;
  /** Base64 of the log tail when requested. */
  logTail?: string;
  /** False when the environment did not survive the invocation (timeout, crash, init error). */
  reusable: boolean;
  initDurationMs?: number;
  durationMs: number;
}

/** Lambda's error document, as a function error payload. */
export function errorDocument(errorType: string, errorMessage: string, trace?: string[]): Buffer {
  return Buffer.from(JSON.stringify(trace ? { errorType, errorMessage, trace } : { errorType, errorMessage }));
}
