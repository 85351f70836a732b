export { FrontendServer, type FrontendServerDeps } from './server.js';
export { functionRoutes, type FunctionRoutesDeps } from './functions.js';
export { invocationRoutes, type InvocationRoutesDeps } from './invocations.js';
export { InvokeService, type InvokeRequest, type InvokeOutcome } from './invoke-service.js';
export { AsyncInvoker } from './async-invoker.js';
export { verifySigV4, type CredentialLookup } from './sigv4.js';
