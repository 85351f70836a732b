export { AsyncInvoker, eventSettings, type AsyncInvokerDeps, type EventSettings } from './async-invoker.js';
export { FUNCTION_ARN, newQueuedInvocation } from './async-event.js';
export type { RunInvocation, RunOutcome, RunRequest } from './runner.js';
