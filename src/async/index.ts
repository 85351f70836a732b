export { AsyncInvoker, eventSettings, type AsyncInvokerDeps, type EventSettings } from './async-invoker.js';
export { functionTarget, FUNCTION_ARN, newQueuedInvocation, type FunctionTarget } from './async-event.js';
export type { RunInvocation, RunOutcome, RunRequest } from './runner.js';
