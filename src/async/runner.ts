import type { FunctionVersion } from '../registry/index.js';
import type { InvocationResult } from '../worker/index.js';

/** One invocation of a queued event, as the consumer asks for it to be run. */
export interface RunRequest {
  /** The account that owns the function. */
  accountId: string;
  functionName: string;
  qualifier: string | undefined;
  requestId: string;
  payload: Buffer;
  clientContext?: string;
  tailLog: boolean;
  /** The caller's X-Ray trace header (X-Amzn-Trace-Id), already checked; absent: a new trace. */
  traceHeader?: string;
}

/** What ran and how it ended. */
export interface RunOutcome {
  version: FunctionVersion;
  result: InvocationResult;
}

/**
 * Runs one invocation to its end: resolve, acquire an environment, invoke, release (the
 * frontend's InvokeService, wired by the command line). A rejection is a platform failure
 * (the event is retried with back-off); a function error is an outcome.
 */
export type RunInvocation = (request: RunRequest) => Promise<RunOutcome>;
