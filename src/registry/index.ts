export { FunctionRegistry, type FunctionSettings, type RegistryDeps } from './functions.js';
export { environmentKey, isSupportedRuntime, SUPPORTED_RUNTIMES, type FunctionRecord, type FunctionVersion, type RuntimeId } from './model.js';
