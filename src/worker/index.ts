export type { WorkerAgent, WorkerStatus } from './agent.js';
export { LocalWorkerAgent, type LocalWorkerDeps } from './local-agent.js';
export { UnpackedZipCache, type TaskFiles } from './code-cache.js';
export type { FunctionLogSink } from './environment.js';
export { errorDocument, type Invocation, type InvocationOutcome, type InvocationResult, type ResponseSink } from './invocation.js';
export { RESERVED_ENV_KEYS } from './runtimes.js';
