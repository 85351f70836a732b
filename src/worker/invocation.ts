/** What the frontend hands a worker for one invocation, and what it gets back. */
export interface Invocation {
  requestId: string;
  payload: Buffer;
  invokedFunctionArn: string;
  traceId: string;
  clientContext?: string;
  /** Return the last 4 KB of the invocation's log. */
  tailLog: boolean;
}

export type InvocationOutcome =
  | { kind: 'success'; payload: Buffer }
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
