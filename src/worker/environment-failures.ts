import { errorDocument, type InvocationOutcome } from './invocation.js';

/** Why an environment died, rendered for the invocation that observes it (Lambda's error types and messages). */
export type Failure = { status: 'timeout' | 'error'; outcome(requestId: string): InvocationOutcome };

/** Signal descriptions as Lambda prints them ("signal: killed"). */
const SIGNAL_NAMES: Record<number, string> = {
  1: 'hangup', 2: 'interrupt', 3: 'quit', 4: 'illegal instruction', 5: 'trace/breakpoint trap', 6: 'aborted',
  7: 'bus error', 8: 'floating point exception', 9: 'killed', 11: 'segmentation fault', 13: 'broken pipe', 15: 'terminated',
};

/** stratus-init exits with the runtime's status, or 128 + the signal that killed it. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal: ${signal === 'SIGKILL' ? 'killed' : signal}`;
  if (code === null || code === 0) return '';
  const signo = code - 128;
  return signo > 0 && signo < 32 ? `signal: ${SIGNAL_NAMES[signo] ?? `signal ${signo}`}` : `exit status ${code}`;
}

export function exitFailure(code: number | null, signal: NodeJS.Signals | null): Failure {
  const status = exitStatus(code, signal);
  const message = status ? `Runtime exited with error: ${status}` : 'Runtime exited without providing a reason';
  return {
    status: 'error',
    outcome: (requestId) => ({
      kind: 'function-error',
      errorType: 'Runtime.ExitError',
      payload: errorDocument('Runtime.ExitError', `RequestId: ${requestId} Error: ${message}`),
    }),
  };
}

export function outOfMemoryFailure(): Failure {
  return {
    status: 'error',
    outcome: (requestId) => ({
      kind: 'function-error',
      errorType: 'Runtime.OutOfMemory',
      payload: errorDocument('Runtime.OutOfMemory', `RequestId: ${requestId} Error: Runtime exited with error: signal: killed`),
    }),
  };
}

/** Lambda's timeout of an invocation ('Task') or of the environment's init ('Init'). */
export function timeoutFailure(timeoutMs: number, what: 'Task' | 'Init' = 'Task'): Failure {
  const seconds = (timeoutMs / 1000).toFixed(2);
  return {
    status: 'timeout',
    outcome: (requestId) => ({
      kind: 'function-error',
      errorType: 'Sandbox.Timedout',
      payload: errorDocument('Sandbox.Timedout', `RequestId: ${requestId} Error: ${what} timed out after ${seconds} seconds`),
    }),
  };
}

/** An extension failed (Extension.Crash and the like): the invocation in flight, or the init, fails with it. */
export function extensionFailure(errorType: string, message: string): Failure {
  return { status: 'error', outcome: (requestId) => ({ kind: 'function-error', errorType, payload: errorDocument(errorType, `RequestId: ${requestId} Error: ${message}`) }) };
}
